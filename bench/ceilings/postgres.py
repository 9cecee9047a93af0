"""The Postgres ceiling: plain batched INSERTs of event-shaped rows into a plain table, no store around."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import orjson

from bench.config import Sizes
from bench.measure import rate, run_workers

TABLE = "bench_raw_events"
PAYLOAD_BYTES = 300

# The events table's columns, without its secondary unique indexes, feed index and immutability trigger.
_CREATE = f"""
CREATE TABLE {TABLE} (
    position        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    event_id        uuid        NOT NULL,
    run_id          uuid        NOT NULL,
    version         integer     NOT NULL,
    type            text        NOT NULL,
    schema_version  integer     NOT NULL,
    data            jsonb       NOT NULL,
    metadata        jsonb       NOT NULL,
    recorded_at     timestamptz NOT NULL
)
"""

# The same multi-row INSERT ... SELECT FROM unnest(...) shape the store uses.
_INSERT = f"""
INSERT INTO {TABLE} (event_id, run_id, version, type, schema_version, data, metadata, recorded_at)
SELECT event_id, run_id, version, type, schema_version, data::jsonb, metadata::jsonb, recorded_at
FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::text[], $5::int[], $6::text[], $7::text[],
            $8::timestamptz[])
     AS t(event_id, run_id, version, type, schema_version, data, metadata, recorded_at)
"""

Columns = tuple[
    list[uuid.UUID], list[uuid.UUID], list[int], list[str], list[int], list[str], list[str], list[datetime]
]


@dataclass(frozen=True)
class PostgresCeiling:
    rows_per_s: float
    single_rows_per_s: float
    payload_bytes: int


def _payload(run_number: int) -> str:
    """A JSON object of about PAYLOAD_BYTES bytes, varied per row like real payloads."""
    head = {"node_id": "pre-op-sms", "run": run_number, "patient": f"patient-{run_number:09d}"}
    filler = "x" * max(PAYLOAD_BYTES - len(orjson.dumps({**head, "note": ""})), 0)
    return orjson.dumps({**head, "note": filler}).decode()


def _batch(run_number: int, size: int) -> Columns:
    """One INSERT's columns: `size` rows of one new run, versions 1..size, prepared before timing starts."""
    run = uuid.uuid4()
    now = datetime.now(UTC)
    metadata = orjson.dumps({"causation_id": None, "correlation_id": str(run)}).decode()
    return (
        [uuid.uuid4() for _ in range(size)],
        [run] * size,
        list(range(1, size + 1)),
        ["MessageRequested"] * size,
        [1] * size,
        [_payload(run_number)] * size,
        [metadata] * size,
        [now] * size,
    )


async def _insert_rate(pool: asyncpg.Pool, sizes: Sizes, rows: int, batch_rows: int) -> float:
    batches = [_batch(number, batch_rows) for number in range(rows // batch_rows)]

    async def insert(columns: Columns) -> None:
        await pool.execute(_INSERT, *columns)

    seconds = await run_workers(sizes.writers, batches, insert, sizes.phase_seconds)
    return rate(len(batches) * batch_rows, seconds)


async def measure(database_url: str, sizes: Sizes) -> PostgresCeiling:
    """Rows/s for `writers` connections inserting batches of `batch_events` rows, and one row at a time."""
    async with asyncpg.create_pool(database_url, min_size=sizes.writers, max_size=sizes.writers) as pool:
        await pool.execute(_CREATE)
        batched = await _insert_rate(pool, sizes, sizes.raw_rows, sizes.batch_events)
        single = await _insert_rate(pool, sizes, sizes.raw_single_rows, 1)
        await pool.execute(f"DROP TABLE {TABLE}")
    return PostgresCeiling(batched, single, len(_payload(0)))
