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
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx

from bench.errors import BenchFailure
from bench.pipeline_figures import Load, pipeline_figures
from bench.pipeline_stack import (
    PIPELINE_ROLES,
    READY_SECONDS,
    RunningStack,
    ServiceCpu,
    generate,
    requests_in,
    running_stack,
    store_journey_when_ready,
    wait_for,
)
from bench.role_watch import RoleWatch
from bench.scenario import Figures, Scenario, ScenarioContext

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


async def start_up(client: httpx.AsyncClient, pool: asyncpg.Pool, watch: RoleWatch) -> str:
    """Wait for the API, store the journey, and push one warm-up run all the way through every role."""
    journey_id = await store_journey_when_ready(client, watch, REFERENCE_JOURNEY)
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

    await wait_for(warm_up_settled, READY_SECONDS, "warm-up run", watch)
    return journey_id


async def _run_load(context: ScenarioContext, running: RunningStack, out: Path) -> Figures:
    load, limit = load_for(context.config.quick), context.config.sizes.phase_seconds
    pool, watch = running.pool, running.watch
    journey_id = await start_up(running.client, pool, watch)
    warm_up_events = int(await pool.fetchval("SELECT count(*) FROM events"))
    # Postgres: only this sandbox's backends (long-lived pool connections); Kafka: the whole broker.
    service_cpu = ServiceCpu(context.sandbox)
    service_cpu.mark()
    watch.mark_cpu()
    generating = asyncio.create_task(generate(running, journey_id, load, out, limit))

    accepted: list[int] = []  # read once, after the generator finished writing

    async def completed_all() -> bool:
        if generating.done():
            generating.result()  # a failed generator fails the scenario now, not at the time limit
        failed = await pool.fetchval("SELECT count(*) FROM run_status WHERE status = 'failed'")
        if failed:
            raise BenchFailure(f"{failed} runs failed")
        done = await pool.fetchval("SELECT count(*) FROM run_status WHERE status = 'completed'")
        if generating.done() and not accepted:
            accepted.append(sum(1 for r in requests_in(out) if r["status"] == 202))
        return bool(accepted and done - 1 >= accepted[0])  # - 1: the warm-up run

    try:
        await wait_for(completed_all, limit, "pipeline", watch)
    finally:
        if not generating.done():
            generating.cancel()
            with contextlib.suppress(BaseException):
                await generating
    summary = generating.result()
    cpu = {**watch.cpu_since_mark(), **service_cpu.since_mark()}
    catch_up_ms = await _projector_catch_up_ms(pool, watch, limit)
    return await pipeline_figures(
        pool, load, requests_in(out), summary, warm_up_events, watch, cpu, catch_up_ms
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

    await wait_for(caught_up, limit, "projector catch-up", watch)
    last: datetime = await pool.fetchval("SELECT max(recorded_at) FROM events")
    return round(max(caught_up_at - last.timestamp(), 0.0) * 1000, 1)


async def run(context: ScenarioContext) -> Figures:
    async with running_stack(context.sandbox, PIPELINE_ROLES) as running:
        return await _run_load(context, running, running.scratch / "triggers.jsonl")


SCENARIO = Scenario(
    "pipeline",
    "the reference journey end to end through separate role processes, triggered over HTTP at a fixed rate",
    run,
)
