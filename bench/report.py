"""Writes results.json and prints the short table of figures."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.config import BenchConfig
from bench.pipeline_stack import WORKERS_TOGETHER
from bench.runner import Outcome
from bench.scenario import Figure
from pjs.settings import Settings


def write_json(path: Path, config: BenchConfig, outcomes: Sequence[Outcome]) -> None:
    document = {
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if config.quick else "full",
        "sizes": config.sizes.__dict__,
        "cpu_sharing": cpu_sharing(),
        "scenarios": {
            outcome.name: {
                "ok": outcome.ok,
                "seconds": outcome.seconds,
                "figures": outcome.figures,
                **({"error": outcome.error} if outcome.error else {}),
            }
            for outcome in outcomes
        },
    }
    path.write_text(json.dumps(document, indent=2) + "\n")


def cpu_sharing() -> dict[str, int | bool]:
    """How the stacks' processes shared the CPU: the settings that move `trigger`, `burst` and `capacity`."""
    settings = Settings()
    return {
        "workers_together": os.environ.get(WORKERS_TOGETHER) == "1",
        "api_own_cpu_group": settings.api_own_cpu_group,
        "worker_niceness": settings.worker_niceness,
        "read_side_niceness": settings.read_side_niceness,
    }


def print_table(console: Console, config: BenchConfig, outcomes: Sequence[Outcome]) -> None:
    sharing = ", ".join(f"{name} {value}" for name, value in cpu_sharing().items())
    table = Table(title=f"pjs bench ({'quick' if config.quick else 'full'} mode)", caption=sharing)
    table.add_column("scenario")
    table.add_column("figure")
    table.add_column("value", justify="right", overflow="fold")
    for outcome in outcomes:
        if not outcome.ok:
            table.add_row(outcome.name, "[red]FAILED[/red]", outcome.error or "")
            continue
        for index, (name, value) in enumerate(outcome.figures.items()):
            table.add_row(outcome.name if index == 0 else "", name, _format(value))
        table.add_row(
            "", "[dim]scenario_seconds[/dim]", f"[dim]{outcome.seconds:.1f}[/dim]", end_section=True
        )
    console.print(table)


def _format(value: Figure) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int) or value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"
