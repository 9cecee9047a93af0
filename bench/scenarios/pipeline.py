"""`pipeline`: N runs of the reference journey end to end through every role process, at a fixed offered rate.

The service runs as in production (`pjs run api|relay|engine|delivery|timer|projector`, one process each,
pointed at the sandbox); `bench.loadgen`, a process of its own, triggers runs over HTTP on loopback.
End-to-end latencies are computed afterwards from the database (each run's RunCompleted `recorded_at`
against the generator's due time), so measuring adds no load while the pipeline runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import orjson

from bench.errors import BenchFailure
from bench.loadgen import API_KEY_VARIABLE
from bench.pipeline_figures import Load, pipeline_figures
from bench.role_watch import RoleWatch, service_cpu_seconds, watching
from bench.roles import role_process, stop
from bench.sandbox import Sandbox, api_key_in
from bench.scenario import Figures, Scenario, ScenarioContext
from pjs.services.stack import LocalStack
from pjs.settings import Settings

ROLES = ("api", "relay", "engine", "delivery", "timer", "projector")
_REPOSITORY = Path(__file__).resolve().parents[2]
_POLL_SECONDS = 0.2
_READY_SECONDS = 60

# MESSAGE -> CONDITIONAL -> MESSAGE -> DELAY 1 s -> MESSAGE. Both branches of the condition lead to a
# message, so every run takes the same five nodes whatever the patient's age.
REFERENCE_JOURNEY: dict[str, Any] = {
    "name": "Pipeline benchmark",
    "start_node_id": "welcome",
    "nodes": [
        {"id": "welcome", "type": "MESSAGE", "message": "Surgery booked.", "next_node_id": "age_check"},
        {
            "id": "age_check",
            "type": "CONDITIONAL",
            "condition": {"field": "patient.age", "operator": ">", "value": 65},
            "on_true_next_node_id": "senior_leaflet",
            "on_false_next_node_id": "standard_leaflet",
        },
        {"id": "senior_leaflet", "type": "MESSAGE", "message": "Fall-risk leaflet.", "next_node_id": "wait"},
        {"id": "standard_leaflet", "type": "MESSAGE", "message": "General leaflet.", "next_node_id": "wait"},
        {"id": "wait", "type": "DELAY", "duration_seconds": 1, "next_node_id": "reminder"},
        {"id": "reminder", "type": "MESSAGE", "message": "Fast from midnight.", "next_node_id": None},
    ],
}


QUICK = Load(runs=200, rate_per_s=50)
FULL = Load(runs=20_000, rate_per_s=40)  # under the top sustained rate (45/s); see docs/benchmarks.md


def load_for(quick: bool) -> Load:
    """Quick or full load; BENCH_PIPELINE_RUNS / BENCH_PIPELINE_RATE override it (to find the top rate)."""
    default = QUICK if quick else FULL
    runs = int(os.environ.get("BENCH_PIPELINE_RUNS") or default.runs)
    offered = float(os.environ.get("BENCH_PIPELINE_RATE") or default.rate_per_s)
    return Load(runs, offered)


def _role_command(role: str) -> list[str]:
    return ["-m", "pjs.cli", "run", role]


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _wait_for(check: Any, limit: float, what: str, watch: RoleWatch) -> float:
    """Await `check()` every poll until it is true; fails past `limit` or when a role exits."""
    started = time.perf_counter()
    while not await check():
        if (exited := watch.exited()) is not None:
            raise BenchFailure(f"{what}: {exited}")
        if time.perf_counter() - started > limit:
            raise BenchFailure(f"{what}: not done after {limit:.0f}s")
        await asyncio.sleep(_POLL_SECONDS)
    return time.perf_counter() - started


async def _start_up(client: httpx.AsyncClient, pool: asyncpg.Pool, watch: RoleWatch) -> str:
    """Wait for the API, store the journey, and push one warm-up run all the way through every role."""

    async def api_ready() -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return (await client.get("/ready")).status_code == 200
        return False

    await _wait_for(api_ready, _READY_SECONDS, "api start-up", watch)
    created = await client.post("/journeys", json=REFERENCE_JOURNEY)
    created.raise_for_status()
    journey_id = str(created.json()["journeyId"])
    patient = {"id": "warm-up", "age": 70, "language": "en"}
    accepted = await client.post(f"/journeys/{journey_id}/trigger", json=patient)
    accepted.raise_for_status()
    warm_up = UUID(accepted.json()["runId"])

    async def warm_up_settled() -> bool:  # engine, timer, delivery and projector have all seen it
        row = await pool.fetchrow(
            """
            SELECT (SELECT status FROM run_status WHERE run_id = $1) AS status,
                   (SELECT count(*) FROM message_deliveries WHERE run_id = $1 AND status = 'delivered')
                       AS delivered,
                   (SELECT count(*) FROM events WHERE run_id = $1) AS events,
                   (SELECT count(*) FROM run_timeline WHERE run_id = $1) AS projected
            """,
            warm_up,
        )
        assert row is not None
        projected = row["projected"] == row["events"]
        return bool(row["status"] == "completed" and row["delivered"] == 3 and projected)

    await _wait_for(warm_up_settled, _READY_SECONDS, "warm-up run", watch)
    return journey_id


async def _generate(
    base_url: str, key: str, journey_id: str, load: Load, out: Path, limit: float
) -> dict[str, Any]:
    """Run `bench.loadgen` as its own process (the key in its environment) and return its summary line."""
    generator = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.loadgen", "--base-url", base_url, "--journey", journey_id,
        "--runs", str(load.runs), "--rate", str(load.rate_per_s), "--max-seconds", str(limit),
        "--out", str(out),
        cwd=_REPOSITORY, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, API_KEY_VARIABLE: key},
    )  # fmt: skip
    try:
        stdout, stderr = await asyncio.wait_for(generator.communicate(), limit + 15)
    finally:
        await stop(generator)
    if generator.returncode != 0:
        raise BenchFailure(f"load generator failed: {stderr.decode(errors='replace')[-600:]}")
    return dict(orjson.loads(stdout.splitlines()[-1]))


def _requests(out: Path) -> list[dict[str, Any]]:
    return [line for line in map(orjson.loads, out.read_text().splitlines()) if "i" in line]


async def _run_load(
    context: ScenarioContext,
    client: httpx.AsyncClient,
    key: str,
    pool: asyncpg.Pool,
    watch: RoleWatch,
    out: Path,
) -> Figures:
    load, limit = load_for(context.config.quick), context.config.sizes.phase_seconds
    journey_id = await _start_up(client, pool, watch)
    warm_up_events = int(await pool.fetchval("SELECT count(*) FROM events"))
    services = {s.name: s.pid for s in LocalStack(Settings()).status()}
    # Postgres: only this sandbox's backends (long-lived pool connections); Kafka: the whole broker.
    only = {"postgres": context.sandbox.prefix, "kafka": None}
    service_cpu = {name: service_cpu_seconds(pid, only.get(name)) for name, pid in services.items()}
    watch.mark_cpu()
    generating = asyncio.create_task(_generate(str(client.base_url), key, journey_id, load, out, limit))

    accepted: list[int] = []  # read once, after the generator finished writing

    async def completed_all() -> bool:
        if generating.done():
            generating.result()  # a failed generator fails the scenario now, not at the time limit
        failed = await pool.fetchval("SELECT count(*) FROM run_status WHERE status = 'failed'")
        if failed:
            raise BenchFailure(f"{failed} runs failed")
        done = await pool.fetchval("SELECT count(*) FROM run_status WHERE status = 'completed'")
        if generating.done() and not accepted:
            accepted.append(sum(1 for r in _requests(out) if r["status"] == 202))
        return bool(accepted and done - 1 >= accepted[0])  # - 1: the warm-up run

    try:
        await _wait_for(completed_all, limit, "pipeline", watch)
    finally:
        if not generating.done():
            generating.cancel()
            with contextlib.suppress(BaseException):
                await generating
    summary = generating.result()
    cpu = watch.cpu_since_mark()
    for name, pid in services.items():
        cpu[name] = round(service_cpu_seconds(pid, only.get(name)) - service_cpu[name], 1)
    catch_up_ms = await _projector_catch_up_ms(pool, watch, limit)
    return await pipeline_figures(
        pool, load, _requests(out), summary, warm_up_events, watch, cpu, catch_up_ms
    )


async def _projector_catch_up_ms(pool: asyncpg.Pool, watch: RoleWatch, limit: float) -> float:
    """From the last event's recorded_at until run_timeline holds every event (once deliveries settled)."""
    caught_up_at = 0.0

    async def caught_up() -> bool:
        nonlocal caught_up_at
        row = await pool.fetchrow(
            """
            SELECT (SELECT count(*) FROM message_deliveries WHERE status IN ('requested', 'sending')) AS open,
                   (SELECT count(*) FROM events) AS events,
                   (SELECT count(*) FROM run_timeline) AS projected
            """
        )
        assert row is not None
        caught_up_at = time.time()
        return bool(row["open"] == 0 and row["projected"] >= row["events"])

    await _wait_for(caught_up, limit, "projector catch-up", watch)
    last: datetime = await pool.fetchval("SELECT max(recorded_at) FROM events")
    return round(max(caught_up_at - last.timestamp(), 0.0) * 1000, 1)


def role_environment(box: Sandbox, topic: str, port: int, scratch: str) -> dict[str, str]:
    """What every role process of a sandbox gets: its topic and groups, the API on `port`, a log channel."""
    return {
        **box.role_environment(topic),
        "PJS_HTTP_HOST": "127.0.0.1",
        "PJS_HTTP_PORT": str(port),
        "PJS_ENGINE_GROUP": box.group("engine"),
        "PJS_DELIVERY_GROUP": box.group("delivery"),
        "PJS_PROJECTOR_GROUP": box.group("projector"),
        "PJS_MESSAGE_CHANNEL": "log",
        "PJS_STATE_DIR": scratch,
        # One key carries the whole load: the per-key rate limit must not be what the bench measures.
        "PJS_RATE_LIMIT_PER_SECOND": "1000000",
        "PJS_RATE_LIMIT_BURST": "1000000",
    }


async def run(context: ScenarioContext) -> Figures:
    box = context.sandbox
    topic = await box.topic("run-events")
    port = _free_loopback_port()
    with tempfile.TemporaryDirectory(prefix="pjs-bench-pipeline-") as scratch:
        environment = role_environment(box, topic, port, scratch)
        key = await api_key_in(box.database_url, "bench")  # the bench calls the API as a real client
        async with contextlib.AsyncExitStack() as stack:
            processes = {
                role: await stack.enter_async_context(role_process(_role_command(role), environment))
                for role in ROLES
            }
            async with (
                watching(processes, Path(scratch)) as watch,
                httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{port}",
                    timeout=30,
                    headers={"Authorization": f"Bearer {key}"},
                ) as client,
                asyncpg.create_pool(box.worker_database_url, min_size=1, max_size=2) as pool,
            ):
                try:
                    out = Path(scratch) / "triggers.jsonl"
                    return await _run_load(context, client, key, pool, watch, out)
                finally:  # stop the roles together, while their logs are still drained
                    await asyncio.gather(*(stop(p) for p in processes.values()))
    raise AssertionError("unreachable")


SCENARIO = Scenario(
    "pipeline",
    "the reference journey end to end through separate role processes, triggered over HTTP at a fixed rate",
    run,
)
