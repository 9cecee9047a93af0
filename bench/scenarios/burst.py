"""`burst`: 10,000 runs (quick: 300) of the two-message journey triggered at once through trigger-batch.

Batches of 1,000 (quick: 100) go out over a few concurrent requests; `accepted_per_s` is runs over the
time until every batch was answered, `all_completed_s` the time from the first request until every run
is completed (both messages sent), with every role running.
"""

from __future__ import annotations

import asyncio
import time

from bench.errors import BenchFailure
from bench.measure import rate
from bench.pipeline_stack import wait_for
from bench.scenario import Figures, Scenario, ScenarioContext
from bench.serving import Serving, flame_graph, serving, trigger_batch

CONCURRENT_REQUESTS = 4
QUICK = (300, 100)  # runs, batch size
FULL = (10_000, 1_000)


async def _send(served: Serving, runs: int, size: int) -> int:
    """Every batch, `CONCURRENT_REQUESTS` at a time; the number of runs accepted."""
    batches = [range(start, min(start + size, runs)) for start in range(0, runs, size)]
    gate = asyncio.Semaphore(CONCURRENT_REQUESTS)

    async def one(numbers: range) -> int:
        async with gate:
            answer = await trigger_batch(served, "burst", numbers)
        return int(answer["accepted"])

    return sum(await asyncio.gather(*(one(numbers) for numbers in batches)))


async def run(context: ScenarioContext) -> Figures:
    runs, size = QUICK if context.config.quick else FULL
    limit = context.config.sizes.phase_seconds
    async with serving(context, CONCURRENT_REQUESTS) as served:
        served.watch.mark_cpu()
        started = time.perf_counter()
        async with flame_graph(served.api_pid, 10):
            accepted = await _send(served, runs, size)
        accepted_s = time.perf_counter() - started

        async def all_completed() -> bool:
            done = await served.pool.fetchval("SELECT count(*) FROM run_status WHERE status = 'completed'")
            return bool(done >= runs)

        await wait_for(all_completed, limit, "burst completion", served.watch)
        completed_s = time.perf_counter() - started
        cpu = served.watch.cpu_since_mark()
    if accepted != runs:
        raise BenchFailure(f"{runs - accepted} of {runs} runs refused")
    return {
        "runs": runs,
        "batch_size": size,
        "accepted_s": round(accepted_s, 2),
        "accepted_per_s": rate(runs, accepted_s),
        "all_completed_s": round(completed_s, 1),
        "completed_per_s": rate(runs, completed_s),
        "api_cpu_s": cpu["api"],
        "engine_cpu_s": cpu["engine"],
    }


SCENARIO = Scenario(
    "burst", "10,000 runs at once through trigger-batch, every role running, until all complete", run
)
