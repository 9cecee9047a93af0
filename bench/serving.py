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
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import httpx

from bench.errors import BenchFailure
from bench.pipeline_stack import PIPELINE_ROLES, running_stack, store_journey_when_ready
from bench.role_watch import RoleWatch
from bench.scenario import ScenarioContext
from bench.trigger_client import trigger_session

FLAME_GRAPH_VARIABLE = "BENCH_FLAMEGRAPH"

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
    client: httpx.AsyncClient  # for set-up calls
    triggers: aiohttp.ClientSession  # for the load: `connections` connections (bench.trigger_client says why)
    pool: asyncpg.Pool  # the workers' role: sees every tenant
    watch: RoleWatch
    api_pid: int
    journey_id: str


def patient(number: int) -> dict[str, Any]:
    return {"id": f"bench-patient-{number:09d}", "age": 30 + number % 60, "language": "en"}


async def trigger_batch(served: Serving, key_prefix: str, numbers: range) -> dict[str, Any]:
    """One trigger-batch request starting a run for each patient `numbers` names (Idempotency-Keys
    `<key_prefix>-<number>`); the answer's body. Any status but 202 fails the scenario."""
    items = [{"idempotencyKey": f"{key_prefix}-{n}", "patient": patient(n)} for n in numbers]
    answer = await served.client.post(f"/journeys/{served.journey_id}/trigger-batch", json={"items": items})
    if answer.status_code != 202:
        raise BenchFailure(f"trigger-batch answered {answer.status_code}: {answer.text[:300]}")
    body: dict[str, Any] = answer.json()
    return body


async def start_runs(served: Serving, key_prefix: str, numbers: range) -> list[str]:
    """`trigger_batch`, every run accepted (else the scenario fails); their run ids, in order."""
    body = await trigger_batch(served, key_prefix, numbers)
    if body["accepted"] != len(numbers):
        raise BenchFailure(f"trigger-batch accepted {body['accepted']} of {len(numbers)} runs")
    return [item["runId"] for item in body["items"]]


@contextlib.asynccontextmanager
async def serving(
    context: ScenarioContext, connections: int, roles: Sequence[str] = PIPELINE_ROLES
) -> AsyncIterator[Serving]:
    """The roles (default every one) up on the sandbox, the two-message journey stored, a client of
    `connections` connections."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with running_stack(context.sandbox, roles, client_limits=limits) as running:
        journey_id = await store_journey_when_ready(running.client, running.watch, TWO_MESSAGES)
        base_url = str(running.client.base_url)
        async with trigger_session(base_url, running.key, connections, timeout_s=60) as triggers:
            api_pid = running.pids["api"]
            yield Serving(running.client, triggers, running.pool, running.watch, api_pid, journey_id)


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
