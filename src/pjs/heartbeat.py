"""Every role process's heartbeat: a task beside its roles that records, every `PJS_HEARTBEAT_SECONDS`, that
the process is alive, and each consumer group's progress, so `/ready` can name a role that stalled or died.

The task shares the roles' event loop on purpose: a loop blocked by one role stops the beat too, which is
what makes the stall visible. It never ends its process: a failed write is logged (the first, then every
tenth in a row) and tried again at the next beat, on a fresh connection of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg

from events.group_progress import group_progress
from events.heartbeats import (
    Process,
    RoleBeat,
    forget_dead_neighbours,
    mark_stopped,
    write_heartbeats,
)
from events.pools import connect
from events.retry import OutageLog
from events.waiting import sleep_unless_stopped
from pjs.settings import Settings
from pjs.wiring import own_database_url, session_limits

log = logging.getLogger("pjs.heartbeat")

FORGET_AFTER_SECONDS = 3600.0
"""Rows nobody refreshed for this long (a process killed, never restarted on its host) are deleted."""

Connect = Callable[[], Awaitable[asyncpg.Connection]]


class HeartbeatWriter:
    """Run with `await writer.run(stop)`; then `stopped()` on a stop as asked, or `close()` to leave the rows
    for /ready to see going silent."""

    def __init__(
        self,
        connect: Connect,
        process: Process,
        beats: Callable[[], list[RoleBeat]],
        every_seconds: float,
        *,
        first_connection: asyncpg.Connection | None = None,
    ) -> None:
        """`first_connection`: one already open to beat on (the start's wait opened it), closed with the
        writer; `connect` makes the next ones."""
        self.process = process
        self.written = 0
        self._connect = connect
        self._beats = beats
        self._every = every_seconds
        self._timeout = max(every_seconds, 2.0)
        self._connection = first_connection
        self._neighbours_forgotten = False
        self._outage = OutageLog(log, f"heartbeat of {process.name}")

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.beat()
            await sleep_unless_stopped(stop, self._every)

    async def beat(self) -> bool:
        """Write this process's rows once; whether that worked."""
        try:
            async with asyncio.timeout(self._timeout):
                connection = await self._connected()
                await write_heartbeats(connection, self.process, self._beats(), FORGET_AFTER_SECONDS)
        except Exception as error:  # never the role's end; the next beat tries again, on a new connection
            self._outage.failed(error)
            await self.close()
            return False
        self._outage.recovered()
        self.written += 1
        return True

    async def stopped(self) -> None:
        """Mark this process's rows stopped (it stopped as asked), then close."""
        try:
            async with asyncio.timeout(self._timeout):
                await mark_stopped(await self._connected(), self.process)
        except Exception as error:  # the rows then go silent, which /ready names all the same
            log.warning(
                "heartbeat rows of %s not marked stopped (%s)", self.process.name, type(error).__name__
            )
        await self.close()

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), 2)

    async def _connected(self) -> asyncpg.Connection:
        if self._connection is None or self._connection.is_closed():
            self._connection = await self._connect()
            self._neighbours_forgotten = False
        if not self._neighbours_forgotten:
            # A process of this host that died without deleting its rows was replaced by this one or is
            # gone: its rows would only say so for an hour.
            await forget_dead_neighbours(self._connection, self.process, _is_dead)
            self._neighbours_forgotten = True
        return self._connection


def _is_dead(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's process: alive
        return False
    return False


GROUP_ROLES = ("engine", "delivery", "projector", "audit", "analytics")


def consumer_groups(settings: Settings) -> dict[str, str]:
    """The consumer group of each role that is a group member (`PJS_ENGINE_GROUP`, ...)."""
    return {role: str(getattr(settings, f"{role}_group")) for role in GROUP_ROLES}


def role_beats(roles: Sequence[str], groups: dict[str, str]) -> Callable[[], list[RoleBeat]]:
    """What the process's roles report at each beat: a group member's progress, or just that it is alive."""

    def beats() -> list[RoleBeat]:
        found = []
        for role in roles:
            if (group := groups.get(role)) is None:
                found.append(RoleBeat(role))
                continue
            progress = group_progress(group)
            found.append(RoleBeat(role, group, progress.records_behind, progress.seconds_since_progress()))
        return found

    return beats


def heartbeat_writer(
    roles: Sequence[str], settings: Settings, *, first_connection: asyncpg.Connection | None = None
) -> HeartbeatWriter:
    """The writer of a process running `roles`, as the API's role or the workers' (as its roles connect)."""
    url, limits = own_database_url(roles, settings), session_limits(settings)
    process = Process(socket.gethostname(), os.getpid(), tuple(roles), datetime.now(UTC))
    beats = role_beats(roles, consumer_groups(settings))
    return HeartbeatWriter(
        lambda: connect(url, limits),
        process,
        beats,
        settings.heartbeat_seconds,
        first_connection=first_connection,
    )


@asynccontextmanager
async def heartbeating(
    roles: Sequence[str], settings: Settings, *, first_connection: asyncpg.Connection | None = None
) -> AsyncIterator[HeartbeatWriter]:
    """Beat while the body runs the roles, on `first_connection` first if given (the writer closes it).
    A body that returns stopped as asked: the rows are marked stopped. One that raises (a role failed)
    leaves them as they were. Either way /ready names the role until a process runs it again."""
    writer = heartbeat_writer(roles, settings, first_connection=first_connection)
    stop = asyncio.Event()
    beating = asyncio.ensure_future(writer.run(stop))
    stopped_as_asked = False
    try:
        yield writer
        stopped_as_asked = True
    finally:
        stop.set()
        await asyncio.wait([beating])  # at most one beat's timeout
        await (writer.stopped() if stopped_as_asked else writer.close())
