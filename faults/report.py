"""Writes faults/results.json and prints the table: per fault, runs, recovery seconds and violations."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from faults.config import Sizes
from faults.scenario import Outcome


def write_json(path: Path, quick: bool, sizes: Sizes, outcomes: Sequence[Outcome]) -> None:
    document = {
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if quick else "full",
        "sizes": asdict(sizes),
        "faults": [asdict(outcome) for outcome in outcomes],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")


def print_table(console: Console, quick: bool, outcomes: Sequence[Outcome]) -> None:
    table = Table(title=f"pjs faults ({'quick' if quick else 'full'} mode)")
    table.add_column("fault")
    table.add_column("runs", justify="right")
    table.add_column("recovery s", justify="right")
    table.add_column("/ready during fault")
    table.add_column("violations", overflow="fold")
    for outcome in outcomes:
        recovery = "-" if outcome.recovery_seconds is None else f"{outcome.recovery_seconds:.1f}"
        violations = "\n".join(outcome.violations) if outcome.violations else "[green]none[/green]"
        table.add_row(
            outcome.fault,
            f"{outcome.runs}/{outcome.triggered}",
            recovery,
            ", ".join(outcome.ready_seen),
            violations,
        )
    console.print(table)
