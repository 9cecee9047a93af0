"""Every role process serving one sandbox (as `pipeline` runs them), for scenarios that drive the HTTP API.

`serving` starts api, relay, engine, delivery, timer and projector against the sandbox, waits for the API
to answer /ready and stores a journey; it yields a client holding a real API key, a worker-role pool to
measure with, the role watch and the journey's id. `record_flame_graph` runs py-spy on the api process
when BENCH_FLAMEGRAPH names an SVG file to write.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.errors import BenchFailure
from bench.role_watch import RoleWatch, watching
from bench.roles import role_process, stop
from bench.sandbox import api_key_in
from bench.scenario import ScenarioContext
from bench.scenarios.pipeline import ROLES, _free_loopback_port, _role_command, _wait_for, role_environment

FLAME_GRAPH_VARIABLE = "BENCH_FLAMEGRAPH"
_READY_SECONDS = 60

# MESSAGE -> MESSAGE: the shortest journey that still sends, so a trigger's own cost dominates.
TWO_MESSAGES: dict[str, Any] = {
    "name": "Trigger benchmark",
    "start_node_id": "booked",
    "nodes": [
        {"id": "booked", "type": "MESSAGE", "message": "Surgery booked.", "next_node_id": "leaflet"},
        {"id": "leaflet", "type": "MESSAGE", "message": "General leaflet.", "next_node_id": None},
    ],
}


@dataclass(frozen=True)
class Serving:
    client: httpx.AsyncClient
    pool: asyncpg.Pool  # the workers' role: sees every tenant
    watch: RoleWatch
    api_pid: int
    journey_id: str


def patient(number: int) -> dict[str, Any]:
    return {"id": f"bench-patient-{number:09d}", "age": 30 + number % 60, "language": "en"}


@contextlib.asynccontextmanager
async def serving(context: ScenarioContext, connections: int) -> AsyncIterator[Serving]:
    """Every role up on the sandbox, the two-message journey stored, a client of `connections` connections."""
    box = context.sandbox
    topic = await box.topic("run-events")
    port = _free_loopback_port()
    with tempfile.TemporaryDirectory(prefix="pjs-bench-serving-") as scratch:
        environment = role_environment(box, topic, port, scratch)
        key = await api_key_in(box.database_url, "bench")
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        async with contextlib.AsyncExitStack() as stack:
            processes = {
                role: await stack.enter_async_context(role_process(_role_command(role), environment))
                for role in ROLES
            }
            async with (
                watching(processes, Path(scratch)) as watch,
                httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{port}",
                    timeout=60,
                    limits=limits,
                    headers={"Authorization": f"Bearer {key}"},
                ) as client,
                asyncpg.create_pool(box.worker_database_url, min_size=1, max_size=2) as pool,
            ):
                try:
                    journey_id = await _start_up(client, watch)
                    yield Serving(client, pool, watch, processes["api"].pid, journey_id)
                finally:  # stop the roles together, while their logs are still drained
                    await asyncio.gather(*(stop(p) for p in processes.values()))


async def _start_up(client: httpx.AsyncClient, watch: RoleWatch) -> str:
    async def api_ready() -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return (await client.get("/ready")).status_code == 200
        return False

    await _wait_for(api_ready, _READY_SECONDS, "api start-up", watch)
    created = await client.post("/journeys", json=TWO_MESSAGES)
    created.raise_for_status()
    return str(created.json()["journeyId"])


@contextlib.asynccontextmanager
async def flame_graph(api_pid: int, seconds: float) -> AsyncIterator[None]:
    """py-spy samples the api process for `seconds` into BENCH_FLAMEGRAPH's file, if that is set."""
    target = os.environ.get(FLAME_GRAPH_VARIABLE)
    if not target:
        yield
        return
    py_spy = Path(sys.executable).parent / "py-spy"
    recorder = await asyncio.create_subprocess_exec(
        str(py_spy), "record", "--output", target, "--pid", str(api_pid), "--duration", str(int(seconds)),
        "--nonblocking", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        yield
    finally:
        _, stderr = await asyncio.wait_for(recorder.communicate(), seconds + 30)
    if recorder.returncode != 0:
        raise BenchFailure(f"py-spy failed: {stderr.decode(errors='replace')[-300:]}")
