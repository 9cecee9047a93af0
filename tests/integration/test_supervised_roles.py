"""`pjs dev`'s supervisor: a role that keeps crashing is restarted alone; the others keep working. With
PJS_API_OWN_CPU_GROUP the api's process leads a session of its own, and still stops with the rest."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psutil

from api.examples import SEED_JOURNEY
from pjs.settings import Settings
from pjs.supervisor import RestartPolicy, Supervisor
from support.auth import bearer
from support.journeys import patient
from support.kafka import end_offsets
from support.roles import eventually, free_port, role_env

ROLES = ("api", "relay", "analytics")


async def test_a_crashing_role_is_restarted_while_the_others_keep_serving(
    settings: Settings, api_key: str, tmp_path: Path
) -> None:
    port = free_port()
    # The analytics directory under a file: the analytics role fails at every start, the others do not care.
    (tmp_path / "a-file").touch()
    broken = settings.model_copy(update={"http_port": port, "analytics_dir": tmp_path / "a-file" / "days"})
    supervisor = Supervisor(
        {role: [sys.executable, "-m", "pjs.cli", "run", role] for role in ROLES},
        role_env(broken),
        RestartPolicy(first_seconds=0.1, max_seconds=0.4, healthy_seconds=60),
        shutdown_seconds=5,
    )
    async with supervising(supervisor), api_client(port, api_key) as api:
        await eventually(lambda: _healthy(api), seconds=60)
        api_pid = supervisor.pid("api")

        await eventually(lambda: _restarted(supervisor, "analytics", times=2), seconds=90)
        journey_id = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
        triggered = await api.post(f"/journeys/{journey_id}/trigger", json=patient())

        assert triggered.status_code == 202
        assert supervisor.pid("api") == api_pid  # never restarted, never stopped
        assert supervisor.restarts("api") == supervisor.restarts("relay") == 0
        await eventually(lambda: _published(settings), seconds=30)  # the relay kept working
    assert supervisor.pid("api") is None and supervisor.pid("relay") is None


async def test_the_api_in_a_session_of_its_own_serves_and_stops_with_the_workers(
    settings: Settings, api_key: str
) -> None:
    port = free_port()
    supervisor = Supervisor(
        {role: [sys.executable, "-m", "pjs.cli", "run", role] for role in ("api", "relay")},
        role_env(settings.model_copy(update={"http_port": port})),
        shutdown_seconds=5,
        own_sessions=frozenset({"api"}),
    )
    async with supervising(supervisor), api_client(port, api_key) as api:
        await eventually(lambda: _healthy(api), seconds=60)
        journey_id = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
        triggered = await api.post(f"/journeys/{journey_id}/trigger", json=patient())
        api_pid, relay_pid = supervisor.pid("api"), supervisor.pid("relay")
        assert api_pid is not None and relay_pid is not None

        assert triggered.status_code == 202
        assert os.getsid(api_pid) == api_pid  # the leader of a session of its own
        assert os.getsid(relay_pid) == os.getsid(0)  # the supervisor's
    assert supervisor.pid("api") is None and supervisor.pid("relay") is None


async def test_a_hang_up_stops_pjs_devs_api_though_its_session_is_its_own(
    settings: Settings, tmp_path: Path
) -> None:
    # Given `pjs dev`'s supervisor running the api in a session of its own, which no terminal signals reach
    port = free_port()
    environment = role_env(settings.model_copy(update={"http_port": port}), PJS_API_OWN_CPU_GROUP="true")
    code = "import sys, pathlib; from pjs.dev import run_all_roles; from pjs.settings import Settings; "
    code += "sys.exit(run_all_roles(Settings(), pathlib.Path(sys.argv[1]), roles=['api']))"
    metrics = str(tmp_path / "metrics")
    dev = await asyncio.create_subprocess_exec(sys.executable, "-c", code, metrics, env=environment)
    api: psutil.Process | None = None
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as probe:
            await eventually(lambda: _healthy(probe), seconds=60)
        [api] = psutil.Process(dev.pid).children()
        assert os.getsid(api.pid) == api.pid

        # When the terminal hangs up (SIGHUP to the supervisor)
        dev.send_signal(signal.SIGHUP)

        # Then the supervisor stops the api and exits cleanly
        assert await asyncio.wait_for(dev.wait(), 30) == 0
        assert not api.is_running()
    finally:
        if dev.returncode is None:
            dev.kill()
            await dev.wait()
        if api is not None and api.is_running():  # orphaned: what the supervisor must never leave
            api.kill()


@contextlib.asynccontextmanager
async def supervising(supervisor: Supervisor) -> AsyncIterator[None]:
    """The supervisor running in a thread until the block ends; then it stops every child within 30 s."""
    stopped = threading.Event()
    running = threading.Thread(target=supervisor.run, args=(stopped.is_set,))
    running.start()
    try:
        yield
    finally:
        stopped.set()
        await asyncio.to_thread(running.join, 30)
    assert not running.is_alive()


def api_client(port: int, api_key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=bearer(api_key))


async def _healthy(api: httpx.AsyncClient) -> bool:
    try:
        return (await api.get("/health")).status_code == 200
    except httpx.TransportError:
        return False


async def _restarted(supervisor: Supervisor, role: str, times: int) -> bool:
    return supervisor.restarts(role) >= times


async def _published(settings: Settings) -> bool:
    ends = await end_offsets(
        settings.kafka_connection(), settings.run_events_topic, settings.run_events_partitions
    )
    return sum(ends.values()) > 0
