"""One process running one role, or several workers as tasks of it: the list checked, the process named, the
roles run until a stop signal and stopped together within one bound."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Sequence

import asyncpg

from events.schema import pending_migrations
from events.waiting import ABANDONED
from pjs.heartbeat import heartbeating
from pjs.roles import ROLES, apply_migrations
from pjs.settings import Settings
from pjs.startup_errors import MIGRATING, MIGRATION_DSN, SchemaBehind, migration_address
from pjs.startup_waits import own_postgres_connection, until_postgres_answers

log = logging.getLogger("pjs")

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_stop_requested_early = threading.Event()


def note_early_stop_signals() -> None:
    """Until `run_roles`' loop listens, remember SIGINT/SIGTERM instead of dying of them.

    A role stopped while it starts (a supervisor's stop, a deploy) then exits with code 0 like one
    stopped at work, rather than being killed by the signal's default action half-way through set-up.
    """
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda *_: _stop_requested_early.set())


def roles_problem(names: Sequence[str]) -> str | None:
    """What is wrong with a list of roles to run in one process, if anything."""
    unknown = [name for name in names if name not in ROLES]
    if unknown or not names:
        return f"unknown role {', '.join(map(repr, unknown))}; choose from: {', '.join(ROLES)}"
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        return f"role {', '.join(map(repr, repeated))} named more than once"
    if "api" in names and len(names) > 1:  # uvicorn handles the stop signals of the process it serves in
        return "the api runs in a process of its own; run the other roles together"
    return None


def process_name(roles: Sequence[str]) -> str:
    """What a process running `roles` calls itself in logs, traces and metrics: `engine`, `relay+engine`."""
    return "+".join(roles)


async def run_roles(names: Sequence[str], settings: Settings) -> None:
    """Run the named roles (one, or several workers as tasks of one process) until SIGINT or SIGTERM, then
    give them `shutdown_seconds` to finish their current work.

    A role still busy after that is cancelled: consumers commit offsets only after a batch is applied, so
    abandoned work is redone by whoever reads those records next. Roles sharing a process share its fate
    and its heartbeat (`pjs.heartbeat`): when one ends on its own (it failed), the others stop as on
    SIGTERM and the process exits as that one did, so a supervisor restarts them together.
    """
    name = process_name(names)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    if _stop_requested_early.is_set():
        stop.set()  # asked to stop before the loop could hear it: start nothing, exit cleanly
    log.info("role %s starting", name)
    if settings.migrate_at_start and not await _migrated(name, settings, stop):
        return
    connection = await own_postgres_connection(name, names, settings, stop)
    if connection is ABANDONED:
        return
    if not settings.migrate_at_start:
        await _refuse_if_schema_behind(connection)
    # The heartbeat starts after migrating (its table may be new), on the connection the wait opened.
    async with heartbeating(names, settings, first_connection=connection):
        stopped_in_time = await run_until_stopped(names, settings, stop)
    if stopped_in_time:
        log.info("role %s stopped", name)


async def _migrated(name: str, settings: Settings, stop: asyncio.Event) -> bool:
    """Apply the pending migrations as the schema owner; whether to go on (False: stopped while waiting).

    Idempotent; concurrent starters take turns on an advisory lock. A server not up yet is waited for, as
    the schema owner, then as the roles' own user (its DSN may name another server, or a pooler)."""
    what = f"role {name} migrating Postgres at {migration_address(settings)}"
    migrating = until_postgres_answers(
        lambda: apply_migrations(settings), stop, settings, what=what, variable=MIGRATION_DSN
    )
    try:
        return await migrating is not ABANDONED
    except Exception as error:
        error.add_note(MIGRATING)  # the schema owner's DSN failed, not the role's own
        raise


async def _refuse_if_schema_behind(connection: asyncpg.Connection) -> None:
    """Raise `SchemaBehind` (closing `connection`) if this release's migrations are not all applied: a role
    told not to migrate must not run against tables older than its code."""
    pending = await pending_migrations(connection)
    if pending:
        await connection.close()
        names = ", ".join(f"{migration.number:04d}_{migration.name}" for migration in pending)
        raise SchemaBehind(
            f"the database lacks {len(pending)} migration(s) of this release ({names}) and "
            "PJS_MIGRATE_AT_START is false: run `pjs migrate` with PJS_MIGRATION_DATABASE_URL first"
        )


async def run_until_stopped(names: Sequence[str], settings: Settings, stop: asyncio.Event) -> bool:
    """Run the roles until `stop` is set or one of them ends; then stop them all. Raises the failure of the
    role that ended first (then of any that failed while stopping); whether none had to be abandoned."""
    roles: dict[asyncio.Future[None], str] = {
        asyncio.ensure_future(ROLES[role](settings, stop)): role for role in names
    }
    stopping: asyncio.Future[None] = asyncio.ensure_future(_stopped(stop))
    done, _ = await asyncio.wait((*roles, stopping), return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    ended_first = [] if stopping in done else [task for task in roles if task in done]  # else: a stop
    if ended_first and len(roles) > 1:
        log.warning("role %s ended; its process-mates stop too", roles[ended_first[0]])
    stop.set()
    abandoned = await _stopped_within(list(roles), settings.shutdown_seconds)
    if abandoned:
        log.warning(
            "role %s did not stop within its shutdown budget (%.0f s, PJS_SHUTDOWN_SECONDS) and was "
            "cancelled; the work it had not finished is done again after its restart",
            process_name([roles[task] for task in abandoned]),
            settings.shutdown_seconds,
        )
    # Cancelled, unasked, once told to stop: a library's stray cancellation on the way out, not a failure.
    stray = [task for task in roles if task.cancelled() and task not in (*abandoned, *ended_first)]
    if stray:
        log.warning(
            "role %s ended cancelled while it stopped, within its shutdown budget, by none of ours",
            process_name([roles[task] for task in stray]),
        )
    for task in dict.fromkeys([*ended_first, *roles]):
        if task not in (*abandoned, *stray):
            _raise_if_failed(task, roles[task])
    return not abandoned


async def _stopped(stop: asyncio.Event) -> None:
    await stop.wait()


def _raise_if_failed(task: asyncio.Future[None], role: str) -> None:
    if task.cancelled():  # not by us: whatever cancelled it stopped the role unasked
        raise RuntimeError(f"role {role} was cancelled")
    task.result()  # a role that failed raises here


async def _stopped_within(
    roles: Sequence[asyncio.Future[None]], seconds: float
) -> list[asyncio.Future[None]]:
    """Wait up to `seconds` for `roles` to finish; cancel those that did not, and answer them."""
    busy = [role for role in roles if not role.done()]
    if busy:
        await asyncio.wait(busy, timeout=seconds)
    busy = [role for role in busy if not role.done()]
    for role in busy:
        role.cancel()
    if busy:
        await asyncio.wait(busy)
    return busy
