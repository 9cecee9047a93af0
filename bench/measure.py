"""Timing helpers: concurrent workers over a bounded job list, and bounded waits, all with deadlines."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from bench.errors import BenchFailure

Job = TypeVar("Job")


def rate(count: int, seconds: float) -> float:
    """Items per second, rounded for reporting."""
    return round(count / seconds, 1) if seconds > 0 else 0.0


def share(figure: float, ceiling: float | None) -> float | None:
    """figure / ceiling, or None without a ceiling."""
    return round(figure / ceiling, 3) if ceiling else None


async def run_workers(
    workers: int, jobs: Sequence[Job], work: Callable[[Job], Awaitable[object]], limit_seconds: float
) -> float:
    """Run every job once across `workers` concurrent tasks; returns wall seconds. Fails past the limit."""
    deadline = time.perf_counter() + limit_seconds

    async def worker(mine: Sequence[Job]) -> None:
        for job in mine:
            if time.perf_counter() > deadline:
                raise BenchFailure(f"phase exceeded {limit_seconds:.0f}s with {len(jobs)} jobs")
            await work(job)

    started = time.perf_counter()
    async with asyncio.timeout(limit_seconds + 5):
        async with asyncio.TaskGroup() as group:
            for index in range(workers):
                group.create_task(worker(jobs[index::workers]))
    return time.perf_counter() - started


async def wait_until(
    done: Callable[[], bool], limit_seconds: float, what: str, every: float = 0.005
) -> float:
    """Poll `done` until true; returns the seconds waited. Fails past the limit."""
    started = time.perf_counter()
    while not done():
        if time.perf_counter() - started > limit_seconds:
            raise BenchFailure(f"{what}: not done after {limit_seconds:.0f}s")
        await asyncio.sleep(every)
    return time.perf_counter() - started
