"""The run_timeline read model: every event of a run, in version order, for the run's events endpoint."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import orjson

from events.catalogue import RecordedEvent
from events.codec import payload_dict
from events.pg import Connection
from projections.nodes import node_of

TABLE = "run_timeline"
TABLES = (TABLE,)


async def apply(connection: Connection, events: Sequence[RecordedEvent], names: Mapping[str, str]) -> None:
    """Insert each event once; (run id, version) is the key, so redelivered events change nothing."""
    if not events:
        return
    await connection.execute(
        f"""
        INSERT INTO {names[TABLE]} (run_id, version, position, type, node_id, recorded_at, data)
        SELECT run_id, version, position, type, node_id, recorded_at, data::jsonb
        FROM unnest($1::uuid[], $2::int[], $3::bigint[], $4::text[], $5::text[], $6::timestamptz[],
                    $7::text[])
             AS t(run_id, version, position, type, node_id, recorded_at, data)
        ON CONFLICT (run_id, version) DO NOTHING
        """,
        [e.run_id for e in events],
        [e.version for e in events],
        [e.position for e in events],
        [e.event.type for e in events],
        [node_of(e.event) for e in events],
        [e.recorded_at for e in events],
        [orjson.dumps(payload_dict(e.event)).decode() for e in events],
    )
