"""Group commit: callers that arrive while their key's groups are in flight wait and go in the next group.

Up to `max_in_flight` groups of a key run at once. A caller that finds fewer in flight starts its own at
once, so grouping adds no wait at low load; once that many are in flight, the callers that queue behind
them go together in the next group (up to `max_items`), so N waiting callers cost one unit of work instead
of N. Each caller gets its own answer: `run_group` answers each item with a value, or with an exception
that only that item's caller sees.

A group that raises an error `shared` says is the whole group's (the store lost) fails every caller it
carried with it. Any other error may be one item's fault (a value no check foresaw), so the group is run
again in halves (`answers_apart`), down to the item whose run alone still raises: that caller alone gets
the error, every other its own answer. The runs again are bounded: enough to set apart a few items at
fault; an error that more parts than that hit (likely every item's) is answered to the rest of them.
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


FAULTS_SET_APART = 3
"""How many items at fault `answers_apart` is budgeted to set apart from the others of their group."""


def runs_allowed(count: int) -> int:
    """The runs `answers_apart` may spend on `count` items: the first, then two a level for each of up to
    FAULTS_SET_APART failing parts over the ceil(log2 count) levels of halving. 43 for a group of 100
    (where answering each item alone takes 199), 61 for 1,000 (1,999)."""
    return 1 + 2 * FAULTS_SET_APART * (count - 1).bit_length()


async def answers_apart(
    run: Callable[[Sequence[T]], Awaitable[Sequence[R]]],
    items: Sequence[T],
    shared: Callable[[Exception], bool],
) -> list[R | Exception]:
    """`run(items)`'s answers, one per item. When it raises an error that is not `shared`, the items are
    run again in halves, level by level, each part apart, down to the single items whose run still
    raises: such an item's answer is the error. A `shared` error is the answer of every item of the run
    that raised it; so is the error of a run that gave the wrong number of answers (`run`'s own fault).

    The runs are bounded by `runs_allowed`: enough to set apart up to FAULTS_SET_APART items at fault
    wherever they sit (k among n cost at most 1 + 2k·ceil(log2 n) runs), so a few bad items never fail
    the others. More failing parts than that most likely means an error every item hits (a bug, a
    constraint every row breaks), which halving to the end would answer in 2n-1 runs: once the budget
    is spent, the items of the parts still failing get their part's error. Stopping where both halves of
    a part fail alike was not chosen: two bad items of one kind in different halves would fail them all.
    `run` must be safe to repeat (the triggers' is, by their run ids)."""
    answers: dict[int, R | Exception] = {}
    runs_left = runs_allowed(len(items)) - 1
    whole = range(len(items))
    error = await _answer_part(run, items, whole, shared, answers)
    failing = [] if error is None else [(whole, error)]
    given_up = 0
    if error is not None:
        log.warning("a group of %d failed (%s); running it again in parts", len(items), type(error).__name__)
    while failing:
        # Level by level: when the budget runs out, every failing part has had its share of it.
        halves = [(half, cause) for part, cause in failing for half in _halves(part)]
        failing = []
        for part, cause in halves:
            if runs_left == 0:
                answers.update(dict.fromkeys(part, cause))
                given_up += len(part)
                continue
            runs_left -= 1
            error = await _answer_part(run, items, part, shared, answers)
            if error is not None:
                failing.append((part, error))
    if given_up:
        log.warning(
            "a group of %d: %d items answered with their part's error once %d runs were spent",
            len(items), given_up, runs_allowed(len(items)),
        )  # fmt: skip
    return [answers[index] for index in whole]


def _halves(part: range) -> tuple[range, range]:
    middle = len(part) // 2
    return part[:middle], part[middle:]


async def _answer_part(
    run: Callable[[Sequence[T]], Awaitable[Sequence[R]]],
    items: Sequence[T],
    part: range,
    shared: Callable[[Exception], bool],
    answers: dict[int, R | Exception],
) -> Exception | None:
    """Runs the part's items and records their answers; the error to narrow down in halves, if any."""
    try:
        answered: list[R | Exception] = list(await run([items[index] for index in part]))
    except Exception as error:
        if not shared(error) and len(part) > 1:
            return error
        answered = [error] * len(part)
    if len(answered) != len(part):
        answered = [RuntimeError(f"a run of {len(part)} items gave {len(answered)} answers")] * len(part)
    answers.update(zip(part, answered, strict=True))
    return None


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
        except Exception as error:  # a fault of `shared` itself: the callers are answered all the same
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
