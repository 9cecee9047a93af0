"""`python -m faults [--quick] [--only NAME] [--runs N]`: faults under load, results.json and a table."""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from faults.config import FULL, QUICK, RESULTS, STATE_DIR, Sizes
from faults.faults import Fault, all_faults, quick_faults
from faults.provider import running_provider
from faults.report import print_table, write_json
from faults.scenario import Outcome, run_fault
from faults.services import local_services


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m faults", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few faults with fewer runs (a few minutes)")
    parser.add_argument(
        "--only",
        action="append",
        choices=[f.name for f in all_faults()],
        help="run only this fault (repeatable)",
    )
    parser.add_argument("--runs", type=int, help="runs triggered per fault")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"results file (default {RESULTS})")
    options = parser.parse_args(argv)
    sizes = QUICK if options.quick else FULL
    if options.runs:
        sizes = replace(sizes, runs=options.runs)
    chosen = quick_faults() if options.quick else all_faults()
    if options.only:
        chosen = [fault for fault in all_faults() if fault.name in options.only]
    console = Console()
    console.print(f"faults: {', '.join(f.name for f in chosen)}; own services in {STATE_DIR}")
    outcomes = asyncio.run(_run_all(console, chosen, sizes))
    write_json(options.output, options.quick, sizes, outcomes)
    print_table(console, options.quick, outcomes)
    console.print(f"results: {options.output}")
    return 0 if all(not outcome.violations for outcome in outcomes) else 1


async def _run_all(console: Console, chosen: list[Fault], sizes: Sizes) -> list[Outcome]:
    services = local_services()
    await asyncio.to_thread(services.up)
    outcomes = []
    try:
        for fault in chosen:
            console.print(f"[bold]{fault.name}[/bold]: {fault.describes}")
            with running_provider() as provider:
                outcome = await run_fault(fault, sizes, services, provider)
            console.print(
                f"  runs {outcome.runs}/{outcome.triggered}, recovery {outcome.recovery_seconds} s, "
                f"violations {len(outcome.violations)}"
            )
            outcomes.append(outcome)
    finally:
        await asyncio.to_thread(services.down)
    return outcomes


if __name__ == "__main__":
    sys.exit(main())
