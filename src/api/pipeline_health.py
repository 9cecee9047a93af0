"""What the ops probes read of the pipeline's health: the roles' heartbeats, the timer's and the relay's
backlogs. Three cheap statements (migration 0025), run together, each bounded; one that fails is reported
as unavailable, never raised, so /ready and /metrics still answer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from events.heartbeats import Heartbeat, read_heartbeats
from events.pg import Queryable
from events.relay_checkpoint import CHECKPOINT_NAME

log = logging.getLogger(__name__)

CHECK_SECONDS = 2.0
T = TypeVar("T")


@dataclass(frozen=True)
class TimerBacklog:
    """`late_seconds`: since the oldest pending delay was due (negative: none is due yet; None: no delay);
    `overdue`: delays due more than the stall threshold ago, counted up to `OVERDUE_COUNT_CAP`."""

    late_seconds: float | None
    overdue: int


OVERDUE_COUNT_CAP = 10_000


@dataclass(frozen=True)
class RelayBacklog:
    """`waited_seconds`: how long the oldest committed event not yet published has waited (None: none
    waits); `events`: the newest position minus the published one (an upper bound, as the relay's own
    gauge)."""

    waited_seconds: float | None
    events: int


@dataclass(frozen=True)
class PipelineHealth:
    """None for a fact that could not be read; `unavailable` says which and why (an error type)."""

    heartbeats: list[Heartbeat] | None
    timer: TimerBacklog | None
    relay: RelayBacklog | None
    unavailable: list[str]


async def pipeline_health(db: Queryable, stall_seconds: float) -> PipelineHealth:
    """Read the heartbeats and both backlogs at once, each within `CHECK_SECONDS`."""
    unavailable: list[str] = []
    heartbeats, timer, relay = await asyncio.gather(
        _bounded("role heartbeats", read_heartbeats(db), unavailable),
        _bounded("timer backlog", _timer_backlog(db, stall_seconds), unavailable),
        _bounded("relay backlog", _relay_backlog(db), unavailable),
    )
    return PipelineHealth(heartbeats, timer, relay, sorted(unavailable))


async def _bounded(what: str, check: Awaitable[T], unavailable: list[str]) -> T | None:
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            return await check
    except Exception as error:  # a probe must answer; the failure is named instead
        log.warning("%s unavailable: %s", what, type(error).__name__)
        unavailable.append(f"{what} ({type(error).__name__})")
        return None


async def _timer_backlog(db: Queryable, stall_seconds: float) -> TimerBacklog:
    row = await db.fetchrow(
        "SELECT extract(epoch FROM now() - oldest_resume_at)::float8 AS late_seconds, overdue"
        " FROM overdue_delays(make_interval(secs => $1))",
        stall_seconds,
    )
    assert row is not None
    return TimerBacklog(row["late_seconds"], row["overdue"])


async def _relay_backlog(db: Queryable) -> RelayBacklog:
    row = await db.fetchrow(
        "SELECT extract(epoch FROM now() - oldest_recorded_at)::float8 AS waited_seconds,"
        " coalesce(newest_position - published_position, 0) AS events FROM unpublished_events($1)",
        CHECKPOINT_NAME,
    )
    assert row is not None
    waited = row["waited_seconds"]
    return RelayBacklog(waited, 0 if waited is None else max(row["events"], 1))
