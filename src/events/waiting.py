"""Waiting in a role's loop: for a stop request, or for a wake-up hint, never longer than asked."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


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


async def unless_stopped_for(work: Coroutine[Any, Any, T], stop: asyncio.Event, grace: float) -> T | None:
    """`work`'s result; or None, with `work` cancelled, once `stop` has been set for `grace` seconds."""
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
                return None  # abandoned
        return task.result()
    finally:
        stopping.cancel()
        task.cancel()
