"""`python -m bench [--scenario NAME ...]`: run scenarios, write bench/results.json, print the table."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from rich.console import Console

from bench.config import load_config
from bench.registry import SCENARIOS, by_name
from bench.report import print_table, write_json
from bench.runner import run_all

RESULTS = Path(__file__).resolve().parent / "results.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--scenario",
        action="append",
        choices=[s.name for s in SCENARIOS],
        help="run only this scenario (repeatable); default: all, in registry order",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"results file (default {RESULTS})")
    options = parser.parse_args(argv)
    config = load_config(options.output)
    chosen = [by_name(name) for name in options.scenario] if options.scenario else list(SCENARIOS)
    console = Console()
    console.print(f"bench: {', '.join(s.name for s in chosen)} ({'quick' if config.quick else 'full'} mode)")
    outcomes = asyncio.run(run_all(config, chosen))
    write_json(config.results_path, config, outcomes)
    print_table(console, config, outcomes)
    console.print(f"results: {config.results_path}")
    return 0 if all(outcome.ok for outcome in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
