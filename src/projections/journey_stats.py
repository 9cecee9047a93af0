"""The journey_stats read model: per journey version and node, how many runs entered, ended and wait there.

Counters only stay exact if each event is counted once: journey_stats_progress keeps, per run, the highest
version counted (and where the run sleeps), and an event at or below that version is a redelivery: skipped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from uuid import UUID

from domain.waits import QUIET_HOURS
from events.catalogue import (
    ConditionEvaluated,
    DelayStarted,
    MessageDelivered,
    MessageFailed,
    MessageRequested,
    RecordedEvent,
    RunCancelled,
    RunCompleted,
    RunEvent,
    RunEventClass,
    RunFailed,
    RunStarted,
    ends_delay,
    node_of,
)
from events.pg import Connection, Queryable
from events.tenancy import DEFAULT_TENANT_ID

TABLE = "journey_stats"
PROGRESS = "journey_stats_progress"
TABLES = (TABLE, PROGRESS)
COUNTERS = (
    "entered",
    "completed",
    "failed",
    "cancelled",
    "waiting",
    "messages_requested",
    "messages_delivered",
    "messages_failed",
)

# The counters one event adds 1 to, at the node it names.
_COUNTS: dict[RunEventClass, tuple[str, ...]] = {
    MessageRequested: ("entered", "messages_requested"),
    ConditionEvaluated: ("entered",),
    DelayStarted: ("entered", "waiting"),
    MessageDelivered: ("messages_delivered",),
    MessageFailed: ("messages_failed",),
    RunCompleted: ("completed",),
    RunFailed: ("failed",),
    RunCancelled: ("cancelled",),
}

Key = tuple[UUID, int, str]  # journey id, journey version, node id


def _counters(event: RunEvent) -> tuple[str, ...]:
    """A quiet-hours wait is not an entry of its MESSAGE node (its MessageRequested is); a receipt is not a
    second delivery."""
    if isinstance(event, DelayStarted) and event.reason == QUIET_HOURS:
        return ("waiting",)
    if isinstance(event, MessageDelivered) and event.source == "receipt":
        return ()
    return _COUNTS.get(type(event), ())


@dataclass(frozen=True)
class RunProgress:
    journey_id: UUID
    journey_version: int
    version: int
    waiting_node_id: str | None


async def apply(connection: Connection, events: Sequence[RecordedEvent], names: Mapping[str, str]) -> None:
    if not events:
        return
    progress = await _load_progress(connection, names[PROGRESS], {e.run_id for e in events})
    deltas: dict[Key, Counter[str]] = {}
    for event in events:
        run = progress.get(event.run_id)
        if isinstance(event.event, RunStarted) and run is None:
            run = RunProgress(event.event.journey_id, event.event.journey_version, 0, None)
        if run is None or event.version <= run.version:
            continue  # counted before, or a run whose start this projection never saw
        progress[event.run_id] = _count(deltas, run, event)
    await _save_deltas(connection, names[TABLE], deltas)
    await _save_progress(connection, names[PROGRESS], progress)


def _count(deltas: dict[Key, Counter[str]], run: RunProgress, event: RecordedEvent) -> RunProgress:
    def add(node: str, counter: str, amount: int = 1) -> None:
        deltas.setdefault((run.journey_id, run.journey_version, node), Counter())[counter] += amount

    node = node_of(event.event)
    for counter in _counters(event.event):
        if node is not None:
            add(node, counter)
    waiting = run.waiting_node_id
    if waiting is not None and ends_delay(event.event):
        add(waiting, "waiting", -1)
        waiting = None
    if isinstance(event.event, DelayStarted):
        waiting = node
    return replace(run, version=event.version, waiting_node_id=waiting)


async def _load_progress(
    connection: Connection, table: str, run_ids: Iterable[UUID]
) -> dict[UUID, RunProgress]:
    rows = await connection.fetch(
        f"SELECT run_id, journey_id, journey_version, version, waiting_node_id FROM {table}"
        " WHERE run_id = ANY($1::uuid[]) ORDER BY run_id FOR UPDATE",
        list(run_ids),
    )
    return {
        row["run_id"]: RunProgress(
            row["journey_id"], row["journey_version"], row["version"], row["waiting_node_id"]
        )
        for row in rows
    }


# A run is its journey's tenant's (the trigger found the journey in the caller's tenant); a journey
# the table does not know (runs appended without one, in tests) counts in the default tenant.
_JOURNEY_TENANT = f"""coalesce(
    (SELECT j.tenant_id FROM journeys j WHERE j.journey_id = t.journey_id AND j.version = t.journey_version),
    '{DEFAULT_TENANT_ID}'::uuid)"""


async def _save_progress(connection: Connection, table: str, progress: Mapping[UUID, RunProgress]) -> None:
    runs = sorted(progress.items())
    await connection.execute(
        f"""
        INSERT INTO {table} (run_id, journey_id, journey_version, version, waiting_node_id, tenant_id)
        SELECT *, {_JOURNEY_TENANT}
        FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::int[], $5::text[])
             AS t(run_id, journey_id, journey_version, version, waiting_node_id)
        ON CONFLICT (run_id) DO UPDATE
        SET version = excluded.version, waiting_node_id = excluded.waiting_node_id
        WHERE {table}.version < excluded.version
        """,
        [run_id for run_id, _ in runs],
        [p.journey_id for _, p in runs],
        [p.journey_version for _, p in runs],
        [p.version for _, p in runs],
        [p.waiting_node_id for _, p in runs],
    )


async def _save_deltas(connection: Connection, table: str, deltas: Mapping[Key, Counter[str]]) -> None:
    if not deltas:
        return
    keys = sorted(deltas)
    columns = ", ".join(COUNTERS)
    arrays = ", ".join(f"${i}::bigint[]" for i in range(4, 4 + len(COUNTERS)))
    updates = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in COUNTERS)
    await connection.execute(
        f"""
        INSERT INTO {table} (journey_id, journey_version, node_id, {columns}, tenant_id)
        SELECT *, {_JOURNEY_TENANT}
        FROM unnest($1::uuid[], $2::int[], $3::text[], {arrays})
             AS t(journey_id, journey_version, node_id, {columns})
        ON CONFLICT (journey_id, journey_version, node_id) DO UPDATE SET {updates}
        """,
        [k[0] for k in keys],
        [k[1] for k in keys],
        [k[2] for k in keys],
        *[[deltas[k][c] for k in keys] for c in COUNTERS],
    )


async def read_stats(db: Queryable, journey_id: UUID) -> dict[int, list[dict[str, object]]]:
    """Per journey version, the node rows (node_id plus every counter), ordered by node id."""
    rows = await db.fetch(
        f"SELECT journey_version, node_id, {', '.join(COUNTERS)} FROM {TABLE}"
        " WHERE journey_id = $1 ORDER BY journey_version, node_id",
        journey_id,
    )
    by_version: dict[int, list[dict[str, object]]] = {}
    for row in rows:
        by_version.setdefault(row["journey_version"], []).append(
            {"node_id": row["node_id"], **{counter: row[counter] for counter in COUNTERS}}
        )
    return by_version
