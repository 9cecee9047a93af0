"""The gapless feed: a reader tailing the store while writers commit out of order never skips an event."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Sequence

import asyncpg

from events.catalogue import RecordedEvent
from events.feed import FEED_START, FeedPosition, load_checkpoint, read_feed, save_checkpoint
from events.pg import Connection
from events.store import PostgresEventStore
from support.database import settled
from support.runs import envelopes, message, run_started

WRITERS = 12
APPENDS_PER_WRITER = 25


async def test_a_tailing_reader_sees_every_committed_event_once_despite_out_of_order_commits(
    pool: asyncpg.Pool,
) -> None:
    chance = random.Random(7)

    async def commit_after_a_random_delay(connection: Connection, events: Sequence[RecordedEvent]) -> None:
        # Positions are taken at insert; holding the transaction open makes commits land out of order.
        await asyncio.sleep(chance.uniform(0, 0.03))

    store = PostgresEventStore(pool, [commit_after_a_random_delay])
    writing_done = asyncio.Event()
    read: list[RecordedEvent] = []

    async def writer() -> None:
        for _ in range(APPENDS_PER_WRITER):
            run_id = uuid.uuid4()
            await store.append(run_id, 0, envelopes(run_id, 0, [run_started(), message()]))

    async def tail() -> None:
        position = FEED_START
        while True:
            finished = writing_done.is_set()
            page = await read_feed(pool, position, limit=7)
            read.extend(page.events)
            position = page.last
            if finished and not page.events:
                return
            if not page.events:
                await asyncio.sleep(0.002)

    reader = asyncio.create_task(tail())
    await asyncio.gather(*(writer() for _ in range(WRITERS)))
    # Another database's open transaction on a shared server holds the horizon back: the reader's last
    # empty page must come after every append here has passed it.
    await settled(pool)
    writing_done.set()
    async with asyncio.timeout(30):
        await reader

    committed = await pool.fetch("SELECT event_id FROM events")
    read_ids = [event.event_id for event in read]
    assert len(read_ids) == len(set(read_ids)), "the feed served an event twice"
    assert set(read_ids) == {row["event_id"] for row in committed}, "the feed skipped a committed event"
    assert len(read_ids) == WRITERS * APPENDS_PER_WRITER * 2
    positions = [event.position for event in read]
    assert positions != sorted(positions), "commits never interleaved, so the test proved nothing"


async def test_within_a_run_the_feed_serves_versions_in_order(pool: asyncpg.Pool) -> None:
    store = PostgresEventStore(pool)
    run_ids = [uuid.uuid4() for _ in range(20)]
    for run_id in run_ids:
        await store.append(run_id, 0, envelopes(run_id, 0, [run_started()]))

    async def advance(run_id: uuid.UUID) -> None:
        for version in range(1, 6):
            await store.append(run_id, version, envelopes(run_id, version, [message(f"n{version}")]))

    await asyncio.gather(*(advance(run_id) for run_id in run_ids))
    await settled(pool)
    page = await read_feed(pool, FEED_START, limit=10_000)
    for run_id in run_ids:
        assert [e.version for e in page.events if e.run_id == run_id] == [1, 2, 3, 4, 5, 6]


async def test_a_checkpoint_round_trips_and_starts_at_the_beginning(pool: asyncpg.Pool) -> None:
    assert await load_checkpoint(pool, "someone") == FEED_START
    await save_checkpoint(pool, "someone", FeedPosition(12345, 99))
    assert await load_checkpoint(pool, "someone") == FeedPosition(12345, 99)
