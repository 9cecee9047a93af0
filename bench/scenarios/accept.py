"""`accept`: what accepting a run costs the API process alone, measured without the pipeline beside it.

Only the api role runs. Two ways in, each patient new (so each gets its data key made and its context
sealed):
- bulk: batches of 1,000 patients (quick: 100) through trigger-batch one after another, after three
  unmeasured batches. `api_cpu_ms_per_run` is the api process's CPU per run over a round of batches; the
  best and the median of five rounds are reported.
- single: one patient per POST /journeys/{id}/trigger, sent at a steady 100 a second for 20 s (quick: 50 a
  second for 4 s), as a clinic's booking system sends them one at a time. `single_api_cpu_ms_per_run` and
  `single_postgres_cpu_ms_per_run` (this sandbox's backends) are what one request costs end to end on each
  side: HTTP, authentication, its own transaction and round trips, none shared with other triggers.
With no other role taking the cores, these figures move with the trigger path's own cost, where `burst`
and `capacity` move mostly with the share of the machine the workers leave the api.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from bench.errors import BenchFailure
from bench.pipeline_figures import percentile
from bench.pipeline_stack import ServiceCpu
from bench.role_watch import cpu_seconds
from bench.scenario import Figures, Scenario, ScenarioContext
from bench.serving import Serving, patient, serving, start_runs
from bench.trigger_client import post_json

ROUNDS = 5
WARM_UP_BATCHES = 3
QUICK = (100, 2)  # batch size, batches per round
FULL = (1_000, 10)
SINGLE_QUICK = (50.0, 4.0)  # triggers per second, seconds
SINGLE_FULL = (100.0, 20.0)
SINGLE_WARM_UP = 100
CONNECTIONS = 8  # more than a paced single trigger ever has in flight on an idle machine
FIRST_SINGLE = 10**9  # single triggers' patients are numbered after every bulk one


async def run(context: ScenarioContext) -> Figures:
    size, batches = QUICK if context.config.quick else FULL
    patients = (range(first, first + size) for first in range(0, 10**9, size))  # every patient new
    per_run_ms: list[float] = []
    async with serving(context, CONNECTIONS, roles=("api",)) as served:
        for _ in range(WARM_UP_BATCHES):
            await start_runs(served, "accept", next(patients))
        for _ in range(ROUNDS):
            before = cpu_seconds(served.api_pid)
            for _ in range(batches):
                await start_runs(served, "accept", next(patients))
            per_run_ms.append((cpu_seconds(served.api_pid) - before) * 1000 / (size * batches))
        single = await _single_triggers(context, served)
    return {
        "batch_size": size,
        "runs_per_round": size * batches,
        "api_cpu_ms_per_run_best": round(min(per_run_ms), 4),
        "api_cpu_ms_per_run_median": round(statistics.median(per_run_ms), 4),
        **single,
    }


async def _single_triggers(context: ScenarioContext, served: Serving) -> Figures:
    """Paced single triggers after an unmeasured few: each side's CPU per run, and the latency."""
    per_second, seconds = SINGLE_QUICK if context.config.quick else SINGLE_FULL
    path = f"/journeys/{served.journey_id}/trigger"

    async def trigger(number: int) -> float:
        sent = time.perf_counter()
        answer = await post_json(served.triggers, path, patient(number), f"single-{number}")
        if answer.status != 202:
            raise BenchFailure(f"a single trigger answered {answer.status}: {answer.body[:300]!r}")
        return (time.perf_counter() - sent) * 1000

    for number in range(FIRST_SINGLE, FIRST_SINGLE + SINGLE_WARM_UP):
        await trigger(number)
    count = round(per_second * seconds)
    services = ServiceCpu(context.sandbox)
    services.mark()
    api_before = cpu_seconds(served.api_pid)
    started = time.perf_counter()
    sent: list[asyncio.Task[float]] = []
    for offset in range(count):
        await asyncio.sleep(max(0.0, started + offset / per_second - time.perf_counter()))
        sent.append(asyncio.create_task(trigger(FIRST_SINGLE + SINGLE_WARM_UP + offset)))
    latencies = await asyncio.gather(*sent)
    api_seconds = cpu_seconds(served.api_pid) - api_before
    postgres_seconds = services.since_mark()["postgres"]
    return {
        "single_triggers": count,
        "single_per_s": per_second,
        "single_api_cpu_ms_per_run": round(api_seconds * 1000 / count, 3),
        "single_postgres_cpu_ms_per_run": round(postgres_seconds * 1000 / count, 3),
        "single_p50_ms": round(percentile(latencies, 0.5), 1),
        "single_p99_ms": round(percentile(latencies, 0.99), 1),
    }


SCENARIO = Scenario(
    "accept", "trigger-batch and paced single triggers, api role alone: CPU per run accepted", run
)
