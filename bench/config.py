"""What a benchmark run measures against and how big it is: endpoints, quick or full sizes, time limits."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from events.broker import KafkaConnection
from pjs.settings import Settings


@dataclass(frozen=True)
class Sizes:
    """How much work each scenario does; every loop is bounded by these counts and by `phase_seconds`."""

    writers: int  # concurrent connections / writer tasks for Postgres phases
    batch_events: int  # events per append (and rows per raw INSERT)
    raw_rows: int
    raw_single_rows: int
    kafka_messages: int
    append_events: int
    single_appends: int
    relay_events: int
    partitions: int  # of every benchmark topic, as the run-events topic has by default
    phase_seconds: float  # a measured phase that runs longer than this fails its scenario
    scenario_seconds: float  # hard limit for one scenario, set-up and clean-up included


QUICK = Sizes(
    writers=16,
    batch_events=5,
    raw_rows=5_000,
    raw_single_rows=1_000,
    kafka_messages=5_000,
    append_events=5_000,
    single_appends=1_000,
    relay_events=3_000,
    partitions=12,
    phase_seconds=30,
    scenario_seconds=90,
)

FULL = Sizes(
    writers=16,
    batch_events=5,
    raw_rows=200_000,
    raw_single_rows=50_000,
    kafka_messages=200_000,
    append_events=200_000,
    single_appends=50_000,
    relay_events=100_000,
    partitions=12,
    phase_seconds=600,
    scenario_seconds=1_800,
)


@dataclass(frozen=True)
class Databases:
    """The DSNs a run uses: a superuser's to create databases, the schema owner's, the API's (bound to one
    tenant by row-level security) and the workers' (every tenant)."""

    admin_url: str
    migration_url: str
    app_url: str
    worker_url: str


@dataclass(frozen=True)
class BenchConfig:
    """One benchmark run's settings."""

    quick: bool
    sizes: Sizes
    databases: Databases  # scenarios create their own database next to these
    kafka: KafkaConnection
    kafka_external: bool
    state_dir: Path
    results_path: Path


def _with_time_limits(sizes: Sizes) -> Sizes:
    """BENCH_PHASE_SECONDS / BENCH_SCENARIO_SECONDS raise the limits, for a longer run than full mode's."""
    phase = os.environ.get("BENCH_PHASE_SECONDS")
    scenario = os.environ.get("BENCH_SCENARIO_SECONDS")
    return replace(
        sizes,
        phase_seconds=float(phase) if phase else sizes.phase_seconds,
        scenario_seconds=float(scenario) if scenario else sizes.scenario_seconds,
    )


def load_config(results_path: Path) -> BenchConfig:
    """Read BENCH_QUICK and the PJS_* endpoints (unset = the local stack of `pjs services up`)."""
    quick = os.environ.get("BENCH_QUICK", "").strip().lower() not in ("", "0", "false", "no")
    settings = Settings()
    return BenchConfig(
        quick=quick,
        sizes=_with_time_limits(QUICK if quick else FULL),
        databases=Databases(
            settings.resolved_admin_database_url(),
            settings.resolved_migration_database_url(),
            settings.resolved_database_url(),
            settings.resolved_worker_database_url(),
        ),
        kafka=settings.kafka_connection(),
        kafka_external=settings.kafka_bootstrap is not None,
        state_dir=settings.state_dir,
        results_path=results_path,
    )
