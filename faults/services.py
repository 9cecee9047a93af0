"""The suite's own Postgres and Kafka (in .pjs-faults, on ports below 32768), and the signals it sends them.

Only processes this suite started are ever signalled: their pids come from this state dir's pid files.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psutil

from faults.config import KAFKA_CONTROLLER_PORT, KAFKA_PORT, POSTGRES_PORT, REPO, STATE_DIR
from pjs.services.kafka import INFRA_DIR, LocalKafka
from pjs.services.postgres import LocalPostgres
from pjs.services.processes import ServiceError


@dataclass(frozen=True)
class Services:
    postgres: LocalPostgres
    kafka: LocalKafka

    def up(self) -> None:
        _reuse_kafka_jars(self.kafka)
        self.postgres.up()
        self.kafka.up()

    def down(self) -> None:
        self.kafka.down()
        self.postgres.down()

    def postgres_processes(self) -> list[psutil.Process]:
        """The postmaster and every backend it forked (a frozen or crashed server is all of them)."""
        return _family(self.postgres.pid() if self.postgres.is_running() else None)

    def kafka_processes(self) -> list[psutil.Process]:
        return _family(self.kafka.pid() if self.kafka.is_running() else None)


def local_services() -> Services:
    return Services(
        LocalPostgres(STATE_DIR, POSTGRES_PORT), LocalKafka(STATE_DIR, KAFKA_PORT, KAFKA_CONTROLLER_PORT)
    )


def signal_all(processes: list[psutil.Process], signum: signal.Signals) -> None:
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(signum)


def kill_and_reap(processes: list[psutil.Process]) -> None:
    """SIGKILL every process and wait until each is gone, so a restart finds its ports free."""
    signal_all(processes, signal.SIGKILL)
    psutil.wait_procs(processes, timeout=30)


def _family(pid: int | None) -> list[psutil.Process]:
    if pid is None:
        raise ServiceError("the service to signal is not running")
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def _reuse_kafka_jars(kafka: LocalKafka) -> None:
    """Hard-link the broker jars of an existing local stack (same pom) instead of fetching them again."""
    pom = (INFRA_DIR / "pom.xml").read_text()
    marker = kafka.libs_dir / ".complete"
    if marker.exists() and marker.read_text() == pom:
        return
    for source in _jar_dirs():
        source_marker = source / ".complete"
        if source_marker.exists() and source_marker.read_text() == pom:
            shutil.rmtree(kafka.libs_dir, ignore_errors=True)
            shutil.copytree(source, kafka.libs_dir, copy_function=_link_or_copy)
            return


def _jar_dirs() -> list[Path]:
    """The default state dir of this checkout and of the main checkout (when this is a git worktree)."""
    candidates = [REPO / ".pjs" / "kafka" / "libs"]
    found = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--path-format=absolute", "--git-common-dir"],
        capture_output=True,
        text=True,
    )
    if found.returncode == 0 and found.stdout.strip():
        candidates.append(Path(found.stdout.strip()).parent / ".pjs" / "kafka" / "libs")
    return [path for path in candidates if path.is_dir()]


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
