"""Group commit: callers that arrive while their key's groups are in flight wait and go in the next group.

Up to `max_in_flight` groups of a key run at once. A caller that finds fewer in flight starts its own at
once, so grouping adds no wait at low load; once that many are in flight, the callers that queue behind
them go together in the next group (up to `max_items`), so N waiting callers cost one unit of work instead
of N. Each caller gets its own answer: `run_group` answers each item with a value, or with an exception
that only that item's caller sees.

A group that raises an error `shared` says is the whole group's (the store lost) fails every caller it
carried with it. Any other error may be one item's fault (a value no check foresaw), so the group is run
again in halves (`answers_apart`), down to the item whose run alone still raises: that caller alone gets
the error, every other its own answer.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger(__name__)


async def answers_apart(
    run: Callable[[Sequence[T]], Awaitable[Sequence[R]]],
    items: Sequence[T],
    shared: Callable[[Exception], bool],
) -> list[R | Exception]:
    """`run(items)`'s answers, one per item. When it raises an error that is not `shared`, the items are
    run again in halves, each half apart, down to the single item whose run still raises: that item's
    answer is the error. A `shared` error is every item's answer. `run` must be safe to repeat (the
    triggers' is, by their run ids); k items at fault among n cost about 2k·log2(n) runs."""
    try:
        answers: list[R | Exception] = list(await run(items))
    except Exception as error:
        if shared(error) or len(items) <= 1:
            return [error] * len(items)
        log.warning("a group of %d failed (%s); running it again in halves", len(items), type(error).__name__)
    else:
        if len(answers) != len(items):
            raise RuntimeError(f"a group of {len(items)} got {len(answers)} answers")
        return answers
    middle = len(items) // 2
    return [
        *await answers_apart(run, items[:middle], shared),
        *await answers_apart(run, items[middle:], shared),
    ]


@dataclass(frozen=True)
class _Waiting(Generic[T, R]):
    item: T
    answer: asyncio.Future[R]


class GroupCommit(Generic[K, T, R]):
    """`run_group(key, items)` answers every item of a group, in order, in one unit of work.

    `abandoned()` is the error callers get when their group's task is cancelled (the process stopping);
    `shared(error)` says whether a group's error is every caller's, else it is narrowed to the item at fault.
    """

    def __init__(
        self,
        run_group: Callable[[K, Sequence[T]], Awaitable[Sequence[R | Exception]]],
        *,
        max_items: int,
        max_in_flight: int,
        abandoned: Callable[[], Exception],
        shared: Callable[[Exception], bool],
    ) -> None:
        if max_items < 1 or max_in_flight < 1:
            raise ValueError("a group holds at least one item, and at least one group may be in flight")
        self._run_group = run_group
        self._max_items = max_items
        self._max_in_flight = max_in_flight
        self._abandoned = abandoned
        self._shared = shared
        self._waiting: dict[K, list[_Waiting[T, R]]] = {}
        self._in_flight: dict[K, set[asyncio.Task[None]]] = {}

    async def submit(self, key: K, item: T) -> R:
        """The item's answer, once the group that carried it is done."""
        answer: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(_Waiting(item, answer))
        running = self._in_flight.setdefault(key, set())
        if len(running) < self._max_in_flight:
            # In a context of its own: a drain outlives the caller that started it, and carries none of
            # its span or deadline into later groups.
            drain = asyncio.create_task(self._drain(key), name="group commit", context=contextvars.Context())
            running.add(drain)
            drain.add_done_callback(lambda task: self._finished(key, task))
        return await answer

    def _finished(self, key: K, drain: asyncio.Task[None]) -> None:
        running = self._in_flight.get(key, set())
        running.discard(drain)
        if not running:
            self._in_flight.pop(key, None)
        if drain.cancelled() and not running:  # the process is stopping: no drain is left to answer these
            self._fail(self._waiting.pop(key, []), self._abandoned())

    async def _drain(self, key: K) -> None:
        # No await between finding the queue empty and returning: a caller arriving later starts a drain
        # of its own, never queues behind one that is ending.
        while group := self._next_group(key):
            await self._run(key, group)

    def _next_group(self, key: K) -> list[_Waiting[T, R]]:
        waiting = [entry for entry in self._waiting.pop(key, []) if not entry.answer.done()]  # gave up
        if len(waiting) > self._max_items:
            self._waiting[key] = waiting[self._max_items :]
        return waiting[: self._max_items]

    async def _run(self, key: K, group: list[_Waiting[T, R]]) -> None:
        async def run_group(items: Sequence[T]) -> Sequence[R | Exception]:
            return await self._run_group(key, items)

        try:
            answers = await answers_apart(run_group, [entry.item for entry in group], self._shared)
        except asyncio.CancelledError:
            self._fail(group, self._abandoned())
            raise
        except Exception as error:  # answers of the wrong count: a fault of run_group itself
            self._fail(group, error)
            return
        for entry, answer in zip(group, answers, strict=True):
            if entry.answer.done():
                continue
            if isinstance(answer, Exception):
                entry.answer.set_exception(answer)
            else:
                entry.answer.set_result(answer)

    @staticmethod
    def _fail(group: list[_Waiting[T, R]], error: Exception) -> None:
        for entry in group:
            if not entry.answer.done():
                entry.answer.set_exception(error)
