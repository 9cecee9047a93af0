"""A frozen relay leader (SIGSTOP) loses the lead within the lead session's idle timeout and the standby
publishes; resumed, the old leader steps down without moving the checkpoint back. A healthy leader keeps
its lead through quiet spells and Kafka hiccups longer than that timeout."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaProducer

from events.broker import make_producer
from events.catalogue import RecordedEvent
from events.lead_session import LEAD_IDLE_SECONDS
from events.relay import RELAY_LOCK_KEY, Relay
from events.relay_checkpoint import CHECKPOINT_NAME
from pjs.settings import Settings
from pjs.wiring import event_store
from support.kafka import read_topic
from support.relay import append_runs, has_all, relay_config, running
from support.roles import RoleProcess, eventually

LEADING = "relay is leading"
STANDING_BY = "relay stands by"
LOST_LEAD = "relay lost its lead"
TAKEOVER_MARGIN = 10.0  # the standby's one-second retry, a connection, a page, on a busy two-core machine


@dataclass
class RelayProcess:
    process: RoleProcess
    log_file: Path

    def log(self) -> str:
        return self.log_file.read_text() if self.log_file.exists() else ""

    def says(self, line: str) -> int:
        return self.log().count(line)


@contextlib.contextmanager
def two_relays(settings: Settings, tmp_path: Path) -> Iterator[list[RelayProcess]]:
    """Two `pjs run relay` processes, each logging to a file of its own; both must stop cleanly."""
    relays = [
        RelayProcess(RoleProcess("relay", settings, log_file=log), log)
        for log in (tmp_path / "relay-a.log", tmp_path / "relay-b.log")
    ]
    try:
        yield relays
    finally:
        for relay in relays:
            with contextlib.suppress(ProcessLookupError):
                os.kill(relay.process.pid, signal.SIGCONT)  # a frozen process cannot stop
        exits = [relay.process.stop() for relay in relays]
    assert exits == [0, 0], f"relays did not stop cleanly: {exits}"


async def leader_and_standby(relays: list[RelayProcess]) -> tuple[RelayProcess, RelayProcess]:
    async def decided() -> tuple[RelayProcess, RelayProcess] | None:
        first, second = relays
        if first.says(LEADING) and second.says(STANDING_BY):
            return first, second
        if second.says(LEADING) and first.says(STANDING_BY):
            return second, first
        return None

    return await eventually(decided, seconds=60)


async def checkpoint(pool: asyncpg.Pool) -> tuple[int, int] | None:
    row = await pool.fetchrow(
        "SELECT transaction_id::text::bigint AS xid, position FROM feed_checkpoints WHERE consumer = $1",
        CHECKPOINT_NAME,
    )
    return None if row is None else (row["xid"], row["position"])


async def lock_holder(pool: asyncpg.Pool) -> int | None:
    """The backend pid of the session holding the relay's lead, in this test's database."""
    pid: int | None = await pool.fetchval(
        "SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
        " WHERE l.locktype = 'advisory' AND l.granted AND l.objid = $1 AND d.datname = current_database()",
        RELAY_LOCK_KEY,
    )
    return pid


@contextlib.asynccontextmanager
async def checkpoints_watched(pool: asyncpg.Pool) -> AsyncIterator[list[tuple[int, int]]]:
    """Every value the relay's checkpoint takes while the block runs (sampled every 20 ms)."""
    seen: list[tuple[int, int]] = []

    async def watch() -> None:
        while True:
            value = await checkpoint(pool)
            if value is not None and (not seen or seen[-1] != value):
                seen.append(value)
            await asyncio.sleep(0.02)

    watching = asyncio.create_task(watch())
    try:
        yield seen
    finally:
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching


async def test_a_frozen_relay_leader_loses_the_lead_to_the_standby_and_steps_down_once_it_resumes(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    store = event_store(pool)
    with two_relays(settings, tmp_path) as relays:
        leader, standby = await leader_and_standby(relays)
        before = await append_runs(store, runs=2)
        await read_topic(settings.kafka_connection(), settings.run_events_topic, until=has_all(before))

        async with checkpoints_watched(pool) as checkpoints:
            os.kill(leader.process.pid, signal.SIGSTOP)
            frozen_at = time.monotonic()
            during_freeze = await append_runs(store, runs=3)
            await read_topic(
                settings.kafka_connection(),
                settings.run_events_topic,
                until=has_all(during_freeze),
                seconds=LEAD_IDLE_SECONDS + TAKEOVER_MARGIN,
            )
            took_over_after = time.monotonic() - frozen_at
            os.kill(leader.process.pid, signal.SIGCONT)
            await eventually(lambda: _true(leader.says(STANDING_BY) == 1), seconds=20)
            after_resume = await append_runs(store, runs=3)
            events, _ = await read_topic(
                settings.kafka_connection(), settings.run_events_topic, until=has_all(after_resume)
            )
            await eventually(lambda: _true(len(checkpoints) and checkpoints[-1][1] >= _last(events)))

        assert standby.says(LEADING) == 1
        assert took_over_after < LEAD_IDLE_SECONDS + TAKEOVER_MARGIN
        assert leader.says(LOST_LEAD) == 1 and leader.says(LEADING) == 1
        assert "Traceback" not in leader.log()
        assert checkpoints == sorted(checkpoints), "the relay checkpoint went backwards"
        assert all(relay.process.is_running for relay in relays)


async def test_a_healthy_relay_leader_keeps_its_lead_through_a_quiet_spell_longer_than_the_idle_timeout(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    # Polling less often than the idle timeout: only a NOTIFY, or the leader keeping its session busy,
    # breaks the wait.
    rarely_polling = settings.model_copy(update={"relay_poll_seconds": LEAD_IDLE_SECONDS * 3})
    with two_relays(rarely_polling, tmp_path) as relays:
        leader, standby = await leader_and_standby(relays)
        holder = await lock_holder(pool)

        await asyncio.sleep(LEAD_IDLE_SECONDS * 1.5)  # no event at all meanwhile

        assert await lock_holder(pool) == holder
        assert leader.says(LEADING) == 1 and leader.says(LOST_LEAD) == 0
        assert standby.says(LEADING) == 0
        expected = await append_runs(event_store(pool), runs=2)
        await read_topic(settings.kafka_connection(), settings.run_events_topic, until=has_all(expected))


async def test_a_relay_leader_keeps_its_lead_while_kafka_hangs_longer_than_the_idle_timeout(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    clients: list[asyncio.StreamWriter] = []

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        clients.append(writer)  # a broker that reads requests and never answers, until it hangs up
        with contextlib.suppress(ConnectionError):
            while await reader.read(65536):
                pass

    silent = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    kafka = settings.kafka_connection()
    hanging = replace(kafka, bootstrap=f"127.0.0.1:{silent.sockets[0].getsockname()[1]}")
    kafka_hangs = True

    def producer_factory() -> AIOKafkaProducer:
        return make_producer(hanging if kafka_hangs else kafka, request_timeout_ms=60_000)

    relay = Relay(relay_config(settings), producer_factory)
    async with running(relay):
        await eventually(lambda: _true(relay.is_leader), seconds=10)
        holder = await lock_holder(pool)
        expected = await append_runs(event_store(pool), runs=2)

        # The producer's start waits on a broker that never answers, longer than the idle timeout.
        await asyncio.sleep(LEAD_IDLE_SECONDS * 1.5)

        assert await lock_holder(pool) == holder and relay.is_leader and relay.published == 0
        kafka_hangs = False
        silent.close()
        for client in clients:
            client.close()  # the hung start fails at once and the next one reaches Kafka
        await read_topic(settings.kafka_connection(), settings.run_events_topic, until=has_all(expected))
    assert await lock_holder(pool) is None


def _last(events: list[RecordedEvent]) -> int:
    return max(event.position for event in events)


async def _true(condition: object) -> bool | None:
    return True if condition else None
