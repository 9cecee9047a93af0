"""Watching a role process a scenario started: its peak resident memory, and the tail of its stderr."""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import psutil

_SAMPLE_SECONDS = 0.05


@dataclass
class Watch:
    """What was seen of the process so far."""

    peak_rss_bytes: int = 0
    samples: int = 0
    stderr_tail: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=20))

    @property
    def peak_rss_mb(self) -> float:
        return round(self.peak_rss_bytes / 2**20, 1)


@contextlib.asynccontextmanager
async def watched(process: asyncio.subprocess.Process) -> AsyncIterator[Watch]:
    """Sample the process's RSS with psutil every 50 ms and drain its stderr (a full pipe would stall it)."""
    watch = Watch()
    tasks = [asyncio.create_task(_sample(process.pid, watch))]
    if process.stderr is not None:
        tasks.append(asyncio.create_task(_drain(process.stderr, watch)))
    try:
        yield watch
    finally:
        _sample_once(process.pid, watch)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _sample(pid: int, watch: Watch) -> None:
    while _sample_once(pid, watch):
        await asyncio.sleep(_SAMPLE_SECONDS)


def _sample_once(pid: int, watch: Watch) -> bool:
    """One sample; the kernel's own high-water mark (VmHWM) catches a peak between samples."""
    try:
        process = psutil.Process(pid)
        rss = process.memory_info().rss
        with open(f"/proc/{pid}/status") as status:  # Linux only; elsewhere the samples alone count
            for line in status:
                if line.startswith("VmHWM:"):
                    rss = max(rss, int(line.split()[1]) * 1024)
    except (psutil.Error, OSError, ValueError):
        return False
    watch.peak_rss_bytes = max(watch.peak_rss_bytes, rss)
    watch.samples += 1
    return True


async def _drain(stream: asyncio.StreamReader, watch: Watch) -> None:
    while line := await stream.readline():
        watch.stderr_tail.append(line.decode(errors="replace").rstrip())
