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
from bench.config import Databases

from events.broker import KafkaConnection, broker_answers
from faults.config import KAFKA_CONTROLLER_PORT, KAFKA_PORT, POSTGRES_PORT, REPO, STATE_DIR
from pjs.services.credentials import (
    POSTGRES_APP,
    POSTGRES_BOOTSTRAP_USER,
    POSTGRES_MIGRATOR,
    POSTGRES_WORKER,
    load_credentials,
    local_kafka_connection,
    local_postgres_url,
)
from pjs.services.kafka import INFRA_DIR, LocalKafka
from pjs.services.ports import listener_pids
from pjs.services.postgres import LocalPostgres
from pjs.services.processes import ServiceError

_ANSWER_ATTEMPTS = 10  # metadata round trips of up to 3 s each: a listening broker answers within seconds


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

    def databases(self) -> Databases:
        """The superuser's (to create a database per fault), the schema owner's and the application's."""
        credentials = load_credentials(self.postgres.state_dir)
        port = self.postgres.port
        return Databases(
            local_postgres_url(credentials, POSTGRES_BOOTSTRAP_USER, port, "postgres"),
            local_postgres_url(credentials, POSTGRES_MIGRATOR, port),
            local_postgres_url(credentials, POSTGRES_APP, port),
            local_postgres_url(credentials, POSTGRES_WORKER, port),
        )

    def kafka_connection(self) -> KafkaConnection:
        return local_kafka_connection(load_credentials(self.kafka.state_dir), self.kafka.port)

    async def confirm_broker_restarted(self, killed: int | None, started: bool) -> None:
        """Raise unless `up` started a new broker process that alone listens on its port and answers."""
        pid = self.kafka.pid()
        problem = restart_problem(killed, started, pid, listener_pids(self.kafka.port))
        if problem is None and not await self._broker_answers():
            problem = f"the restarted broker (pid {pid}) listens but does not answer"
        if problem is not None:
            raise ServiceError(f"kill-broker: {problem}")

    async def _broker_answers(self) -> bool:
        for _ in range(_ANSWER_ATTEMPTS):
            if await broker_answers(self.kafka_connection()):
                return True
        return False

    def postgres_processes(self) -> list[psutil.Process]:
        """The postmaster and every backend it forked (a frozen or crashed server is all of them)."""
        return _family(self.postgres.pid() if self.postgres.is_running() else None)

    def kafka_processes(self) -> list[psutil.Process]:
        return _family(self.kafka.pid() if self.kafka.is_running() else None)


def local_services() -> Services:
    return Services(
        LocalPostgres(STATE_DIR, POSTGRES_PORT), LocalKafka(STATE_DIR, KAFKA_PORT, KAFKA_CONTROLLER_PORT)
    )


def restart_problem(
    killed: int | None, started: bool, pid: int | None, listeners: set[int | None]
) -> str | None:
    """What is wrong with a broker restart after `killed` was SIGKILLed; None if a new process serves."""
    if not started:
        return f"`up` found a broker running (pid {pid}) instead of starting one"
    if pid is None or pid == killed:
        return f"`up` left pid {pid} behind, the killed one being {killed}"
    if listeners != {pid}:
        return (
            f"its port is held by {sorted(map(str, listeners)) or 'nobody'}, not the new broker (pid {pid})"
        )
    return None


def signal_all(processes: list[psutil.Process], signum: signal.Signals) -> None:
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(signum)


def kill_and_reap(processes: list[psutil.Process]) -> None:
    """SIGKILL every process and wait until each is gone, so a restart finds its ports free."""
    signal_all(processes, signal.SIGKILL)
    _gone, alive = psutil.wait_procs(processes, timeout=30)
    if alive:
        raise ServiceError(f"pids {[p.pid for p in alive]} still alive 30 s after SIGKILL")


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
