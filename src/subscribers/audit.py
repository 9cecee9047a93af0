"""The audit subscriber: every run event into the append-only audit_log (who, what, when, for whom).

Journey changes reach the same table through a database trigger on the journeys table; the API records
who asked for each write and each read of patient data (`record_accesses`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import orjson

from events.append_statement import WRITTEN_RUNS, AlongsideWrite
from events.catalogue import RecordedEvent, node_of
from events.codec import payload_dict
from events.consumer_group import GroupLoop
from events.dead_letters import PostgresDeadLetters
from events.group_config import GroupConfig
from events.pg import Queryable
from events.tenancy import DEFAULT_TENANT_ID


async def record(db: Queryable, events: Sequence[RecordedEvent]) -> None:
    """Insert one audit row per event; an event audited before is skipped (its id is the row's source)."""
    if not events:
        return
    # Each event's run is looked up on its own, by the primary key (the LIMIT keeps Postgres from folding
    # the lookup into a join): joined to the events, a plan made while run_status was near empty (cached
    # for the session) hashed every run's status on each batch.
    await db.execute(
        """
        INSERT INTO audit_log (source_id, run_id, patient_id, journey_id, actor, action, occurred_at, details,
                               tenant_id)
        SELECT t.source_id, t.run_id, s.patient_id, s.journey_id, t.actor, t.action, t.occurred_at,
               t.details::jsonb, coalesce(t.tenant_id, $8)
        FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::text[],
                    $7::uuid[])
             WITH ORDINALITY
             AS t(source_id, run_id, actor, action, occurred_at, details, tenant_id, batch_order)
        LEFT JOIN LATERAL (
            SELECT r.patient_id, r.journey_id FROM run_status r WHERE r.run_id = t.run_id LIMIT 1
        ) s ON true
        ORDER BY t.batch_order
        ON CONFLICT (source_id) DO NOTHING
        """,
        [f"event:{e.event_id}" for e in events],
        [e.run_id for e in events],
        [str(e.event.WRITTEN_BY) for e in events],
        [e.event.type for e in events],
        [e.recorded_at for e in events],
        [_details(e) for e in events],
        [e.tenant_id for e in events],
        DEFAULT_TENANT_ID,
    )


def _details(event: RecordedEvent) -> str:
    """What happened, without the patient context (the audit never holds patient data)."""
    details = {"version": event.version, "node_id": node_of(event.event)}
    payload = payload_dict(event.event)
    payload.pop("patient_context", None)
    return orjson.dumps({**payload, **details}).decode()


async def run_audit(config: GroupConfig, pool: asyncpg.Pool, stop: asyncio.Event) -> None:
    """The audit role: its own consumer group; offsets are committed after the rows (or dead letters) are."""

    async def handle(events: Sequence[RecordedEvent]) -> None:
        await record(pool, events)

    await GroupLoop(config, handle, PostgresDeadLetters(pool)).run(stop)


async def record_accesses(
    db: Queryable,
    acts: Sequence[tuple[str, UUID | None]],
    *,
    action: str,
    occurred_at: datetime,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Audit acts of API callers (each `actor`, e.g. key:<key id>, with the run it acted on): a write one
    asked for, or a read of patient data; one row each, one statement. Written in the callers' transaction,
    so in their tenant, and only if the acts commit."""
    await db.execute(_accesses(), *_access_args(acts, action, occurred_at, details))


def accesses_alongside(
    acts: Sequence[tuple[str, UUID]], *, action: str, occurred_at: datetime
) -> AlongsideWrite:
    """`record_accesses` in the statement of the append that starts the runs acted on: a row only for
    each act whose run that append wrote."""
    return AlongsideWrite(_accesses(alongside=True), tuple(_access_args(acts, action, occurred_at, None)))


def _accesses(*, alongside: bool = False) -> str:
    """The insert of one row per act; `alongside` an append, only the acts on runs it wrote, each in its
    run's tenant (else the transaction's, the column's default)."""
    tenant, join = (", tenant_id", f" JOIN {WRITTEN_RUNS} USING (run_id)") if alongside else ("", "")
    return (
        f"INSERT INTO audit_log (source_id, run_id, actor, action, occurred_at, details{tenant})"
        f" SELECT source_id, run_id, actor, $4, $5, $6::jsonb{tenant}"
        f" FROM unnest($1::text[], $2::uuid[], $3::text[]) AS acts(source_id, run_id, actor){join}"
    )


def _access_args(
    acts: Sequence[tuple[str, UUID | None]],
    action: str,
    occurred_at: datetime,
    details: Mapping[str, Any] | None,
) -> list[Any]:
    return [
        [f"access:{uuid4()}" for _ in acts],
        [run_id for _, run_id in acts],
        [actor for actor, _ in acts],
        action,
        occurred_at,
        orjson.dumps(details or {}).decode(),
    ]
