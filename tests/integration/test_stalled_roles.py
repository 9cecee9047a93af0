"""A role process that freezes or dies is named in /ready's details; so is one stopped as asked, once no
process runs its role for longer than the threshold."""

from __future__ import annotations

import os
import signal
import socket
import time

import asyncpg

from pjs.settings import Settings
from support.api import app_client
from support.roles import RoleProcess, eventually, role_processes
from support.stalls import (
    HEARTBEAT_SECONDS,
    STALL_SECONDS,
    beating_fast,
    heartbeat_pids,
    no_warning_starting,
    ready_details,
    warning_starting,
)

SLACK_SECONDS = 5.0  # a loaded 2-core machine's delay in noticing, beyond a heartbeat (probes query)


async def test_a_frozen_role_is_named_within_the_threshold_and_cleared_once_it_thaws(
    settings: Settings, pool: asyncpg.Pool, api_key: str
) -> None:
    fast = beating_fast(settings)
    with role_processes(fast, "timer") as [timer]:
        async with app_client(fast, api_key) as (api, _):
            await eventually(lambda: _beating(pool, "timer", timer.pid), seconds=60)
            assert not [line for line in await ready_details(api) if line.startswith("timer")]

            os.kill(timer.pid, signal.SIGSTOP)
            frozen_at = time.monotonic()
            try:
                warning = await eventually(
                    lambda: warning_starting(api, "timer: no instance heard from"), seconds=30
                )
                noticed_after = time.monotonic() - frozen_at
                metrics = (await api.get("/metrics")).text
            finally:
                os.kill(timer.pid, signal.SIGCONT)

            assert f"(last: {socket.gethostname()} pid {timer.pid})" in warning
            assert "due delays do not fire" in warning
            assert noticed_after < STALL_SECONDS + HEARTBEAT_SECONDS + SLACK_SECONDS
            assert _gauge(metrics, 'pjs_role_last_heard_seconds{role="timer"}') > STALL_SECONDS
            assert _gauge(metrics, 'pjs_role_silent_instances{role="timer"}') == 1
            await eventually(lambda: no_warning_starting(api, "timer"), seconds=10)


async def test_a_killed_role_is_named_and_one_stopped_as_asked_beside_it_is_not(
    settings: Settings, pool: asyncpg.Pool, api_key: str
) -> None:
    fast = beating_fast(settings)
    stopped, killed = RoleProcess("timer", fast), RoleProcess("timer", fast)
    try:
        async with app_client(fast, api_key) as (api, _):
            await eventually(lambda: _beating(pool, "timer", stopped.pid, killed.pid), seconds=60)

            assert stopped.stop() == 0
            assert await _stopped_pids(pool, "timer") == {stopped.pid}  # kept, marked stopped
            killed.kill()
            warning = await eventually(
                lambda: warning_starting(api, "timer: no instance heard from"), seconds=30
            )
    finally:
        stopped.stop()
        killed.kill()

    assert f"pid {killed.pid})" in warning
    assert str(stopped.pid) not in " ".join(await ready_details_of(fast, api_key))


async def test_a_role_stopped_as_asked_and_not_started_again_is_named_until_it_runs_again(
    settings: Settings, pool: asyncpg.Pool, api_key: str
) -> None:
    fast = beating_fast(settings)
    stopped = RoleProcess("timer", fast)
    try:
        async with app_client(fast, api_key) as (api, _):
            await eventually(lambda: _beating(pool, "timer", stopped.pid), seconds=60)
            assert stopped.stop() == 0
            assert not [line for line in await ready_details(api) if line.startswith("timer")]  # not yet

            warning = await eventually(lambda: warning_starting(api, "timer: stopped as asked"), seconds=30)
            with role_processes(fast, "timer"):  # started again, as a deploy should have
                await eventually(lambda: no_warning_starting(api, "timer"), seconds=30)
    finally:
        stopped.stop()

    assert f"pid {stopped.pid})" in warning and "`pjs run timer`" in warning


async def test_a_killed_process_is_forgotten_once_a_process_of_its_host_replaces_it(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    fast = beating_fast(settings)
    crashed = RoleProcess("timer", fast)
    try:
        await eventually(lambda: _beating(pool, "timer", crashed.pid), seconds=60)
        crashed.kill()
        with role_processes(fast, "timer") as [restarted]:  # as a supervisor restarts it, under a new pid
            await eventually(lambda: _only(pool, "timer", restarted.pid), seconds=30)
    finally:
        crashed.kill()


async def ready_details_of(settings: Settings, api_key: str) -> list[str]:
    async with app_client(settings, api_key) as (api, _):
        return await ready_details(api)


def _gauge(metrics: str, series: str) -> float:
    return float(next(line for line in metrics.splitlines() if line.startswith(series + " ")).split()[-1])


async def _only(pool: asyncpg.Pool, role: str, pid: int) -> bool:
    return await heartbeat_pids(pool, role) == {pid}


async def _beating(pool: asyncpg.Pool, role: str, *pids: int) -> bool:
    return set(pids) <= await heartbeat_pids(pool, role)


async def _stopped_pids(pool: asyncpg.Pool, role: str) -> set[int]:
    rows = await pool.fetch(
        "SELECT pid FROM role_heartbeats WHERE role = $1 AND stopped_at IS NOT NULL", role
    )
    return {row["pid"] for row in rows}
