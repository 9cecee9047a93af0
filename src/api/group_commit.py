"""Group commit: callers that arrive while a group of their key is being written wait and go in the next one.

A lone caller waits for nothing: its group starts at once. Under load, the callers that queued behind an
in-flight group all go in the next (up to `max_items`), so N waiting callers cost one transaction instead
of N. Each caller gets its own answer; a group that fails fails every caller it carried with its error.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class _Waiting(Generic[T, R]):
    item: T
    answer: asyncio.Future[R]


class GroupCommit(Generic[K, T, R]):
    """`run_group(key, items)` answers every item of a group, in order, in one unit of work."""

    def __init__(self, run_group: Callable[[K, Sequence[T]], Awaitable[Sequence[R]]], max_items: int) -> None:
        if max_items < 1:
            raise ValueError("a group holds at least one item")
        self._run_group = run_group
        self._max_items = max_items
        self._waiting: dict[K, list[_Waiting[T, R]]] = {}
        self._draining: dict[K, asyncio.Task[None]] = {}

    async def submit(self, key: K, item: T) -> R:
        """The item's answer, once the group that carried it is done."""
        answer: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(_Waiting(item, answer))
        if key not in self._draining:  # in a context of its own: it outlives the caller that started it
            drain = asyncio.create_task(self._drain(key), name="group commit", context=contextvars.Context())
            self._draining[key] = drain
        return await answer

    async def _drain(self, key: K) -> None:
        # No await between finding the queue empty and leaving the map: a caller arriving later starts
        # a new drain, never queues behind one that is ending.
        try:
            while group := self._next_group(key):
                await self._run(key, group)
        finally:
            del self._draining[key]

    def _next_group(self, key: K) -> list[_Waiting[T, R]]:
        waiting = [entry for entry in self._waiting.pop(key, []) if not entry.answer.done()]  # gave up
        if len(waiting) > self._max_items:
            self._waiting[key] = waiting[self._max_items :]
        return waiting[: self._max_items]

    async def _run(self, key: K, group: list[_Waiting[T, R]]) -> None:
        try:
            answers = await self._run_group(key, [entry.item for entry in group])
        except asyncio.CancelledError:  # shutting down: nobody will answer these callers
            for entry in group + self._waiting.pop(key, []):
                entry.answer.cancel()
            raise
        except Exception as error:  # every caller of the group gets the group's failure
            for entry in group:
                if not entry.answer.done():
                    entry.answer.set_exception(error)
            return
        for entry, answer in zip(group, answers, strict=True):
            if not entry.answer.done():
                entry.answer.set_result(answer)
