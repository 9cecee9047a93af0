"""`pjs dev`: every role as a supervised child process in the foreground (or the workers together in one),
until Ctrl-C / SIGTERM."""

from __future__ import annotations

import os
import shutil
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from pjs.cpu_priority import in_own_cpu_group
from pjs.process import process_name
from pjs.roles import ROLES
from pjs.settings import Settings
from pjs.supervisor import RestartPolicy, Supervisor


def restart_policy(settings: Settings) -> RestartPolicy:
    return RestartPolicy(
        settings.restart_first_seconds, settings.restart_max_seconds, settings.restart_healthy_seconds
    )


def process_layout(roles: Sequence[str], together: bool) -> list[list[str]]:
    """The roles each process runs: one role each, or (`together`) the API alone and the workers in one
    process, which on a small machine takes less memory and CPU than a process each."""
    if not together:
        return [[role] for role in roles]
    workers = [role for role in roles if role != "api"]
    return [[role] for role in roles if role == "api"] + ([workers] if workers else [])


def run_all_roles(
    settings: Settings, metrics_dir: Path, roles: list[str] | None = None, together: bool = False
) -> int:
    """Run `pjs run <role>...` for each process of the layout, restarting any that exits, until a stop
    signal arrives.

    Every child writes its Prometheus metrics to `metrics_dir` (multiprocess mode), emptied first, so
    the API's /metrics shows the timer's lateness histogram beside its own figures.
    """
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir.resolve())}
    layout = process_layout(roles or list(ROLES), together)
    supervisor = Supervisor(
        {process_name(members): [sys.executable, "-m", "pjs.cli", "run", *members] for members in layout},
        environment,
        restart_policy(settings),
        settings.shutdown_seconds,
        frozenset(
            process_name(members)
            for members in layout
            if in_own_cpu_group(members, settings.api_own_cpu_group)
        ),
    )
    stopping = False

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    # A child in a session of its own gets no signal from the terminal: on Ctrl-C or a hang-up the
    # supervisor stops every child itself.
    for stop_signal in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop_signal, request_stop)
    supervisor.run(lambda: stopping)
    return 0
