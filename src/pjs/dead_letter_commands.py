"""`pjs dead-letters list|show|retry`: the operator's view of the records consumer groups set aside.

`show` prints a record's key, headers and value, which can hold patient data: it is an operator tool for
a terminal, never for logs or tickets.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, TypeVar

import asyncpg
import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from events.dead_letters import DeadLetter, PostgresDeadLetters, redeliver
from events.parked import list_parked
from pjs.settings import get_settings

T = TypeVar("T")

dead_letters_app = typer.Typer(
    help="Records consumer groups set aside (undecodable, or failing their handler).", no_args_is_help=True
)
console = Console()


@dead_letters_app.command("list")
def list_command(
    waiting: Annotated[bool, typer.Option("--waiting", help="only those not retried yet")] = False,
    limit: Annotated[int, typer.Option(help="at most this many, newest first")] = 100,
) -> None:
    """List dead letters, newest first: id, group, where on the topic, error, age and status."""
    letters = _run(lambda store: store.listing(waiting_only=waiting, limit=limit))
    table = Table("id", "group", "record", "error", "age", "status")
    now = datetime.now(UTC)
    for letter in letters:
        where = f"{letter.topic}[{letter.partition}]@{letter.offset}"
        age = _age(now - letter.dead_at)
        table.add_row(
            str(letter.dead_letter_id), letter.consumer_group, where, letter.error_type, age, letter.status
        )
    console.print(table)


@dead_letters_app.command("parked")
def parked_command(
    limit: Annotated[int, typer.Option(help="at most this many, oldest first")] = 100,
) -> None:
    """List the events the relay parked (it could not publish them): where in the feed, which run, why.

    A parked event's run waits at that event; the event itself stays in the store, unchanged.
    """

    table = Table("position", "event", "run", "version", "type", "reason", "age")
    now = datetime.now(UTC)
    for event in _connected(lambda connection: list_parked(connection, limit)):
        age = _age(now - event.parked_at) if event.parked_at is not None else "-"
        table.add_row(
            str(event.position),
            str(event.event_id),
            str(event.run_id),
            str(event.version),
            event.type,
            escape(event.reason),
            age,
        )
    console.print(table)


@dead_letters_app.command("show")
def show_command(dead_letter_id: int) -> None:
    """Print one dead letter with its key, headers and value (this is health data: a terminal only)."""
    letter = _existing(dead_letter_id)
    console.print(f"id:       {letter.dead_letter_id} ({letter.status})", highlight=False)
    console.print(f"group:    {escape(letter.consumer_group)}", highlight=False)
    console.print(f"record:   {escape(letter.topic)}[{letter.partition}]@{letter.offset}", highlight=False)
    console.print(f"error:    {escape(letter.error_type)}: {escape(letter.reason)}", highlight=False)
    console.print(f"dead at:  {letter.dead_at.isoformat()}", highlight=False)
    if letter.retried_at is not None:
        console.print(f"retried:  {letter.retried_at.isoformat()}", highlight=False)
    console.print(f"key:      {escape(readable(letter.key))}", highlight=False)
    console.print("headers:")
    for name, value in letter.headers:
        console.print(f"  {escape(name)}: {escape(readable(value))}", highlight=False)
    console.print("value:")
    console.print(escape(readable(letter.value)), highlight=False, soft_wrap=True)


@dead_letters_app.command("retry")
def retry_command(dead_letter_id: int) -> None:
    """Produce the record again to its topic (same key, value, headers) and mark it retried.

    Every group reads it again; that is harmless, as every consumer is idempotent by (run id, version).
    """
    letter = _existing(dead_letter_id)

    async def retry(store: PostgresDeadLetters) -> None:
        await redeliver(get_settings().kafka_connection(), letter)
        await store.mark_retried(letter.dead_letter_id)

    _run(retry)
    console.print(f"dead letter {dead_letter_id} put back on {escape(letter.topic)}", highlight=False)


def readable(data: bytes | None) -> str:
    """JSON if the bytes are JSON, else UTF-8 text, else base64 (prefixed "base64:")."""
    if data is None:
        return "(none)"
    try:
        return orjson.dumps(orjson.loads(data), option=orjson.OPT_INDENT_2).decode()
    except orjson.JSONDecodeError:
        pass
    try:
        return data.decode()
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(data).decode()


def _age(elapsed: timedelta) -> str:
    seconds = max(0, int(elapsed.total_seconds()))
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _existing(dead_letter_id: int) -> DeadLetter:
    letter = _run(lambda store: store.get(dead_letter_id))
    if letter is None:
        console.print(f"[bold red]error:[/] no dead letter {dead_letter_id}")
        raise typer.Exit(code=1)
    return letter


def _run(work: Callable[[PostgresDeadLetters], Awaitable[T]]) -> T:
    return _connected(lambda connection: work(PostgresDeadLetters(connection)))


def _connected(work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """Run `work` on a connection of the workers' role (every tenant's rows), closed afterwards."""

    async def connected() -> T:
        connection = await asyncpg.connect(get_settings().resolved_worker_database_url())
        try:
            return await work(connection)
        finally:
            await connection.close()

    return asyncio.run(connected())
