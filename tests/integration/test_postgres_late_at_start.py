"""A Postgres not answering a role's own DSN when the role starts (a server still starting, one that comes up
late after a host's reboot) is waited for, in one line naming its address, up to
PJS_STARTUP_POSTGRES_WAIT_SECONDS; then the role exits 1 saying so. A wrong password is not waited for."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

from events.waiting import ABANDONED
from pjs.heartbeat import heartbeat_writer
from pjs.settings import Settings
from pjs.startup_waits import own_postgres_connection
from support.forwarding import forwarding
from support.ports import free_port_below_ephemeral_range
from support.roles import RoleProcess, eventually, only_failure_line


def _with(url: str, *, port: int | None = None, password: str | None = None) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username}:{password or parts.password}@{parts.hostname}:{port or parts.port}"
    return parts._replace(netloc=netloc).geturl()


async def _logged(log_file: Path, text: str, seconds: float = 30) -> str:
    async def check() -> str | None:
        log = await asyncio.to_thread(log_file.read_text)
        return log if text in log else None

    return await eventually(check, seconds=seconds, every=0.1)


async def _beating(pool: asyncpg.Pool, role: RoleProcess) -> bool:
    found = await pool.fetchval("SELECT count(*) FROM role_heartbeats WHERE pid = $1", role.pid)
    return bool(found)


async def test_a_postgres_not_up_at_a_roles_start_is_waited_for_in_one_line_then_used(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    real = urlsplit(settings.resolved_worker_database_url())
    port = free_port_below_ephemeral_range()
    late = _with(settings.resolved_worker_database_url(), port=port)
    log_file = tmp_path / "timer.log"
    role = RoleProcess("timer", settings.model_copy(update={"worker_database_url": late}), log_file=log_file)
    try:
        log = await _logged(log_file, "not done (ConnectionRefusedError), attempt 1; retrying")
        waiting = [line for line in log.splitlines() if "retrying" in line]
        assert len(waiting) == 1 and " WARNING pjs " in waiting[0]
        assert f"role timer connecting to Postgres at {real.username}@127.0.0.1:{port}/" in waiting[0]
        assert "(waiting up to 120 s)" in waiting[0] and str(real.password) not in log
        await asyncio.sleep(2)
        assert role.is_running and "role timer failed" not in log_file.read_text()

        async with forwarding(port, f"{real.hostname}:{real.port}"):
            assert await eventually(lambda: _beating(pool, role), seconds=30, every=0.2)
            # in a thread: this loop forwards the role's connections while it stops
            exit_code, seconds = await asyncio.to_thread(role.terminate_and_time, 30)
    finally:
        role.stop()
    assert exit_code == 0 and seconds < 10
    assert "role timer stopped" in log_file.read_text()


def test_a_postgres_still_down_when_the_wait_ends_exits_1_with_one_line_naming_the_address(
    settings: Settings, tmp_path: Path
) -> None:
    port = free_port_below_ephemeral_range()
    url = _with(settings.resolved_worker_database_url(), port=port)
    log_file = tmp_path / "timer.log"
    update = {"worker_database_url": url, "startup_postgres_wait_seconds": 2.0}
    started = time.monotonic()

    role = RoleProcess("timer", settings.model_copy(update=update), log_file=log_file)

    assert role.wait(timeout=30) == 1 and time.monotonic() - started < 20
    failed = only_failure_line(log_file, "timer")
    assert f"Postgres at {urlsplit(url).username}@127.0.0.1:{port}/" in failed
    waited = "did not answer within 2 s (PJS_STARTUP_POSTGRES_WAIT_SECONDS; last: ConnectionRefusedError)"
    assert waited in failed
    assert "check the host and port in PJS_WORKER_DATABASE_URL" in failed
    assert str(urlsplit(url).password) not in log_file.read_text()


def test_a_wrong_password_is_refused_at_once_not_waited_for(settings: Settings, tmp_path: Path) -> None:
    url = _with(settings.resolved_worker_database_url(), password="not-the-password-4711")
    log_file = tmp_path / "timer.log"
    started = time.monotonic()

    role = RoleProcess("timer", settings.model_copy(update={"worker_database_url": url}), log_file=log_file)

    assert role.wait(timeout=60) == 1
    assert time.monotonic() - started < 30  # the wait would last 120 s
    log = log_file.read_text()
    assert "retrying" not in log
    assert "password authentication failed" in log and "PJS_WORKER_DATABASE_URL" in log


async def test_the_connection_the_start_waited_for_is_the_one_the_process_heartbeat_beats_on(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    connection = await own_postgres_connection("timer", ["timer"], settings, asyncio.Event())
    assert connection is not ABANDONED
    # Any connection the writer opened itself would go to a port nobody listens on.
    nowhere = _with(settings.resolved_worker_database_url(), port=free_port_below_ephemeral_range())
    later = settings.model_copy(update={"worker_database_url": nowhere})
    writer = heartbeat_writer(["timer"], later, first_connection=connection)

    try:
        beat = await writer.beat()
    finally:
        await writer.close()

    assert beat
    assert await pool.fetchval("SELECT count(*) FROM role_heartbeats WHERE pid = $1", os.getpid()) == 1
    assert connection.is_closed()  # the writer owns it: not left open beside the roles' pools
