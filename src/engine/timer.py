"""The timer: fires due delays (DelayElapsed) in batches, sleeping until the next resume_at in between.

Due-ness is judged by the database clock only, so a delay never fires early. Each batch is one
transaction: claim due rows oldest first (`FOR UPDATE SKIP LOCKED`, so several timers share the work),
append DelayElapsed at each run's head, and let the delays projection delete the rows. A crash rolls the
whole batch back; nothing fires twice. One sleep for the whole table, never a task per sleeping run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from uuid import UUID

import asyncpg

from engine.delays import DELAY_SCHEDULED_CHANNEL
from engine.timer_metrics import TIMER_LATENESS, TIMERS_FIRED
from events.catalogue import DelayElapsed, stamp
from events.errors import CONNECTION_ERRORS, AppendRaced, StoreUnavailable
from events.pg import Connection
from events.store import AppendRequest, PostgresEventStore
from events.waiting import sleep_unless_stopped, wait_for_stop_or

log = logging.getLogger(__name__)

_RACE_RETRIES: Final = 5
_RETRYABLE: Final[tuple[type[BaseException], ...]] = (
    StoreUnavailable,
    AppendRaced,
    asyncpg.TransactionRollbackError,
    *CONNECTION_ERRORS,
)

_CLAIM_DUE = """
SELECT d.run_id, d.node_id, d.resume_at, r.version AS head, now() AS fired_at,
       (r.status = 'waiting_delay' AND r.current_node_id = d.node_id) AS waiting,
       e.event_id AS started_event_id, (e.metadata->>'correlation_id')::uuid AS correlation_id
FROM delays d
JOIN run_status r ON r.run_id = d.run_id
LEFT JOIN events e ON e.run_id = d.run_id AND e.version = d.started_version
WHERE d.resume_at <= now()
  AND pg_try_advisory_xact_lock(run_lock_key(d.run_id))  -- a run being written now is skipped, not awaited
ORDER BY d.resume_at
LIMIT $1
FOR UPDATE OF d, r SKIP LOCKED
"""


@dataclass(frozen=True)
class TimerConfig:
    batch_size: int = 1000
    max_sleep_seconds: float = 1.0  # fallback poll, should a notification be missed
    retry_seconds: float = 1.0


class Timer:
    """Run with `await timer.run(stop)`; several timers may run against one database."""

    def __init__(self, pool: asyncpg.Pool, store: PostgresEventStore, config: TimerConfig) -> None:
        self._pool = pool
        self._store = store
        self._config = config
        self.fired = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._serve(stop)
            except _RETRYABLE as error:
                log.warning("timer interrupted (%s); retrying", type(error).__name__)
                await sleep_unless_stopped(stop, self._config.retry_seconds)

    async def _serve(self, stop: asyncio.Event) -> None:
        wake_up = _WakeUp()
        async with self._pool.acquire() as listener:
            await listener.add_listener(DELAY_SCHEDULED_CHANNEL, wake_up.on_notify)
            try:
                while not stop.is_set():
                    if await self.fire_due() >= self._config.batch_size:
                        continue  # a backlog: drain it in full batches, oldest first
                    wake_up.expect(None)  # until the next due time is known, any new delay wakes us
                    next_due, db_now = await self._next_due()
                    wake_up.expect(next_due)
                    seconds = self._config.max_sleep_seconds
                    if next_due is not None:
                        seconds = min(seconds, max((next_due - db_now).total_seconds(), 0.0))
                    await wait_for_stop_or(stop, wake_up.earlier, seconds)
            finally:
                with contextlib.suppress(*CONNECTION_ERRORS):
                    await listener.remove_listener(DELAY_SCHEDULED_CHANNEL, wake_up.on_notify)

    async def fire_due(self) -> int:
        """Fire one batch of due delays; returns how many rows it claimed."""
        for attempt in range(1, _RACE_RETRIES + 1):
            try:
                async with self._pool.acquire() as connection, connection.transaction():
                    claimed, fired = await self._fire_in(connection)
            except (AppendRaced, asyncpg.TransactionRollbackError):
                if attempt == _RACE_RETRIES:
                    raise
                continue  # a run moved under us: the whole batch rolled back; claim again
            for resume_at, fired_at in fired:
                TIMER_LATENESS.observe((fired_at - resume_at).total_seconds())
            TIMERS_FIRED.inc(len(fired))
            self.fired += len(fired)
            return claimed
        raise AssertionError("unreachable")

    async def _fire_in(self, connection: Connection) -> tuple[int, list[tuple[datetime, datetime]]]:
        rows = await connection.fetch(_CLAIM_DUE, self._config.batch_size)
        orphans = [row["run_id"] for row in rows if not row["waiting"]]
        if orphans:  # cannot happen while the projections hold; never let such a row block the queue
            log.warning("timer: dropping %d delay row(s) whose run is not waiting there", len(orphans))
            await connection.execute("DELETE FROM delays WHERE run_id = ANY($1::uuid[])", orphans)
        due = [row for row in rows if row["waiting"]]
        if not due:
            return len(rows), []
        outcome = await self._store.append_many_in(connection, [_elapsed(row) for row in due])
        # A conflicting run keeps its row (nothing was appended for it); the next batch claims it again.
        fired = [(row["resume_at"], row["fired_at"]) for row in due if row["run_id"] in outcome.appended]
        return len(rows), fired

    async def _next_due(self) -> tuple[datetime | None, datetime]:
        row = await self._pool.fetchrow(
            "SELECT min(resume_at) AS next_due, clock_timestamp() AS now FROM delays"
        )
        assert row is not None
        return row["next_due"], row["now"]


def _elapsed(row: asyncpg.Record) -> AppendRequest:
    run_id: UUID = row["run_id"]
    event = DelayElapsed(node_id=row["node_id"], resume_at=row["resume_at"], fired_at=row["fired_at"])
    envelopes = stamp(
        run_id,
        row["head"],
        [event],
        now=row["fired_at"],
        causation_id=row["started_event_id"],
        correlation_id=row["correlation_id"],
    )
    return AppendRequest(run_id, row["head"], envelopes)


class _WakeUp:
    """Set `earlier` when a delay is scheduled before the time the timer plans to wake up."""

    def __init__(self) -> None:
        self.earlier = asyncio.Event()
        self._planned: datetime | None = None

    def expect(self, planned: datetime | None) -> None:
        """None: the plan is being worked out, so every notification counts as earlier."""
        if planned is None:
            self.earlier.clear()
        self._planned = planned

    def on_notify(self, _connection: Connection, _pid: int, _channel: str, payload: object) -> None:
        try:
            resume_at = datetime.fromisoformat(str(payload))
        except ValueError:
            resume_at = datetime.min.replace(tzinfo=UTC)
        if self._planned is None or resume_at < self._planned:
            self.earlier.set()
