"""Crashes (SIGKILL) of the relay and of the projector lose nothing, repeat nothing, reorder nothing."""

from __future__ import annotations

import asyncio
import uuid
from uuid import UUID

import asyncpg

from events.catalogue import RecordedEvent
from pjs.settings import Settings
from pjs.wiring import REBUILDABLE, event_store
from projections.replay import rebuild
from support.database import settled
from support.kafka import read_topic
from support.roles import RoleProcess, eventually, in_process
from support.runs import delay, envelopes, message, run_started
from support.workload import write_mixed_workload


def assert_per_run_order_with_only_republished_duplicates(events: list[RecordedEvent]) -> None:
    """Per run, first sightings come in version order 1, 2, 3...; a repeat is of a version already seen."""
    highest: dict[UUID, int] = {}
    for event in events:
        seen = highest.get(event.run_id, 0)
        if event.version <= seen:
            continue  # a re-publication of an event already published: allowed, at least once
        assert event.version == seen + 1, f"run {event.run_id}: v{event.version} published after v{seen}"
        highest[event.run_id] = event.version


async def test_a_relay_killed_mid_stream_is_resumed_by_its_successor_without_loss_or_reordering(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    store = event_store(pool)
    runs = [uuid.uuid4() for _ in range(60)]

    async def write_steadily() -> None:
        for version, events in ((0, [run_started()]), (1, [message("a"), message("b")]), (3, [delay()])):
            for run_id in runs:
                await store.append(run_id, version, envelopes(run_id, version, events))
                await asyncio.sleep(0.002)

    writing = asyncio.create_task(write_steadily())
    first = RoleProcess("relay", settings, PJS_RELAY_BATCH_SIZE="7")
    try:
        await eventually(lambda: pool.fetchval("SELECT position > 0 FROM feed_checkpoints"), seconds=30)
    except BaseException:
        writing.cancel()
        raise
    finally:
        first.kill()  # however the wait ended: no relay outlives the test
    published_by_first = await pool.fetchval("SELECT position FROM feed_checkpoints")
    successor = RoleProcess("relay", settings, PJS_RELAY_BATCH_SIZE="7")
    try:
        await writing
        await settled(pool)
        committed = {row["event_id"] for row in await pool.fetch("SELECT event_id FROM events")}
        events, _ = await read_topic(
            settings.kafka_connection(),
            settings.run_events_topic,
            until=lambda seen: committed <= {e.event_id for e in seen},
            seconds=60,
        )
    finally:
        successor_exit = successor.stop()

    assert successor_exit == 0, "the successor relay did not stop cleanly"
    assert published_by_first < max(e.position for e in events), "the kill came mid-stream"
    assert {e.event_id for e in events} == committed
    assert len(committed) == len(runs) * 4
    assert_per_run_order_with_only_republished_duplicates(events)


async def test_a_projector_killed_mid_batch_applies_no_event_twice_and_skips_none(
    settings: Settings, pool: asyncpg.Pool, migration_pool: asyncpg.Pool
) -> None:
    await write_mixed_workload(event_store(pool), runs=40)
    total = await pool.fetchval("SELECT count(*) FROM events")
    async with in_process(settings, "relay"):
        first = RoleProcess("projector", settings, PJS_PROJECTOR_BATCH_SIZE="3")
        try:
            await eventually(lambda: pool.fetchval("SELECT count(*) > 20 FROM run_timeline"), seconds=30)
        finally:
            first.kill()  # however the wait ended: no projector outlives the test
        applied_at_kill = await pool.fetchval("SELECT count(*) FROM run_timeline")
        successor = RoleProcess("projector", settings, PJS_PROJECTOR_BATCH_SIZE="3")
        try:
            await eventually(
                lambda: pool.fetchval("SELECT count(*) = $1 FROM run_timeline", total), seconds=60
            )
        finally:
            successor_exit = successor.stop()

    assert successor_exit == 0, "the successor projector did not stop cleanly"
    assert applied_at_kill < total, "the kill came before the projector had finished"
    timeline = await pool.fetch("SELECT run_id, version, type FROM run_timeline ORDER BY run_id, version")
    stored = await pool.fetch("SELECT run_id, version, type FROM events ORDER BY run_id, version")
    assert timeline == stored
    counted = await pool.fetch("SELECT * FROM journey_stats ORDER BY node_id")
    await rebuild(migration_pool, REBUILDABLE["journey_stats"])  # the same counters, once from the store
    assert await pool.fetch("SELECT * FROM journey_stats ORDER BY node_id") == counted
