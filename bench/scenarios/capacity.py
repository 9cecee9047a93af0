"""`capacity`: the highest rate of reference-journey runs every role sustains end to end, and its CPU per run.

Every role runs as its own process (the pipeline's six plus the audit and analytics subscribers; with
BENCH_WORKERS_TOGETHER=1 the workers share one, as `pjs dev --together` runs them), with API keys and sealed
patient data as in production. After an unmeasured 3 s warm-up at the first rate, the
offered rate steps up (full: 20, 40, 60, ... runs/s, 15 s each; quick: two short low steps); each step's
runs are awaited to completion before the next starts. A step is sustained when every trigger was
accepted, the generator kept up with the offered rate, the end-to-end p99 (due time -> RunCompleted
recorded) stayed within the journey's delay + 500 ms, the runs all completed within a drain limit (a
growing backlog fails the latency bound or the limit), and the read side (projector, audit, analytics),
which no run waits for, then handled every record within that limit too (`bench.read_side`). Stepping
stops at the first step not sustained. CPU per run counts every role, this sandbox's Postgres backends and
the whole Kafka broker, from the step's first trigger until the read side has caught up; the load
generator (`bench.loadgen`, on aiohttp) is not counted: `generator_cpu_ms_per_run` shows what it took
from the machine at the step the CPU is shown for.
Each step also reports where its runs' end-to-end time went between the engine's wake-ups and its
decisions: `start_hop` (RunStarted -> the run's next event) and `resume_hop` (DelayElapsed -> the next).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from uuid import UUID

from bench.errors import BenchFailure
from bench.measure import rate
from bench.pipeline_figures import Load, hop_figures, percentile
from bench.pipeline_stack import (
    PIPELINE_ROLES,
    SUBSCRIBER_ROLES,
    RunningStack,
    ServiceCpu,
    generate,
    requests_in,
    running_stack,
)
from bench.read_side import ReadSideProgress
from bench.scenario import Figures, Scenario, ScenarioContext
from bench.scenarios.pipeline import REFERENCE_JOURNEY, start_up
from bench.topics import end_offsets

DELAY_MS = 1000.0 * sum(n.get("duration_seconds", 0) for n in REFERENCE_JOURNEY["nodes"])
P99_BOUND_MS = DELAY_MS + 500.0
QUICK_RATES = (10.0, 20.0)
QUICK_STEP_SECONDS = 4.0
FULL_RATES = tuple(float(r) for r in range(20, 401, 20))
FULL_STEP_SECONDS = 15.0
_DRAIN_SECONDS = 20.0  # after the last trigger, longer than this to finish means the backlog grew
_WARM_UP_SECONDS = 3.0
_KEPT_UP = 0.95  # the generator must send at least this share of the offered rate


@dataclass(frozen=True)
class Step:
    """One step's outcome."""

    offered_per_s: float
    runs: int
    sustained: bool
    why_not: str
    e2e_p50_ms: float
    e2e_p99_ms: float
    trigger_p99_ms: float
    runs_per_s: float
    events_per_s: float
    cpu_ms_per_run: float
    cpu_ms_per_run_by_process: dict[str, float]
    generator_cpu_ms_per_run: float  # the load generator's, not in cpu_ms_per_run
    hops_ms: Figures  # wake-up -> the engine's next event, p50 and p99 (`hop_figures`)
    read_side_after_ms: float  # from the last run's completion until the read side had every record


def steps_for(quick: bool) -> tuple[tuple[float, ...], float]:
    """The offered rates and seconds per step; BENCH_CAPACITY_RATES ("20,40") / _STEP_SECONDS override."""
    rates = os.environ.get("BENCH_CAPACITY_RATES")
    seconds = os.environ.get("BENCH_CAPACITY_STEP_SECONDS")
    chosen = tuple(float(r) for r in rates.split(",")) if rates else (QUICK_RATES if quick else FULL_RATES)
    return chosen, float(seconds) if seconds else (QUICK_STEP_SECONDS if quick else FULL_STEP_SECONDS)


async def _completed(running: RunningStack, run_ids: list[UUID]) -> bool:
    row = await running.pool.fetchrow(
        """
        SELECT count(*) FILTER (WHERE status = 'completed') AS completed,
               count(*) FILTER (WHERE status = 'failed') AS failed
        FROM run_status WHERE run_id = ANY($1::uuid[])
        """,
        run_ids,
    )
    assert row is not None
    if row["failed"]:
        raise BenchFailure(f"{row['failed']} runs failed")
    return bool(row["completed"] == len(run_ids))


async def _read_side_caught_up(running: RunningStack, limit: float) -> float | None:
    """Seconds until the projector, audit and analytics groups have handled every record on the topic
    (as it stands when called); None if they still have not after `limit` seconds."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    box = running.box
    ends = await end_offsets(box.kafka, running.topic, box.partitions)
    async with ReadSideProgress(box.kafka, running.pool, running.topic, running.groups) as progress:
        while any((await progress.behind(ends)).values()):
            if (exited := running.watch.exited()) is not None:
                raise BenchFailure(exited)
            if loop.time() - started > limit:
                return None
            await asyncio.sleep(0.2)
    return loop.time() - started


async def _drained(running: RunningStack, run_ids: list[UUID], limit: float) -> bool:
    """True once every run completed; False past `limit` seconds (a role that exits fails the scenario)."""
    deadline = asyncio.get_running_loop().time() + limit
    while not await _completed(running, run_ids):
        if (exited := running.watch.exited()) is not None:
            raise BenchFailure(exited)
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.2)
    return True


def _why_not_sustained(
    load: Load, accepted: int, sent_per_s: float, drained: bool, read_side_s: float | None, p99_ms: float
) -> str:
    """Why a step does not count as sustained; empty when it does."""
    if accepted != load.runs:
        return f"{accepted} of {load.runs} triggers accepted"
    if sent_per_s < _KEPT_UP * load.rate_per_s:
        return f"the generator sent only {sent_per_s}/s"
    if not drained:
        return f"not drained {_DRAIN_SECONDS:.0f} s after the last trigger"
    if read_side_s is None:
        return f"the read side still behind {_DRAIN_SECONDS:.0f} s after the last run completed"
    if p99_ms > P99_BOUND_MS:
        return f"e2e p99 {p99_ms:.0f} ms > {P99_BOUND_MS:.0f} ms"
    return ""


async def _step(running: RunningStack, journey_id: str, offered: float, seconds: float, first: int) -> Step:
    load = Load(max(1, round(offered * seconds)), offered)
    out = running.scratch / f"step-{first}.jsonl"
    events_before = int(await running.pool.fetchval("SELECT count(*) FROM events"))
    services = ServiceCpu(running.box)
    services.mark()
    running.watch.mark_cpu()
    summary = await generate(running, journey_id, load, out, seconds + 30, first)
    requests = requests_in(out)
    accepted = [r for r in requests if r["status"] == 202]
    run_ids = [UUID(r["run_id"]) for r in accepted]
    drained = await _drained(running, run_ids, _DRAIN_SECONDS)
    read_side_s = await _read_side_caught_up(running, _DRAIN_SECONDS) if drained else None
    cpu = {**running.watch.cpu_since_mark(), **services.since_mark()}
    rows = await running.pool.fetch(
        "SELECT run_id, recorded_at FROM events WHERE type = 'RunCompleted' AND run_id = ANY($1::uuid[])",
        run_ids,
    )
    completed_at = {row["run_id"]: row["recorded_at"].timestamp() for row in rows}
    e2e_ms = [
        (completed_at[UUID(r["run_id"])] - r["due"]) * 1000
        for r in accepted
        if UUID(r["run_id"]) in completed_at
    ]
    events = int(await running.pool.fetchval("SELECT count(*) FROM events")) - events_before
    window = max(completed_at.values(), default=0.0) - min((r["due"] for r in accepted), default=0.0)
    p99 = percentile(e2e_ms, 0.99)
    why_not = _why_not_sustained(
        load, len(accepted), float(summary["sent_rate_per_s"]), drained, read_side_s, p99
    )
    runs = max(len(accepted), 1)
    return Step(
        offered_per_s=offered,
        runs=len(accepted),
        sustained=not why_not,
        why_not=why_not,
        e2e_p50_ms=round(percentile(e2e_ms, 0.50), 1),
        e2e_p99_ms=round(p99, 1),
        trigger_p99_ms=round(percentile([float(r["ms"]) for r in accepted], 0.99), 1),
        runs_per_s=rate(len(completed_at), window),
        events_per_s=rate(events, window),
        cpu_ms_per_run=round(sum(cpu.values()) * 1000 / runs, 2),
        cpu_ms_per_run_by_process={name: round(s * 1000 / runs, 2) for name, s in cpu.items()},
        generator_cpu_ms_per_run=round(float(summary["load_cpu_s"]) * 1000 / runs, 2),
        hops_ms=await hop_figures(running.pool, run_ids),
        read_side_after_ms=round(1000 * read_side_s, 1) if read_side_s is not None else -1.0,
    )


def _memory(peak_rss_mb: dict[str, float]) -> Figures:
    """The role processes' peak resident memory: each, and their sum (Postgres and Kafka not counted)."""
    return {
        "role_processes": len(peak_rss_mb),
        "rss_mb_roles": round(sum(peak_rss_mb.values()), 1),
        **{f"rss_mb_{name}": mb for name, mb in peak_rss_mb.items()},
    }


def _figures(steps: list[Step]) -> Figures:
    sustained = [step for step in steps if step.sustained]
    top = sustained[-1] if sustained else None
    figures: Figures = {
        "max_sustained_runs_per_s": top.offered_per_s if top else 0.0,
        "cpu_ms_per_run": top.cpu_ms_per_run if top else 0.0,
        "events_per_s": top.events_per_s if top else 0.0,
        "p99_bound_ms": P99_BOUND_MS,
        "stopped_because": steps[-1].why_not or "last step reached",
    }
    shown = top or steps[0]  # where the CPU goes, at the top sustained step (else the first)
    figures["cpu_breakdown_step"] = shown.offered_per_s
    figures.update({f"cpu_ms_per_run_{n}": ms for n, ms in shown.cpu_ms_per_run_by_process.items()})
    figures["generator_cpu_ms_per_run"] = shown.generator_cpu_ms_per_run
    for step in steps:
        name = f"step_{step.offered_per_s:g}"
        figures.update(
            {
                f"{name}_sustained": step.sustained,
                f"{name}_runs": step.runs,
                f"{name}_runs_per_s": step.runs_per_s,
                f"{name}_events_per_s": step.events_per_s,
                f"{name}_e2e_p50_ms": step.e2e_p50_ms,
                f"{name}_e2e_p99_ms": step.e2e_p99_ms,
                f"{name}_trigger_p99_ms": step.trigger_p99_ms,
                f"{name}_cpu_ms_per_run": step.cpu_ms_per_run,
                f"{name}_read_side_after_ms": step.read_side_after_ms,
                **{f"{name}_{hop}": ms for hop, ms in step.hops_ms.items()},
            }
        )
    return figures


async def run(context: ScenarioContext) -> Figures:
    rates, seconds = steps_for(context.config.quick)
    async with running_stack(context.sandbox, PIPELINE_ROLES + SUBSCRIBER_ROLES) as running:
        journey_id = await start_up(running.client, running.pool, running.watch)
        # An unmeasured first load: the API's pool fills and every role has handled a full batch.
        await _step(running, journey_id, rates[0], _WARM_UP_SECONDS, 0)
        steps: list[Step] = []
        for number, offered in enumerate(rates, start=1):
            # Requests numbered apart per step: their idempotency keys and patients never repeat.
            step = await _step(running, journey_id, offered, seconds, number * 1_000_000)
            steps.append(step)
            if not step.sustained:
                break
        return {**_figures(steps), **_memory(running.watch.rss_mb())}


SCENARIO = Scenario(
    "capacity",
    "the highest offered rate of reference-journey runs sustained end to end by every role, and CPU per run",
    run,
)
