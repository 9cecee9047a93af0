"""What single pieces of a run's work cost in CPU, each measured alone on its own event loop in a thread.

A thread's CPU clock (`time.thread_time`) counts only that loop's work, whatever else the bench process
does; a Postgres backend's CPU is read from its process. Every figure is microseconds (or milliseconds per
second for an idle consumer) of CPU, not wall time: on a shared machine CPU is what the load competes for.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar
from uuid import uuid4

import asyncpg
import psutil
import uvloop

from domain.message_outcomes import Sent
from engine.channels import OutgoingMessage, WebhookChannel, WebhookConfig
from events.consumer_group import GroupLoop
from events.dead_letters import PostgresDeadLetters
from events.group_config import GroupConfig

Result = TypeVar("Result")
LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}


def on_own_loop(loop_name: str, work: Callable[[], Awaitable[Result]]) -> Result:
    """Run `work` to completion on a fresh loop of the named kind, in the calling thread."""
    loop = LOOPS[loop_name]()
    try:
        return loop.run_until_complete(work())
    finally:
        loop.close()


async def in_thread(loop_name: str, work: Callable[[], Awaitable[Result]]) -> Result:
    """`on_own_loop` in a thread of its own, so its CPU clock holds only that work."""
    return await asyncio.to_thread(on_own_loop, loop_name, work)


def _backend_cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


async def round_trips(database_url: str, count: int) -> dict[str, float]:
    """CPU per `SELECT 1` and per empty transaction (BEGIN, COMMIT) over one connection: the client's (this
    thread) and the Postgres backend's, in microseconds."""
    connection = await asyncpg.connect(database_url)
    try:
        backend = int(await connection.fetchval("SELECT pg_backend_pid()"))

        async def select() -> None:
            await connection.fetchval("SELECT 1")

        async def empty_transaction() -> None:
            async with connection.transaction():
                pass

        figures: dict[str, float] = {}
        for name, step in (("select", select), ("transaction", empty_transaction)):
            for _ in range(min(count, 200)):  # warm: statement cache, buffers
                await step()
            client, server = time.thread_time(), _backend_cpu_seconds(backend)
            for _ in range(count):
                await step()
            figures[f"client_us_per_{name}"] = _micro(time.thread_time() - client, count)
            figures[f"backend_us_per_{name}"] = _micro(_backend_cpu_seconds(backend) - server, count)
        return figures
    finally:
        await connection.close()


async def idle_consumer_ms_per_s(config: GroupConfig, database_url: str, seconds: float) -> float:
    """CPU per second of the service's consumer loop (`GroupLoop`) in a group with nothing to read."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    assert pool is not None
    stop = asyncio.Event()

    async def nothing(events: object) -> None:  # the topic stays empty
        return None

    loop = GroupLoop(config, nothing, PostgresDeadLetters(pool))
    consuming = asyncio.create_task(loop.run(stop))
    try:
        await asyncio.sleep(min(seconds, 5.0))  # joined, assigned and fetching by then
        started = time.thread_time()
        await asyncio.sleep(seconds)
        return round(1000 * (time.thread_time() - started) / seconds, 2)
    finally:
        stop.set()
        await asyncio.wait_for(consuming, config.stop_wait_seconds + 5)
        await pool.close()


async def webhook_send_us(url: str, count: int, at_once: int) -> float:
    """CPU per message the webhook channel (also the SMS channel's) sends, `at_once` at a time, in µs."""
    channel = WebhookChannel(WebhookConfig(url=url))
    slots = asyncio.Semaphore(at_once)

    async def send(number: int) -> None:
        message = OutgoingMessage(uuid4(), "welcome", number, "Hello", patient_id=None, channel="webhook")
        async with slots:
            outcome = await channel.send(message)
        if not isinstance(outcome, Sent):
            raise RuntimeError(f"the provider stub refused a message: {outcome}")

    try:
        await asyncio.gather(*(send(n) for n in range(min(count, 200))))  # warm: connections open
        started = time.thread_time()
        await asyncio.gather(*(send(n) for n in range(count)))
        return _micro(time.thread_time() - started, count)
    finally:
        await channel.aclose()


def per_call_us(action: Callable[[], object], count: int) -> float:
    """CPU per call of a synchronous action, in microseconds (measured on this thread)."""
    action()
    started = time.thread_time()
    for _ in range(count):
        action()
    return _micro(time.thread_time() - started, count)


def _micro(seconds: float, count: int) -> float:
    return round(1e6 * seconds / count, 1)
