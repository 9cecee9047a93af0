"""`replay`: events/s of `projections.replay.rebuild` rebuilding `run_status` from the whole store.

The store is bulk-loaded (`bench.bulk`, COPY) with runs of five events, together with the `run_status`
rows the inline projection would have written for them. The rebuild must reproduce those rows exactly:
a table checksum taken before and after is compared, so a faster replay cannot be a wrong one.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from functools import partial

import asyncpg

from bench import bulk
from bench.bulk_check import check_against_store
from bench.errors import BenchFailure
from bench.measure import rate
from bench.scenario import Figures, Scenario, ScenarioContext
from events.key_ring import KeyRing, load_key_ring
from events.pg import Connection
from pjs.wiring import REBUILDABLE
from projections.replay import PAGE_SIZE, rebuild

_RUNS = {"quick": 10_000, "full": 200_000}  # x 5 events
_COHORT_RUNS = 2_000  # runs written version by version together, as the engine's batches interleave them
_STARTED = datetime.fromisoformat("2026-01-01T09:00:00+00:00")

_CHECKSUM = "SELECT md5(string_agg(r::text, '|' ORDER BY r.run_id)) FROM run_status r"


async def run(context: ScenarioContext) -> Figures:
    runs = _RUNS["quick" if context.config.quick else "full"]
    async with asyncpg.create_pool(context.sandbox.migration_database_url, min_size=1, max_size=2) as pool:
        async with pool.acquire() as connection:
            load_started = time.perf_counter()
            await _load(connection, load_key_ring(context.sandbox.master_key_file), runs)
            load_seconds = time.perf_counter() - load_started
            events = int(await connection.fetchval("SELECT count(*) FROM events"))
            live = await connection.fetchval(_CHECKSUM)
        started = time.perf_counter()
        result = await rebuild(pool, REBUILDABLE["run_status"])
        seconds = time.perf_counter() - started
        rebuilt = await pool.fetchval(_CHECKSUM)
    if result.events != events:
        raise BenchFailure(f"the rebuild applied {result.events} of {events} events")
    if rebuilt != live:
        raise BenchFailure("the rebuilt run_status differs from the rows the inline projection wrote")
    return {
        "events": events,
        "events_per_s": rate(events, seconds),
        "rebuild_seconds": round(seconds, 2),
        "runs": runs,
        "page_size": PAGE_SIZE,
        "load_seconds": round(load_seconds, 1),
    }


async def _load(connection: Connection, ring: KeyRing, runs: int) -> None:
    def started_at(number: int) -> datetime:
        return _STARTED + timedelta(seconds=number)

    builders = [
        partial(
            bulk.finished_delay_runs,
            ring,
            "replay",
            range(start, min(start + _COHORT_RUNS, runs)),
            started_at,
        )
        for start in range(0, runs, _COHORT_RUNS)
    ]
    await bulk.load(connection, builders)
    await check_against_store(
        connection, ring, [bulk.run_id("replay", n) for n in range(0, runs, runs // 50)]
    )
    # What autovacuum gives a store that grew slowly (hint bits, visibility map, statistics).
    await connection.execute("VACUUM (ANALYZE) events, run_status, patient_keys")


SCENARIO = Scenario(
    "replay", "rebuilding run_status by replaying 1M bulk-loaded events, checked against the live rows", run
)
