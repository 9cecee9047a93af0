"""The role_heartbeats table (migrations 0025, 0027): each role process's rows, written, marked stopped,
forgotten and read.

A process writes all its roles' rows in one statement per beat, which also deletes other processes' rows
not refreshed for `forget_after` seconds; times are the database's, so hosts' clocks cannot skew them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from events.pg import Queryable


@dataclass(frozen=True)
class Process:
    """A role process: its host and pid (together the instance), its roles, when it started."""

    host: str
    pid: int
    roles: tuple[str, ...]
    started_at: datetime

    @property
    def name(self) -> str:
        """How logs and /ready name it: `host pid 1234 (relay+engine)`."""
        return f"{self.host} pid {self.pid} ({'+'.join(self.roles)})"


@dataclass(frozen=True)
class RoleBeat:
    """One role's heartbeat; a consumer group member's also carries its progress."""

    role: str
    consumer_group: str | None = None
    records_behind: int | None = None
    seconds_since_progress: float | None = None


@dataclass(frozen=True)
class Heartbeat:
    """A stored row, with its ages in seconds as the database saw them."""

    role: str
    host: str
    pid: int
    process_roles: str
    consumer_group: str | None
    silent_seconds: float
    records_behind: int | None
    seconds_since_progress: float | None
    stopped_seconds: float | None = None  # since it stopped as asked; None: it was not stopped

    @property
    def instance(self) -> str:
        return f"{self.host} pid {self.pid}"


async def write_heartbeats(
    db: Queryable, process: Process, beats: Sequence[RoleBeat], forget_after: float
) -> None:
    """Record that `process` is alive now, with its roles' progress, in one statement."""
    await db.execute(
        """
        WITH forgotten AS (
            DELETE FROM role_heartbeats
            WHERE seen_at < now() - make_interval(secs => $5) AND (host, pid) <> ($1, $2)
        )
        INSERT INTO role_heartbeats (host, pid, role, process_roles, consumer_group, started_at, seen_at,
                                     records_behind, progressed_at)
        SELECT $1, $2, b.role, $3, b.consumer_group, $4, now(), b.records_behind,
               now() - make_interval(secs => b.since_progress)
        FROM unnest($6::text[], $7::text[], $8::bigint[], $9::float8[])
             AS b (role, consumer_group, records_behind, since_progress)
        ON CONFLICT (host, pid, role) DO UPDATE
        SET process_roles = excluded.process_roles, consumer_group = excluded.consumer_group,
            started_at = excluded.started_at, seen_at = excluded.seen_at,
            records_behind = excluded.records_behind, progressed_at = excluded.progressed_at,
            stopped_at = NULL
        """,
        process.host,
        process.pid,
        "+".join(process.roles),
        process.started_at,
        forget_after,
        [beat.role for beat in beats],
        [beat.consumer_group for beat in beats],
        [beat.records_behind for beat in beats],
        [beat.seconds_since_progress for beat in beats],
    )


async def mark_stopped(db: Queryable, process: Process) -> None:
    """Mark `process`'s rows stopped: it stopped as asked. They stay, so that a role stopped and never
    started again is named (a new process of the host removes them: `forget_dead_neighbours`)."""
    await db.execute(
        "UPDATE role_heartbeats SET stopped_at = now() WHERE host = $1 AND pid = $2",
        process.host,
        process.pid,
    )


async def forget_dead_neighbours(db: Queryable, process: Process, is_dead: Callable[[int], bool]) -> None:
    """Delete the rows of other processes of `process`'s host that `is_dead` says are gone (they died
    without deleting them; a supervisor restarting one gives it a new pid)."""
    pids = await db.fetch(
        "SELECT DISTINCT pid FROM role_heartbeats WHERE host = $1 AND pid <> $2", process.host, process.pid
    )
    dead = [row["pid"] for row in pids if is_dead(row["pid"])]
    if dead:
        await db.execute(
            "DELETE FROM role_heartbeats WHERE host = $1 AND pid = ANY($2::integer[])", process.host, dead
        )


async def read_heartbeats(db: Queryable) -> list[Heartbeat]:
    """Every row, oldest-heard last within each role."""
    rows = await db.fetch(
        """
        SELECT role, host, pid, process_roles, consumer_group, records_behind,
               extract(epoch FROM now() - seen_at)::float8 AS silent_seconds,
               extract(epoch FROM now() - progressed_at)::float8 AS seconds_since_progress,
               extract(epoch FROM now() - stopped_at)::float8 AS stopped_seconds
        FROM role_heartbeats
        ORDER BY role, seen_at DESC, host, pid
        """
    )
    return [Heartbeat(**dict(row)) for row in rows]
