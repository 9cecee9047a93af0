"""The relay stores its checkpoint at most once an interval while it publishes, and at once when it has caught
up or stops; a crash between stores only republishes (tests/integration/test_crash_recovery.py)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import asyncpg

from events.feed import FeedPosition, load_checkpoint
from events.relay import Relay
from events.relay_checkpoint import CHECKPOINT_NAME
from pjs.settings import Settings
from pjs.wiring import event_store
from support.relay import append_runs, relay_config, running
from support.roles import eventually

RUNS = 100  # 300 events, published one per page: hundreds of pages in a row
LONG_INTERVAL = 60.0


async def _feed_order(pool: asyncpg.Pool) -> list[FeedPosition]:
    rows = await pool.fetch(
        "SELECT transaction_id::text::bigint AS transaction_id, position FROM events"
        " ORDER BY transaction_id, position"
    )
    return [FeedPosition(row["transaction_id"], row["position"]) for row in rows]


def _one_per_page(settings: Settings) -> Relay:
    return Relay(replace(relay_config(settings), batch_size=1, checkpoint_seconds=LONG_INTERVAL))


async def test_while_publishing_the_checkpoint_waits_for_its_interval_and_a_stop_stores_how_far_it_got(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    await append_runs(event_store(pool), runs=RUNS)
    feed = await _feed_order(pool)
    relay = _one_per_page(settings)

    async with running(relay):
        await eventually(lambda: _published_at_least(relay, 20), seconds=30)
        stored_while_publishing = await load_checkpoint(pool, CHECKPOINT_NAME)

    assert relay.published < len(feed), "the relay was still publishing when it stopped"
    assert stored_while_publishing == feed[0]  # the first page's store, none after it within the interval
    assert await load_checkpoint(pool, CHECKPOINT_NAME) == feed[relay.published - 1]


async def test_a_relay_that_caught_up_has_stored_how_far_it_got(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    await append_runs(event_store(pool), runs=10)
    feed = await _feed_order(pool)
    relay = _one_per_page(settings)

    async with running(relay):
        await eventually(lambda: _published_at_least(relay, len(feed)), seconds=30)
        await eventually(lambda: _stored_is(pool, feed[-1]), seconds=10)


async def _published_at_least(relay: Relay, events: int) -> bool:
    await asyncio.sleep(0)
    return relay.published >= events


async def _stored_is(pool: asyncpg.Pool, position: FeedPosition) -> bool:
    return await load_checkpoint(pool, CHECKPOINT_NAME) == position
