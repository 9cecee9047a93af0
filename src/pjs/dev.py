"""`pjs dev`: every role as its own child process in the foreground, stopped together on Ctrl-C / SIGTERM."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from pjs.roles import ROLES


def run_all_roles(metrics_dir: Path, roles: list[str] | None = None) -> int:
    """Start `pjs run <role>` for each role; when one exits or a stop signal arrives, stop the others.

    Every child writes its Prometheus metrics to `metrics_dir` (multiprocess mode), emptied first, so
    the API's /metrics shows the timer's lateness histogram beside its own figures.
    """
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir.resolve())}
    children = {
        role: subprocess.Popen([sys.executable, "-m", "pjs.cli", "run", role], env=environment)
        for role in (roles or list(ROLES))
    }
    stopping = False

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    exit_code = 0
    while not stopping:
        for role, child in children.items():
            if child.poll() is not None:
                print(
                    f"role {role} exited with code {child.returncode}; stopping the others", file=sys.stderr
                )
                exit_code = child.returncode or 1
                stopping = True
        time.sleep(0.2)
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children.values():
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
    return exit_code
