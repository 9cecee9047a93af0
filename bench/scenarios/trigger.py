"""`trigger`: 32 concurrent HTTP clients trigger the two-message journey back to back, every role running.

Closed loop: each client sends its next trigger as soon as the previous one is answered, for 20 s (quick:
3 s), each with its own Idempotency-Key, so the figures are the API's accept rate and its latency under
that concurrency. `api_cpu_ms_per_trigger` (the api process's CPU over the load, less its idle CPU, per
trigger accepted) is the figure least disturbed by the other processes sharing the machine. The clients
use aiohttp (`bench.trigger_client`); `client_cpu_ms_per_trigger` is what they cost the shared machine.
"""

from __future__ import annotations

import asyncio
import collections
import time

from bench.measure import rate
from bench.pipeline_figures import percentile
from bench.role_watch import cpu_seconds
from bench.scenario import Figures, Scenario, ScenarioContext
from bench.serving import Serving, flame_graph, patient, serving
from bench.trigger_client import TransportError, post_json

CLIENTS = 32
QUICK_SECONDS = 3.0
FULL_SECONDS = 20.0
IDLE_SECONDS = 2.0


async def _load(served: Serving, seconds: float) -> tuple[list[float], collections.Counter[str], float]:
    """Every client's triggers until `seconds` passed: latencies of the accepted, a count of the rest."""
    path = f"/journeys/{served.journey_id}/trigger"
    latencies: list[float] = []
    refused: collections.Counter[str] = collections.Counter()
    numbers = iter(range(10**9))
    started = time.perf_counter()
    deadline = started + seconds

    async def client() -> None:
        while time.perf_counter() < deadline:
            number = next(numbers)
            sent = time.perf_counter()
            try:
                answer = await post_json(served.triggers, path, patient(number), f"trigger-{number}")
            except TransportError as failure:
                refused[type(failure).__name__] += 1
                continue
            if answer.status == 202:
                latencies.append((time.perf_counter() - sent) * 1000)
            else:
                refused[f"http_{answer.status}"] += 1

    async with asyncio.TaskGroup() as group:
        for _ in range(CLIENTS):
            group.create_task(client())
    return latencies, refused, time.perf_counter() - started


async def run(context: ScenarioContext) -> Figures:
    seconds = QUICK_SECONDS if context.config.quick else FULL_SECONDS
    async with serving(context, CLIENTS) as served:
        await _load(served, min(seconds, 2.0))  # warm-up: connections, caches, the journey's first load
        idle_started, idle_cpu = time.perf_counter(), cpu_seconds(served.api_pid)
        await asyncio.sleep(IDLE_SECONDS)  # what the api spends doing nothing (pool, timers) per second
        idle_per_s = (cpu_seconds(served.api_pid) - idle_cpu) / (time.perf_counter() - idle_started)
        before, client_before = cpu_seconds(served.api_pid), time.process_time()
        async with flame_graph(served.api_pid, max(seconds - 3, 1)):
            latencies, refused, elapsed = await _load(served, seconds)
        api_cpu = cpu_seconds(served.api_pid) - before
        client_cpu = time.process_time() - client_before
    accepted = len(latencies)
    busy_cpu = api_cpu - idle_per_s * elapsed
    return {
        "clients": CLIENTS,
        "seconds": round(elapsed, 1),
        "accepted": accepted,
        "rps": rate(accepted, elapsed),
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "errors": sum(refused.values()),
        "error_kinds": ", ".join(f"{kind}={count}" for kind, count in sorted(refused.items())) or "none",
        "api_cpu_ms_per_trigger": round(busy_cpu * 1000 / accepted, 2) if accepted else 0.0,
        "api_cpu_s": round(api_cpu, 2),
        "api_idle_cpu_ms_per_s": round(idle_per_s * 1000, 1),
        # The 32 clients share the machine with the service: what they cost it (the bench process's CPU).
        "client_cpu_ms_per_trigger": round(client_cpu * 1000 / accepted, 2) if accepted else 0.0,
    }


SCENARIO = Scenario("trigger", f"{CLIENTS} concurrent HTTP triggers, closed loop, every role running", run)
