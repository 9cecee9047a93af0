"""An append wakes the store's listeners (the relay) once per transaction, after it commits."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from events.store import EVENTS_APPENDED_CHANNEL, AppendRequest
from pjs.wiring import event_store
from support.runs import envelopes, message, run_started

SENTINEL = "sentinel"


async def test_a_batch_append_notifies_once_after_commit_and_a_conflict_alone_not_at_all(
    pool: asyncpg.Pool,
) -> None:
    store = event_store(pool)
    heard: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    def on_notify(*args: object) -> None:
        heard.put_nowait((str(args[2]), str(args[3])))  # (channel, payload)

    async with pool.acquire() as listener:
        await listener.add_listener(EVENTS_APPENDED_CHANNEL, on_notify)
        try:
            runs = [uuid.uuid4() for _ in range(3)]
            await store.append_many(
                [AppendRequest(run, 0, envelopes(run, 0, [run_started(), message()])) for run in runs]
            )
            assert await asyncio.wait_for(heard.get(), 30) == (EVENTS_APPENDED_CHANNEL, "")
            await store.append(runs[0], 0, envelopes(runs[0], 0, [run_started()]))  # a conflict: nothing new
            # Notifications arrive in commit order: one from the conflict would come before the sentinel.
            await pool.execute("SELECT pg_notify($1, $2)", EVENTS_APPENDED_CHANNEL, SENTINEL)
            assert await asyncio.wait_for(heard.get(), 30) == (EVENTS_APPENDED_CHANNEL, SENTINEL)
        finally:
            await listener.remove_listener(EVENTS_APPENDED_CHANNEL, on_notify)
