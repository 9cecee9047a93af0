"""Waiting in a role's loop: for a stop request, or for a wake-up hint, never longer than asked."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from enum import Enum
from typing import Any, Final, TypeVar

T = TypeVar("T")


class Abandoned(Enum):
    """The type of `ABANDONED`, alone in it, so a type checker tells it apart from any result."""

    ABANDONED = "abandoned"


ABANDONED: Final = Abandoned.ABANDONED
"""What a stop-aware helper returns instead of the work's result when it stopped before the work was done
(stop was set, or the caller gave up): never a value the work itself could return, None included."""


async def sleep_unless_stopped(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less if `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def wait_for_stop_or(stop: asyncio.Event, wake: asyncio.Event, at_most: float) -> None:
    """Wait until `stop` or `wake` is set, `at_most` seconds at the longest."""
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=at_most, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def unless_stopped_for(
    work: Coroutine[Any, Any, T], stop: asyncio.Event, grace: float
) -> T | Abandoned:
    """`work`'s result; or `ABANDONED`, with `work` cancelled, once `stop` was set `grace` seconds ago."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait((task, stopping), return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            await asyncio.wait((task,), timeout=grace)
        if not task.done():
            task.cancel()
            await asyncio.wait((task,))
            if task.cancelled() or task.exception() is not None:
                return ABANDONED
        return task.result()
    finally:
        stopping.cancel()
        task.cancel()
