"""Figures computed afterwards from the database and the generator's lines.

The `pipeline` scenario's, `capacity`'s wake-up hops, and the percentile the scenarios share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from bench.errors import BenchFailure
from bench.measure import rate
from bench.role_watch import RoleWatch
from bench.scenario import Figures


@dataclass(frozen=True)
class Load:
    runs: int
    rate_per_s: float


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


async def pipeline_figures(
    pool: asyncpg.Pool,
    load: Load,
    requests: list[dict[str, Any]],
    summary: dict[str, Any],
    warm_up_events: int,
    watch: RoleWatch,
    cpu: dict[str, float],
    catch_up_ms: float,
) -> Figures:
    accepted = [r for r in requests if r["status"] == 202]
    if len(accepted) != load.runs:
        statuses = sorted({r["status"] for r in requests if r["status"] != 202})
        raise BenchFailure(f"{len(accepted)} of {load.runs} triggers accepted (other statuses: {statuses})")
    rows = await pool.fetch("SELECT run_id, recorded_at FROM events WHERE type = 'RunCompleted'")
    completed_at = {row["run_id"]: row["recorded_at"].timestamp() for row in rows}
    e2e_ms = [(completed_at[UUID(r["run_id"])] - r["due"]) * 1000 for r in accepted]
    first_due = min(r["due"] for r in accepted)
    window = max(completed_at[UUID(r["run_id"])] for r in accepted) - first_due
    events = int(await pool.fetchval("SELECT count(*) FROM events")) - warm_up_events
    trigger_ms = [float(r["ms"]) for r in accepted]
    figures: Figures = {
        "runs": len(accepted),
        "triggers_refused_503": sum(int(r.get("refused", 0)) for r in requests),
        "offered_rate_per_s": load.rate_per_s,
        "sent_rate_per_s": float(summary["sent_rate_per_s"]),
        "runs_per_s": rate(len(accepted), window),
        "events_per_s": rate(events, window),
        "events_per_run": round(events / len(accepted), 2),
        "trigger_p50_ms": round(percentile(trigger_ms, 0.50), 1),
        "trigger_p99_ms": round(percentile(trigger_ms, 0.99), 1),
        "e2e_p50_ms": round(percentile(e2e_ms, 0.50), 1),
        "e2e_p99_ms": round(percentile(e2e_ms, 0.99), 1),
        "e2e_max_ms": round(max(e2e_ms), 1),
        "projector_catch_up_ms": catch_up_ms,
    }
    figures.update({f"rss_mb_{role}": mb for role, mb in watch.rss_mb().items()})
    figures.update({f"cpu_s_{name}": seconds for name, seconds in cpu.items()})
    figures["cpu_s_loadgen"] = float(summary["cpu_s"])
    return figures


WAKE_UP_HOPS = {"RunStarted": "start_hop", "DelayElapsed": "resume_hop"}
"""The hops through the relay, Kafka and the engine a run's end-to-end time holds, named by their wake-up."""


async def hop_figures(pool: asyncpg.Pool, run_ids: Sequence[UUID]) -> Figures:
    """p50 / p99 ms from each wake-up (RunStarted, DelayElapsed) to the run's next event, by `recorded_at`:
    the time the relay, Kafka and the engine took to act on it."""
    rows = await pool.fetch(
        """
        SELECT woken.type, extract(epoch FROM next.recorded_at - woken.recorded_at) * 1000 AS ms
        FROM events woken JOIN events next ON next.run_id = woken.run_id AND next.version = woken.version + 1
        WHERE woken.run_id = ANY($1::uuid[]) AND woken.type = ANY($2::text[])
        """,
        list(run_ids),
        list(WAKE_UP_HOPS),
    )
    figures: Figures = {}
    for wake_up, name in WAKE_UP_HOPS.items():
        gaps = [float(row["ms"]) for row in rows if row["type"] == wake_up]
        figures[f"{name}_p50_ms"] = round(percentile(gaps, 0.50), 1)
        figures[f"{name}_p99_ms"] = round(percentile(gaps, 0.99), 1)
    return figures
