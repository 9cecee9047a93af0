"""`read`: what reading a run's status costs the API process alone.

Only the api role runs. Runs are started through trigger-batch (so each has a sealed patient context),
then 32 closed-loop clients (quick: 8) read `GET /journeys/runs/{runId}` of random ones, in five rounds of
6 s (quick: two of 1 s) after an unmeasured second. Each read is a transaction bound to the caller's
tenant: the run's head, the patient's key to open its context, and the read's audit entry.
`api_cpu_ms_per_read` is the api process's CPU per answered read over a round (best and median of the
rounds); `reads_per_s` the median round's rate. With no other role taking the cores, these move with the
read path's own cost.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time

from bench.errors import BenchFailure
from bench.pipeline_figures import percentile
from bench.role_watch import cpu_seconds
from bench.scenario import Figures, Scenario, ScenarioContext
from bench.serving import Serving, serving, start_runs

QUICK = (50, 8, 2, 1.0)  # runs, clients, rounds, seconds per round
FULL = (200, 32, 5, 6.0)
WARM_UP_SECONDS = 1.0


async def _read_for(served: Serving, run_ids: list[str], clients: int, seconds: float) -> list[float]:
    """Every client's reads until `seconds` passed: the latency of each, in ms."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            async with served.triggers.get(f"/journeys/runs/{random.choice(run_ids)}") as answer:
                await answer.read()
                if answer.status != 200:
                    raise BenchFailure(f"a run's status answered {answer.status}")
            latencies.append((time.perf_counter() - sent) * 1000)

    async with asyncio.TaskGroup() as group:
        for _ in range(clients):
            group.create_task(client())
    return latencies


async def run(context: ScenarioContext) -> Figures:
    runs, clients, rounds, seconds = QUICK if context.config.quick else FULL
    per_read_ms: list[float] = []
    rates: list[float] = []
    latencies: list[float] = []
    async with serving(context, clients, roles=("api",)) as served:
        run_ids = await start_runs(served, "read", range(runs))
        await _read_for(served, run_ids, clients, WARM_UP_SECONDS)
        for _ in range(rounds):
            before, started = cpu_seconds(served.api_pid), time.perf_counter()
            answered = await _read_for(served, run_ids, clients, seconds)
            elapsed = time.perf_counter() - started
            per_read_ms.append((cpu_seconds(served.api_pid) - before) * 1000 / len(answered))
            rates.append(len(answered) / elapsed)
            latencies.extend(answered)
    return {
        "clients": clients,
        "runs": runs,
        "reads": len(latencies),
        "reads_per_s": round(statistics.median(rates)),
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "api_cpu_ms_per_read_best": round(min(per_read_ms), 4),
        "api_cpu_ms_per_read_median": round(statistics.median(per_read_ms), 4),
    }


SCENARIO = Scenario("read", "run status reads with the api role alone: its CPU per read", run)
