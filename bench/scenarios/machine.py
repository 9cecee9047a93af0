"""`machine`: what the figures were measured on (cores, memory, versions, commit), for reading them later."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import time
from pathlib import Path

import asyncpg
import psutil

from bench.scenario import Figures, Scenario, ScenarioContext

_REPOSITORY = Path(__file__).resolve().parents[2]
_KAFKA_JAR = re.compile(r"^kafka_[\d.]+-(?P<version>[\w.\-]+)\.jar$")
_CPU_INFO = Path("/proc/cpuinfo")


async def run(context: ScenarioContext) -> Figures:
    config = context.config
    connection = await asyncpg.connect(context.sandbox.worker_database_url)
    try:
        postgres_version = str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()
    commit = _git("rev-parse", "HEAD")
    return {
        "cores": os.cpu_count() or 0,
        "cpu_model": cpu_model(),
        "python_loop_ms": python_loop_ms(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_1m": round(os.getloadavg()[0], 2),  # the machine is shared: how busy it was at the start
        "postgres_version": postgres_version,
        "kafka_version": "external" if config.kafka_external else kafka_version(config.state_dir),
        "git_commit": commit,
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "python_version": platform.python_version(),
        "mode": "quick" if config.quick else "full",
    }


def cpu_model() -> str:
    """The processor's name as the kernel reports it (a shared machine may move between hosts)."""
    try:
        for line in _CPU_INFO.read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def python_loop_ms(repeats: int = 5) -> float:
    """The best of `repeats` timings of one fixed pure-Python loop: how fast this processor runs Python.

    A slower processor (a shared machine moved to another host) shows here; a machine busy with other
    work does not, since the best of five finds a quiet moment: `load_1m` and the `costs` figures do.
    """
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        sum(i * i for i in range(1_000_000))
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


def kafka_version(state_dir: Path) -> str:
    """The broker version from the jar the local stack runs (e.g. kafka_2.13-4.1.1.jar -> 4.1.1)."""
    libs = state_dir / "kafka" / "libs"
    found = [m["version"] for jar in sorted(libs.glob("kafka_*.jar")) if (m := _KAFKA_JAR.match(jar.name))]
    return found[0] if found else "unknown"


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=_REPOSITORY, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip()


SCENARIO = Scenario("machine", "the machine, service versions and commit the figures come from", run)
