"""The run_timeline read model: every event of a run, in version order, for the run's events endpoint."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from events.catalogue import PatientErased, RecordedEvent, node_of
from events.codec import payload_dict
from events.pg import Connection, Queryable
from events.store import PostgresEventStore
from events.tenancy import DEFAULT_TENANT_ID

TABLE = "run_timeline"
TABLES = (TABLE,)


async def apply(connection: Connection, events: Sequence[RecordedEvent], names: Mapping[str, str]) -> None:
    """Insert each event once; (run id, version) is the key, so redelivered events change nothing."""
    if not events:
        return
    await connection.execute(
        f"""
        INSERT INTO {names[TABLE]} (run_id, version, position, type, node_id, recorded_at, data, tenant_id)
        SELECT run_id, version, position, type, node_id, recorded_at, data::jsonb, coalesce(tenant_id, $9)
        FROM unnest($1::uuid[], $2::int[], $3::bigint[], $4::text[], $5::text[], $6::timestamptz[],
                    $7::text[], $8::uuid[])
             AS t(run_id, version, position, type, node_id, recorded_at, data, tenant_id)
        ON CONFLICT (run_id, version) DO NOTHING
        """,
        [e.run_id for e in events],
        [e.version for e in events],
        [e.position for e in events],
        [e.event.type for e in events],
        [node_of(e.event) for e in events],
        [e.recorded_at for e in events],
        [orjson.dumps(payload_dict(e.event)).decode() for e in events],
        [e.tenant_id for e in events],
        DEFAULT_TENANT_ID,
    )
    erased = [e.run_id for e in events if isinstance(e.event, PatientErased)]
    if erased:
        # Scrub even the ciphertext: an erased run's timeline keeps what happened, not to whom.
        await connection.execute(
            f"UPDATE {names[TABLE]} SET data = jsonb_set(data, '{{patient_context}}', 'null')"
            " WHERE run_id = ANY($1::uuid[]) AND type = 'RunStarted'",
            erased,
        )


@dataclass(frozen=True)
class TimelineEntry:
    type: str
    version: int
    recorded_at: datetime
    node_id: str | None
    data: dict[str, Any]


def entry_of(event: RecordedEvent) -> TimelineEntry:
    return TimelineEntry(
        event.event.type, event.version, event.recorded_at, node_of(event.event), payload_dict(event.event)
    )


async def read_page(
    db: Queryable, store: PostgresEventStore, run_id: UUID, after_version: int, limit: int
) -> list[TimelineEntry]:
    """Up to `limit` entries after `after_version`: from the projection, topped up from the store.

    The projection lags the store by the projector's delay; the versions it has not reached yet are read
    from the run's own stream, so a caller always sees every event already committed (read your writes).
    """
    rows = await db.fetch(
        f"SELECT type, version, recorded_at, node_id, data::text AS data FROM {TABLE}"
        " WHERE run_id = $1 AND version > $2 ORDER BY version LIMIT $3",
        run_id,
        after_version,
        limit,
    )
    entries = [
        TimelineEntry(r["type"], r["version"], r["recorded_at"], r["node_id"], orjson.loads(r["data"]))
        for r in rows
    ]
    projected_through = entries[-1].version if entries else after_version
    if len(entries) < limit:
        missing = await store.read_stream(run_id, projected_through, limit - len(entries))
        entries.extend(entry_of(event) for event in missing)
    return entries
