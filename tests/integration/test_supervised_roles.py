"""`pjs dev`'s supervisor: a role that keeps crashing is restarted alone; the others keep working."""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path

import httpx

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
    stopped = threading.Event()
    running = threading.Thread(target=supervisor.run, args=(stopped.is_set,))
    running.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=bearer(api_key)) as api:
            await eventually(lambda: _healthy(api), seconds=60)
            api_pid = supervisor.pid("api")

            await eventually(lambda: _restarted(supervisor, "analytics", times=2), seconds=90)
            journey_id = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
            triggered = await api.post(f"/journeys/{journey_id}/trigger", json=patient())

            assert triggered.status_code == 202
            assert supervisor.pid("api") == api_pid  # never restarted, never stopped
            assert supervisor.restarts("api") == supervisor.restarts("relay") == 0
            await eventually(lambda: _published(settings), seconds=30)  # the relay kept working
    finally:
        stopped.set()
        await asyncio.to_thread(running.join, 30)
    assert not running.is_alive()
    assert supervisor.pid("api") is None and supervisor.pid("relay") is None


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
