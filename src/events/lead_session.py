"""The relay leader's Postgres session: ended by Postgres once its client goes silent, never while it is well.

The lead is a session advisory lock, released only when the session ends. A leader that is frozen (SIGSTOP,
a VM pause, a blocked event loop) keeps its TCP connection open, since its kernel still answers the
keepalives, so without more the lock would stay held and no standby could take over. The lead session
therefore carries `idle_session_timeout` (Postgres 14+): Postgres ends a session that has waited for its
client, outside a transaction, longer than `LEAD_IDLE_SECONDS`; `idle_in_transaction_session_timeout`
gets the same bound, for a leader frozen inside its one short transaction (parked events and checkpoint).
A healthy leader touches its session at least every `LEAD_IDLE_SECONDS / 3` (`BusySession`), also while
it waits for Kafka or for a hint, so only a leader that stopped running loses the lead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from events.pg import Connection

T = TypeVar("T")

LEAD_IDLE_SECONDS = 10.0
"""How long a leader may leave its session silent before Postgres ends it, releasing the lead: a standby
takes over within about this plus its one-second retry. Ten seconds is well past any pause of a healthy
leader between two statements (it speaks at least every 3.3 s; a GC pause or a busy core costs far less)
and well under the outage it replaces (a frozen leader held the lead for as long as it was frozen). A
module constant, not a setting: nothing else depends on it and no deployment has needed to change it."""


def lead_session_settings(server_settings: Mapping[str, str]) -> dict[str, str]:
    """`server_settings` with both idle timeouts of the lead session set to `LEAD_IDLE_SECONDS`."""
    milliseconds = str(round(LEAD_IDLE_SECONDS * 1000))
    return {
        **server_settings,
        "idle_session_timeout": milliseconds,
        "idle_in_transaction_session_timeout": milliseconds,
    }


class BusySession:
    """Runs work that does not use the session (a Kafka call, a wait) while keeping the session from going
    idle: a `SELECT 1` whenever nothing was sent on it for a third of `LEAD_IDLE_SECONDS`."""

    def __init__(self, connection: Connection, clock: Callable[[], float] = time.monotonic) -> None:
        self._connection = connection
        self._clock = clock
        self._quiet_seconds = LEAD_IDLE_SECONDS / 3
        self._last_used = clock()

    def used(self) -> None:
        """The caller has just run a statement on the session."""
        self._last_used = self._clock()

    async def around(self, work: Awaitable[T]) -> T:
        """`work`'s result. A failed `SELECT 1` (the session is gone, and the lead with it) cancels `work`
        and propagates."""
        task = asyncio.ensure_future(work)
        try:
            while not task.done():
                quiet_for = self._last_used + self._quiet_seconds - self._clock()
                if quiet_for <= 0:
                    await self._connection.execute("SELECT 1")
                    self.used()
                else:
                    await asyncio.wait((task,), timeout=quiet_for)
            return task.result()
        finally:
            if not task.done():
                task.cancel()
                await asyncio.wait((task,))
                if not task.cancelled():
                    task.exception()  # retrieved: the session's error is the one that propagates
