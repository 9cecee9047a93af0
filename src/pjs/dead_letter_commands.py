"""`pjs dead-letters list|parked|show|retry|discard`: the operator's view of the records groups set aside.

`show` prints a record's key, headers and value, which can hold patient data: it is an operator tool for
a terminal, never for logs or tickets.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, NoReturn, TypeVar

import asyncpg
import orjson
import typer
from aiokafka.errors import KafkaError
from rich.console import Console
from rich.markup import escape

from events.dead_letter_retries import AlreadyRetried, retry
from events.dead_letters import DeadLetter, PostgresDeadLetters
from events.parked import list_parked
from pjs.listings import print_rows
from pjs.operators import bounded, operator_name
from pjs.settings import get_settings

T = TypeVar("T")

dead_letters_app = typer.Typer(
    help="Records consumer groups set aside (undecodable, or failing their handler).", no_args_is_help=True
)
console = Console()
hints = Console(stderr=True)  # the next step, kept off stdout so a piped listing stays rows alone

MAX_REASON = 200  # as the column allows (migration 0026): a short note, never a pasted payload
_NEXT_STEP = (
    "next: `pjs dead-letters show ID` to look; fix the cause, then `retry ID`;"
    " or `discard ID --all-groups --reason TEXT` for a record that can never be handled"
)


@dead_letters_app.command("list")
def list_command(
    waiting: Annotated[bool, typer.Option("--waiting", help="only those waiting for an operator")] = False,
    limit: Annotated[int, typer.Option(help="at most this many, newest first")] = 100,
) -> None:
    """List dead letters, newest first: id, group, where on the topic, error, age, status and its story
    (the row it is a retried copy of; when, by whom and why it was retried or discarded)."""
    letters = _run(lambda store: store.listing(waiting_only=waiting, limit=limit))
    now = datetime.now(UTC)
    rows = [
        [
            str(letter.dead_letter_id),
            letter.consumer_group,
            letter.where,
            letter.error_type,
            _age(now - letter.dead_at),
            letter.status,
            "-" if letter.retry_of is None else str(letter.retry_of),
            outcome(letter, now),
        ]
        for letter in letters
    ]
    print_rows(console, ["id", "group", "record", "error", "age", "status", "retry of", "outcome"], rows)
    if any(letter.status == "waiting" for letter in letters):
        hints.print(_NEXT_STEP, highlight=False)


def outcome(letter: DeadLetter, now: datetime) -> str:
    """What became of a row: "-" while it waits; else when it was retried, or by whom, when and why it was
    discarded."""
    if letter.status == "discarded" and letter.discarded_at is not None:
        when = _age(now - letter.discarded_at)
        return f"discarded {when} ago by {letter.discarded_by}: {letter.discard_reason}"
    if letter.retried_at is not None:
        return f"retried {_age(now - letter.retried_at)} ago"
    return "-"


@dead_letters_app.command("parked")
def parked_command(
    limit: Annotated[int, typer.Option(help="at most this many, oldest first")] = 100,
) -> None:
    """List the events the relay parked (it could not publish them): where in the feed, which run, why.

    A parked event's run waits at that event; the event itself stays in the store, unchanged.
    """
    now = datetime.now(UTC)
    rows = [
        [
            str(event.position),
            str(event.event_id),
            str(event.run_id),
            str(event.version),
            event.type,
            event.reason,
            _age(now - event.parked_at) if event.parked_at is not None else "-",
        ]
        for event in _connected(lambda connection: list_parked(connection, limit))
    ]
    print_rows(console, ["position", "event", "run", "version", "type", "reason", "age"], rows)


@dead_letters_app.command("show")
def show_command(dead_letter_id: int) -> None:
    """Print one dead letter with its key, headers and value (this is health data: a terminal only), then
    every group's row of the same record and of its retried copies, and the next step."""
    letter = _existing(dead_letter_id)
    related = _run(lambda store: store.same_record(letter))
    now = datetime.now(UTC)
    lines = [
        f"id:       {letter.dead_letter_id} ({letter.status})",
        f"group:    {letter.consumer_group}",
        f"record:   {letter.where}",
        f"error:    {letter.error_type}: {letter.reason}",
        f"dead at:  {letter.dead_at.isoformat()}",
        f"retry of: {'-' if letter.retry_of is None else letter.retry_of}",
        f"outcome:  {outcome(letter, now)}",
        f"key:      {readable(letter.key)}",
        "headers:",
        *(f"  {name}: {readable(value)}" for name, value in letter.headers),
        "value:",
        readable(letter.value),
        "rows of this record and of its retried copies (id, group, record, status, retry of):",
        *(
            f"  {row.dead_letter_id}  {row.consumer_group}  {row.where}  {row.status}  {row.retry_of or '-'}"
            for row in related
        ),
    ]
    for line in lines:
        console.print(escape(line), highlight=False, soft_wrap=True)
    if letter.status == "waiting":
        hints.print(_NEXT_STEP.replace("ID", str(dead_letter_id)), highlight=False)


@dead_letters_app.command("retry")
def retry_command(dead_letter_id: int) -> None:
    """Produce the record again to its topic (same key, value and headers, plus `pjs_retry_of: ID`) and
    mark retried this row and every group's waiting row of the same record.

    Every group reads the copy; that is harmless, as every consumer is idempotent by (run id, version). A
    group that fails on it again sets it aside as a new row whose `retry of` is ID.
    """
    kafka = get_settings().kafka_connection()
    try:
        with _quiet("aiokafka"):  # its per-attempt connection errors: the one line below says it all
            result = _connected(lambda connection: retry(connection, kafka, dead_letter_id))
    except KafkaError as error:  # the rows' transaction rolled back: nothing was marked
        _fail(
            f"Kafka at {kafka.bootstrap} did not take the copy ({type(error).__name__}); nothing changed, "
            f"dead letter {dead_letter_id} is as it was: check PJS_KAFKA_BOOTSTRAP and that the broker "
            "runs, then retry"
        )
    if result is None:
        _fail(f"no dead letter {dead_letter_id}")
    if isinstance(result, AlreadyRetried):
        _fail(
            f"dead letter {dead_letter_id} was retried already; a group failing on its copy filed a new row"
            " (`pjs dead-letters show` it to see them): retry that one"
        )
    marked = ", ".join(str(marked_id) for marked_id in result.marked)
    console.print(
        escape(f"dead letter {dead_letter_id} put back on {result.letter.topic}; marked retried: {marked}"),
        highlight=False,
    )


@dead_letters_app.command("discard")
def discard_command(
    dead_letter_ids: Annotated[list[int], typer.Argument(metavar="ID...", help="dead letters to discard")],
    reason: Annotated[str, typer.Option("--reason", help=f"why, in at most {MAX_REASON} characters")],
    all_groups: Annotated[
        bool, typer.Option("--all-groups", help="also every other group's waiting row of the same record")
    ] = False,
    by: Annotated[str | None, typer.Option("--by", help="who discards (default: the OS user)")] = None,
) -> None:
    """Stop waiting for records that can never be handled: the rows stay, as `discarded`, with who, when and
    why, and leave the waiting counts (`/ready`, `pjs_dead_letters_waiting`). Discarding again is harmless;
    rows already retried or discarded are left as they are. An unknown id discards nothing (exit 1)."""
    note, who = bounded("--reason", reason, MAX_REASON), operator_name(by)
    done = _run(lambda store: store.discard(dead_letter_ids, by=who, reason=note, whole_records=all_groups))
    if done.unknown:
        _fail(f"no dead letter {', '.join(map(str, done.unknown))}; nothing discarded")
    listed = ", ".join(map(str, done.discarded)) or "none (already retried or discarded)"
    console.print(f"discarded: {listed}", highlight=False)


@contextmanager
def _quiet(logger: str) -> Iterator[None]:
    """`logger` silent for the block (the command has no log of its own: Python would print its lines)."""
    library = logging.getLogger(logger)
    level = library.level
    library.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        library.setLevel(level)


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
        _fail(f"no dead letter {dead_letter_id}")
    return letter


def _fail(message: str) -> NoReturn:
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)  # one line
    raise typer.Exit(code=1)


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
