"""Watching role processes a scenario started: their logs kept out of the way, peak RSS and CPU per role."""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psutil

_SAMPLE_SECONDS = 0.25
_TAIL_LINES = 20


@dataclass
class RoleWatch:
    """Per role: the last lines of its log, its peak RSS and its CPU seconds since `mark_cpu`."""

    processes: Mapping[str, asyncio.subprocess.Process]
    log_dir: Path
    tails: dict[str, collections.deque[str]] = field(default_factory=dict)
    peak_rss: dict[str, int] = field(default_factory=dict)
    _cpu_marks: dict[str, float] = field(default_factory=dict)

    def exited(self) -> str | None:
        """A description of the first role that has exited (with its last log lines), or None."""
        for role, process in self.processes.items():
            if process.returncode is not None:
                tail = " | ".join(self.tails.get(role, ()))[-600:]
                return f"role {role} exited with code {process.returncode}: {tail}"
        return None

    def mark_cpu(self) -> None:
        """Start counting CPU seconds from now (e.g. when the measured load starts)."""
        self._cpu_marks = {role: cpu_seconds(p.pid) for role, p in self.processes.items()}

    def cpu_since_mark(self) -> dict[str, float]:
        return {
            role: round(cpu_seconds(p.pid) - self._cpu_marks.get(role, 0.0), 1)
            for role, p in self.processes.items()
        }

    def rss_mb(self) -> dict[str, float]:
        return {role: round(self.peak_rss.get(role, 0) / 2**20, 1) for role in self.processes}

    async def _drain(self, role: str, stream: asyncio.StreamReader) -> None:
        """Copy the role's stderr (its log) to a file, so a chatty role never blocks on a full pipe."""
        tail = self.tails.setdefault(role, collections.deque(maxlen=_TAIL_LINES))
        with (self.log_dir / f"{role}.log").open("wb") as log:
            while line := await stream.readline():
                log.write(line)
                tail.append(line.decode(errors="replace").rstrip())

    async def _sample(self) -> None:
        handles = {role: psutil.Process(p.pid) for role, p in self.processes.items()}
        while True:
            for role, handle in handles.items():
                with contextlib.suppress(psutil.Error):
                    self.peak_rss[role] = max(self.peak_rss.get(role, 0), handle.memory_info().rss)
            await asyncio.sleep(_SAMPLE_SECONDS)


def cpu_seconds(pid: int) -> float:
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user + times.system)


def service_cpu_seconds(pid: int | None, only: str | None = None) -> float:
    """CPU seconds of a service process's children (Postgres forks a backend per connection), or of the
    process itself when `only` is None. With `only`, just the children whose command line names it (the
    backends of one database): the services are shared with whoever else uses the machine."""
    if pid is None:
        return 0.0
    try:
        root = psutil.Process(pid)
        family = [root] if only is None else root.children(recursive=True)
    except psutil.Error:
        return 0.0
    total = 0.0
    for process in family:
        with contextlib.suppress(psutil.Error):
            if only is None or only in " ".join(process.cmdline()):
                times = process.cpu_times()
                total += times.user + times.system
    return total


@contextlib.asynccontextmanager
async def watching(
    processes: Mapping[str, asyncio.subprocess.Process], log_dir: Path
) -> AsyncIterator[RoleWatch]:
    """Drain every role's stderr into `log_dir/<role>.log` and sample RSS until the block ends."""
    watch = RoleWatch(processes, log_dir)
    tasks = [asyncio.create_task(watch._drain(role, p.stderr)) for role, p in processes.items() if p.stderr]
    tasks.append(asyncio.create_task(watch._sample()))
    try:
        yield watch
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
