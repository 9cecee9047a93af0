"""Read models fed from Kafka by the projector group, and rebuilt from the store by replay."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg

from events.feed import FEED_START, save_checkpoint
from pjs.roles import group_config
from pjs.settings import Settings
from pjs.wiring import REBUILDABLE, event_store
from projections.projector import Projector
from projections.replay import rebuild
from support.roles import in_process, running_tasks
from support.workload import write_mixed_workload

SNAPSHOTS = {
    "run_status": "SELECT * FROM run_status ORDER BY run_id",
    "delays": "SELECT * FROM delays ORDER BY run_id",
    "run_timeline": "SELECT * FROM run_timeline ORDER BY run_id, version",
    "journey_stats": "SELECT * FROM journey_stats ORDER BY journey_id, journey_version, node_id",
    "journey_stats_progress": "SELECT * FROM journey_stats_progress ORDER BY run_id",
}


@contextlib.asynccontextmanager
async def pipeline(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[Projector]:
    """The relay role and a projector, running until the block ends."""
    config = group_config(settings, settings.projector_group, settings.projector_batch_size)
    projector = Projector(config, pool)
    async with in_process(settings, "relay"), running_tasks(projector.run):
        yield projector


async def wait_for_timeline(pool: asyncpg.Pool, events: int, seconds: float = 30) -> None:
    async with asyncio.timeout(seconds):
        while await pool.fetchval("SELECT count(*) FROM run_timeline") < events:
            await asyncio.sleep(0.1)


async def snapshot(pool: asyncpg.Pool) -> dict[str, list[asyncpg.Record]]:
    return {name: await pool.fetch(query) for name, query in SNAPSHOTS.items()}


async def test_the_projector_builds_timelines_and_stats_that_match_the_store(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    runs = await write_mixed_workload(event_store(pool), runs=20)
    total = await pool.fetchval("SELECT count(*) FROM events")

    async with pipeline(settings, pool):
        await wait_for_timeline(pool, total)

    timeline = await pool.fetch("SELECT run_id, version, type FROM run_timeline ORDER BY run_id, version")
    stored = await pool.fetch("SELECT run_id, version, type FROM events ORDER BY run_id, version")
    assert timeline == stored
    wait = await pool.fetchrow("SELECT * FROM journey_stats WHERE node_id = 'wait'")
    assert wait["entered"] == 20
    assert wait["waiting"] == len(runs["waiting"])
    assert wait["cancelled"] == len(runs["cancelled"])
    welcome = await pool.fetchrow("SELECT * FROM journey_stats WHERE node_id = 'welcome'")
    assert welcome["messages_requested"] == 20
    assert welcome["messages_failed"] == len(runs["failed"])
    assert welcome["messages_delivered"] == 20 - len(runs["failed"])
    reminder = await pool.fetchrow("SELECT * FROM journey_stats WHERE node_id = 'reminder'")
    assert reminder["completed"] == len(runs["completed"])


async def test_duplicate_kafka_deliveries_change_no_read_model(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    await write_mixed_workload(event_store(pool), runs=12)
    total = await pool.fetchval("SELECT count(*) FROM events")
    async with pipeline(settings, pool):
        await wait_for_timeline(pool, total)
    before = await snapshot(pool)

    # The relay forgets how far it got and publishes the whole store a second time.
    await save_checkpoint(pool, "kafka-relay", FEED_START)
    async with pipeline(settings, pool) as projector:
        async with asyncio.timeout(30):
            while projector.applied < total:
                await asyncio.sleep(0.1)

    assert await snapshot(pool) == before


async def test_rebuilding_every_projection_by_replay_gives_the_live_rows(
    settings: Settings, pool: asyncpg.Pool, migration_pool: asyncpg.Pool
) -> None:
    await write_mixed_workload(event_store(pool), runs=24)
    total = await pool.fetchval("SELECT count(*) FROM events")
    async with pipeline(settings, pool):
        await wait_for_timeline(pool, total)
    live = await snapshot(pool)
    assert all(live.values()), "every read model has rows to compare"

    for projection in REBUILDABLE.values():
        result = await rebuild(migration_pool, projection)
        assert result.events == total

    assert await snapshot(pool) == live
