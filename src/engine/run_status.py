"""The run_status table: each run's folded state (its head), kept inline with the append (read-your-writes).

Rows are the `RunState` that `domain.run_state.evolve` produces, so the API, the engine and a replay all agree
on what a run's state is. Applying an event whose version the row already has is a no-op.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from domain.run_state import RunState, RunStatus, StoredPatientContext, evolve, initial_state
from events.append_statement import WRITTEN_RUNS, AlongsideWrite
from events.catalogue import RecordedEvent, Sealed
from events.patient_vault import stored_context
from events.pg import Connection, Queryable
from events.store import AppendRequest
from events.tenancy import DEFAULT_TENANT_ID

TABLE = "run_status"
COLUMNS = (
    "run_id, version, status, journey_id, journey_version, current_node_id, patient_id, patient_context,"
    " resume_at, awaiting_decision, reason, created_at, updated_at, node_visits, patient_key_id, erased"
)


async def apply(connection: Connection, events: Sequence[RecordedEvent], table: str = TABLE) -> None:
    """Fold the batch's events into their runs' rows (one read, one write for the whole batch)."""
    if not events:
        return
    first_versions: dict[UUID, int] = {}  # each run's first version in the batch, runs in batch order
    for event in events:
        first_versions.setdefault(event.run_id, event.version)
    run_ids = list(first_versions)
    # A run whose events in the batch begin with its first has no row to read: it is folded from the start,
    # and the upsert's version guard keeps a row that is already further on (a redelivery) as it is.
    states = await load_states(
        connection, [run_id for run_id, first in first_versions.items() if first != 1], table, for_update=True
    )
    for event in events:
        state = states.get(event.run_id) or initial_state(event.run_id)
        if event.version <= state.version:
            continue  # already applied: replays and redeliveries change nothing
        states[event.run_id] = evolve(state, event)
    tenants = {event.run_id: event.tenant_id for event in events}
    await save_states(connection, [states[run_id] for run_id in run_ids if run_id in states], tenants, table)


class PostgresRunHeads:
    """The `RunHeads` port over this table: one query for any number of runs."""

    def __init__(self, db: Queryable) -> None:
        self._db = db

    async def load(self, run_ids: Collection[UUID]) -> dict[UUID, RunState]:
        return await load_states(self._db, run_ids)

    async def sealed_with(self, key_ids: Collection[UUID]) -> dict[UUID, RunState]:
        """The runs whose patient contexts are (or were, before an erasure) sealed with these keys."""
        rows = await self._db.fetch(
            f"SELECT {COLUMNS}, patient_context::text AS context_json FROM {TABLE}"
            " WHERE patient_key_id = ANY($1::uuid[]) ORDER BY run_id",
            list(key_ids),
        )
        return {row["run_id"]: state_from_row(row) for row in rows}


async def load_states(
    db: Queryable, run_ids: Iterable[UUID], table: str = TABLE, *, for_update: bool = False
) -> dict[UUID, RunState]:
    run_ids = list(run_ids)
    if not run_ids:
        return {}
    lock = " FOR UPDATE" if for_update else ""
    rows = await db.fetch(
        f"SELECT {COLUMNS}, patient_context::text AS context_json FROM {table}"
        f" WHERE run_id = ANY($1::uuid[]) ORDER BY run_id{lock}",
        run_ids,
    )
    return {row["run_id"]: state_from_row(row) for row in rows}


def state_from_row(row: asyncpg.Record) -> RunState:
    return RunState(
        run_id=row["run_id"],
        version=row["version"],
        status=RunStatus(row["status"]),
        journey_id=row["journey_id"],
        journey_version=row["journey_version"],
        current_node_id=row["current_node_id"],
        patient_context=_context_from_json(row["context_json"]),
        resume_at=row["resume_at"],
        awaiting_decision=row["awaiting_decision"],
        reason=row["reason"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        node_visits=orjson.loads(row["node_visits"]),
        patient_key_id=row["patient_key_id"],
        erased=row["erased"],
    )


def _context_from_json(text: str | None) -> StoredPatientContext:
    return None if text is None else stored_context(orjson.loads(text))


def context_json(context: StoredPatientContext) -> str | None:
    """The context as the row stores it: the sealed value, a legacy clear dict, or NULL once erased."""
    if context is None:
        return None
    if isinstance(context, Sealed):
        return context.model_dump_json()
    return orjson.dumps(dict(context)).decode()


async def save_states(
    connection: Connection,
    states: Sequence[RunState],
    tenants: Mapping[UUID, UUID | None],
    table: str = TABLE,
) -> None:
    """Upsert the rows; a new row is its run's tenant's (`tenants`, from the events; an update keeps it)."""
    started = [state for state in states if state.status is not None]
    if started:
        await connection.execute(_upsert(table), *_state_args(started, tenants))


def folded_alongside(requests: Sequence[AppendRequest]) -> AlongsideWrite | None:
    """The batch's rows folded before the append and written in its statement: a new run's from its
    request alone, a running run's onto the state its caller read at the version the request expects.
    The append writes a run only if that version is still its head, and a row is always the fold of its
    run's events up to its version, so that state is the head's. None if any request has neither (the
    batch's rows are then read, under the append's locks, and written after it)."""
    if len({request.run_id for request in requests}) != len(requests):
        return None  # one upsert cannot write a row twice
    states = []
    for request in requests:
        state = _state_before(request)
        if state is None:
            return None
        for event in request.events:
            state = evolve(state, event)
        states.append(state)
    started = [state for state in states if state.status is not None]
    if not started:
        return None
    return AlongsideWrite(_upsert(TABLE, alongside=True), tuple(_state_args(started, {})))


def _state_before(request: AppendRequest) -> RunState | None:
    if request.expected_version == 0:
        return initial_state(request.run_id)
    prior = request.prior
    if (
        isinstance(prior, RunState)
        and prior.run_id == request.run_id
        and prior.version == request.expected_version
    ):
        return prior
    return None


class RunStatusProjection:
    """`apply` as the store runs it inline, writing the rows in the append's statement where the requests
    say what the runs' states were (`folded_alongside`)."""

    async def __call__(self, connection: Connection, events: Sequence[RecordedEvent]) -> None:
        await apply(connection, events)

    def alongside(self, requests: Sequence[AppendRequest]) -> AlongsideWrite | None:
        return folded_alongside(requests)


def _upsert(table: str, *, alongside: bool = False) -> str:
    """The upsert of rows given as column arrays; `alongside` an append, only the runs it wrote, each in the
    tenant the append gave its events."""
    join = f" JOIN {WRITTEN_RUNS} AS w ON w.run_id = t.run_id" if alongside else ""
    tenant = "coalesce(w.tenant_id, $18)" if alongside else "coalesce(t.tenant_id, $18)"
    return f"""
        INSERT INTO {table} ({COLUMNS}, tenant_id)
        SELECT t.run_id, version, status, journey_id, journey_version, current_node_id, patient_id,
               patient_context::jsonb, resume_at, awaiting_decision, reason, created_at, updated_at,
               node_visits::jsonb, patient_key_id, erased, {tenant}
        FROM unnest($1::uuid[], $2::int[], $3::text[], $4::uuid[], $5::int[], $6::text[], $7::text[],
                    $8::text[], $9::timestamptz[], $10::bool[], $11::text[], $12::timestamptz[],
                    $13::timestamptz[], $14::text[], $15::uuid[], $16::bool[], $17::uuid[])
             AS t(run_id, version, status, journey_id, journey_version, current_node_id, patient_id,
                  patient_context, resume_at, awaiting_decision, reason, created_at, updated_at, node_visits,
                  patient_key_id, erased, tenant_id){join}
        ON CONFLICT (run_id) DO UPDATE SET
            version = excluded.version, status = excluded.status, current_node_id = excluded.current_node_id,
            resume_at = excluded.resume_at, awaiting_decision = excluded.awaiting_decision,
            reason = excluded.reason, updated_at = excluded.updated_at, node_visits = excluded.node_visits,
            patient_context = excluded.patient_context, patient_id = excluded.patient_id,
            erased = excluded.erased
        WHERE {table}.version < excluded.version
        """


def _state_args(started: Sequence[RunState], tenants: Mapping[UUID, UUID | None]) -> list[Any]:
    return [
        [s.run_id for s in started],
        [s.version for s in started],
        [str(s.status) for s in started],
        [s.journey_id for s in started],
        [s.journey_version for s in started],
        [s.current_node_id for s in started],
        [patient_id(s) for s in started],
        [context_json(s.patient_context) for s in started],
        [s.resume_at for s in started],
        [s.awaiting_decision for s in started],
        [s.reason for s in started],
        [s.created_at for s in started],
        [s.updated_at for s in started],
        [orjson.dumps(dict(s.node_visits)).decode() for s in started],
        [s.patient_key_id for s in started],
        [s.erased for s in started],
        [tenants.get(s.run_id) for s in started],
        DEFAULT_TENANT_ID,
    ]


def patient_id(state: RunState) -> str | None:
    """The clear patient id, kept only for legacy clear runs; a sealed run is found by its key."""
    context = state.patient_context
    if context is None or isinstance(context, Sealed):
        return None
    return str(context.get("id", ""))


async def read_run_counts(db: Queryable, journey_id: UUID) -> dict[int, dict[str, int]]:
    """Per journey version, how many runs are in each status (exact: run_status is written inline)."""
    rows = await db.fetch(
        "SELECT journey_version, status, count(*) AS runs FROM run_status WHERE journey_id = $1"
        " GROUP BY journey_version, status",
        journey_id,
    )
    counts: dict[int, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row["journey_version"], {})[row["status"]] = row["runs"]
    return counts
