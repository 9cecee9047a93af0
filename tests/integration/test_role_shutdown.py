"""SIGTERM stops every role within PJS_SHUTDOWN_SECONDS with exit code 0, never committing unapplied work."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import asyncpg
from aiokafka import TopicPartition

from domain.run_state import FINISHED_STATUSES
from pjs.roles import ROLES
from pjs.settings import Settings
from pjs.wiring import event_store
from support.journeys import delay, message, patient, save_journey, start_run
from support.kafka import committed_offsets
from support.roles import RoleProcess, eventually, free_port, in_process, with_own_subscriber_groups

SHUTDOWN_SECONDS = 4.0
RUNS = 12
NODES = (message("hello", "wait"), delay("wait", 0.3, "bye"), message("bye"))


async def test_every_role_stops_cleanly_on_sigterm_and_leaves_no_work_skipped(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    settings = with_own_subscriber_groups(
        settings, tmp_path, shutdown_seconds=SHUTDOWN_SECONDS, http_port=free_port()
    )
    journey_id, journey = await save_journey(pool, "hello", *NODES)
    store = event_store(pool)
    roles = [RoleProcess(role, settings) for role in ROLES]
    try:
        run_ids = [await start_run(store, journey_id, journey, patient()) for _ in range(RUNS)]
        await eventually(lambda: _work_flowing_through_every_role(pool, tmp_path), seconds=60)

        for role in roles:
            role.terminate()
        stopping_since = time.monotonic()
        exit_codes = {role.role: role.wait(timeout=SHUTDOWN_SECONDS + 20) for role in roles}
        stopped_after = time.monotonic() - stopping_since
    finally:
        for role in roles:
            role.kill()

    assert exit_codes == dict.fromkeys(ROLES, 0)
    assert stopped_after < SHUTDOWN_SECONDS + 6  # the bound, plus the slack of eight roles on 2 loaded cores
    applied = await _projector_offsets(pool, settings.projector_group)
    committed = await committed_offsets(settings.kafka_connection(), settings.projector_group)
    assert committed, "the projector committed nothing, so the check below would hold vacuously"
    assert all(offset <= applied.get(partition, 0) for partition, offset in committed.items())
    async with in_process(settings, "relay", "engine", "timer", "delivery"):
        await eventually(lambda: _all_finished(pool, run_ids), seconds=60)  # nothing committed was skipped


async def test_a_delivery_stuck_on_a_silent_webhook_is_abandoned_in_time_and_redone_later(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    settings = settings.model_copy(update={"delivery_lease_seconds": 2.0})  # the abandoned send's lease
    journey_id, journey = await save_journey(pool, "hello", message("hello"))
    with silent_webhook() as (url, calls):
        stuck = settings.model_copy(
            update={
                "shutdown_seconds": SHUTDOWN_SECONDS,
                "message_channel": "webhook",
                "webhook_url": url,
                "webhook_timeout_seconds": 120.0,
            }
        )
        delivery = RoleProcess("delivery", stuck)
        try:
            async with in_process(settings, "relay", "engine"):
                await start_run(event_store(pool), journey_id, journey, patient())
                await eventually(lambda: _answered(calls), seconds=60)  # the send is in flight, unanswered
            exit_code, stopped_after = delivery.terminate_and_time(SHUTDOWN_SECONDS + 20)
        finally:
            delivery.kill()

    assert exit_code == 0
    assert stopped_after < SHUTDOWN_SECONDS + 3
    assert not await _some_delivered(pool)
    async with in_process(settings, "delivery"):  # the log channel: the abandoned message goes out now
        await eventually(lambda: _some_delivered(pool), seconds=60)


@contextlib.contextmanager
def silent_webhook() -> Iterator[tuple[str, list[socket.socket]]]:
    """A webhook URL whose server accepts every connection and never answers."""
    calls: list[socket.socket] = []
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    closing = threading.Event()

    def accept() -> None:
        while not closing.is_set():
            with contextlib.suppress(TimeoutError):
                calls.append(listener.accept()[0])

    accepting = threading.Thread(target=accept)
    accepting.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook", calls
    finally:
        closing.set()
        accepting.join()
        for call in calls:
            call.close()
        listener.close()


async def _answered(calls: list[socket.socket]) -> bool:
    return bool(calls)


async def _some_delivered(pool: asyncpg.Pool) -> bool:
    return bool(await pool.fetchval("SELECT count(*) FROM events WHERE type = 'MessageDelivered'"))


async def _work_flowing_through_every_role(pool: asyncpg.Pool, analytics_dir: Path) -> bool:
    """Every role is past its start-up: delivery, projector and audit have each applied something."""
    applied = await pool.fetchval(
        "SELECT (SELECT count(*) FROM events WHERE type = 'MessageDelivered') > 0"
        " AND (SELECT count(*) FROM run_timeline) > 0 AND (SELECT count(*) FROM audit_log) > 0"
    )
    return bool(applied) and any(await asyncio.to_thread(lambda: list(analytics_dir.iterdir())))


async def _projector_offsets(pool: asyncpg.Pool, group: str) -> dict[TopicPartition, int]:
    rows = await pool.fetch(
        "SELECT topic, partition, next_offset FROM projector_offsets WHERE consumer_group = $1", group
    )
    return {TopicPartition(row["topic"], row["partition"]): row["next_offset"] for row in rows}


async def _all_finished(pool: asyncpg.Pool, run_ids: list[UUID]) -> bool:
    statuses = await pool.fetch("SELECT status FROM run_status WHERE run_id = ANY($1::uuid[])", run_ids)
    return len(statuses) == len(run_ids) and all(row["status"] in FINISHED_STATUSES for row in statuses)
