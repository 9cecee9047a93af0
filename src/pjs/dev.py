"""`pjs dev`: every role as its own supervised child process in the foreground, until Ctrl-C / SIGTERM."""

from __future__ import annotations

import os
import shutil
import signal
import sys
from pathlib import Path
from types import FrameType

from pjs.roles import ROLES
from pjs.settings import Settings
from pjs.supervisor import RestartPolicy, Supervisor


def restart_policy(settings: Settings) -> RestartPolicy:
    return RestartPolicy(
        settings.restart_first_seconds, settings.restart_max_seconds, settings.restart_healthy_seconds
    )


def run_all_roles(settings: Settings, metrics_dir: Path, roles: list[str] | None = None) -> int:
    """Run `pjs run <role>` for each role, restarting any that exits, until a stop signal arrives.

    Every child writes its Prometheus metrics to `metrics_dir` (multiprocess mode), emptied first, so
    the API's /metrics shows the timer's lateness histogram beside its own figures.
    """
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir.resolve())}
    supervisor = Supervisor(
        {role: [sys.executable, "-m", "pjs.cli", "run", role] for role in (roles or list(ROLES))},
        environment,
        restart_policy(settings),
        settings.shutdown_seconds,
    )
    stopping = False

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    supervisor.run(lambda: stopping)
    return 0
