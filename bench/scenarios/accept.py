"""`accept`: what accepting a run costs the API process alone, measured without the pipeline beside it.

Only the api role runs. Batches of 1,000 patients (quick: 100) go through trigger-batch one after another,
each patient new (so each gets its data key made and its context sealed), after three unmeasured batches.
`api_cpu_ms_per_run` is the api process's CPU per run over a round of batches; the best and the median of
five rounds are reported. With no other role taking the cores, this figure moves with the trigger path's
own cost, where `burst` moves mostly with the share of the machine the workers leave the api.
"""

from __future__ import annotations

import statistics

from bench.role_watch import cpu_seconds
from bench.scenario import Figures, Scenario, ScenarioContext
from bench.serving import serving, start_runs

ROUNDS = 5
WARM_UP_BATCHES = 3
QUICK = (100, 2)  # batch size, batches per round
FULL = (1_000, 10)


async def run(context: ScenarioContext) -> Figures:
    size, batches = QUICK if context.config.quick else FULL
    patients = (range(first, first + size) for first in range(0, 10**9, size))  # every patient new
    per_run_ms: list[float] = []
    async with serving(context, 1, roles=("api",)) as served:
        for _ in range(WARM_UP_BATCHES):
            await start_runs(served, "accept", next(patients))
        for _ in range(ROUNDS):
            before = cpu_seconds(served.api_pid)
            for _ in range(batches):
                await start_runs(served, "accept", next(patients))
            per_run_ms.append((cpu_seconds(served.api_pid) - before) * 1000 / (size * batches))
    return {
        "batch_size": size,
        "runs_per_round": size * batches,
        "api_cpu_ms_per_run_best": round(min(per_run_ms), 4),
        "api_cpu_ms_per_run_median": round(statistics.median(per_run_ms), 4),
    }


SCENARIO = Scenario("accept", "trigger-batch with the api role alone: its CPU per run accepted", run)
