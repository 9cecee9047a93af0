"""`pjs journeys check`: the stored journey versions whose messages would fail in this deployment.

Such a version still loads and runs, but each message of a template outside today's bounds fails
(`template_error: ...`) instead of rendering, and each message naming a channel these settings give no
endpoint fails (`channel sms is not configured`) instead of being sent; this lists where, so a clinic
can save a new version (or an operator set the channel) before its patients miss messages.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import astuple
from typing import Annotated

import asyncpg
import orjson
import typer
from rich.console import Console

from pjs.listings import print_rows
from pjs.settings import get_settings
from pjs.stored_journey_checks import StoredJourneyProblem, stored_journey_problems

journeys_app = typer.Typer(help="Stored journeys: check them against today's rules.", no_args_is_help=True)
console = Console()


@journeys_app.command("check")
def check_command(
    as_json: Annotated[
        bool, typer.Option("--json", help="print a JSON list, one object per problem")
    ] = False,
) -> None:
    """Every stored journey version with a message template outside the bounds or a MESSAGE naming a
    channel these settings cannot send by; exits 1 if there is any."""
    found = asyncio.run(_stored_problems())
    if as_json:  # camelCase, as the API and `pjs keys list --json`
        print(orjson.dumps([_as_json(one) for one in found]).decode())
    elif found or not sys.stdout.isatty():
        columns = ("tenant", "journey", "version", "problem", "where", "why its messages fail")
        print_rows(console, columns, [[str(value) for value in astuple(one)] for one in found])
    else:
        console.print("every stored message template is within the bounds and every channel can send")
    raise typer.Exit(code=1 if found else 0)


def _as_json(one: StoredJourneyProblem) -> dict[str, object]:
    return {
        "tenant": one.tenant,
        "journeyId": str(one.journey_id),
        "version": one.version,
        "kind": one.kind,
        "path": one.path,
        "reason": one.reason,
    }


async def _stored_problems() -> list[StoredJourneyProblem]:
    """Read as the workers' role (every tenant), judged by this command's own channel settings."""
    settings = get_settings()
    connection = await asyncpg.connect(settings.resolved_worker_database_url())
    try:
        return await stored_journey_problems(connection, settings.unsendable_channels())
    finally:
        await connection.close()
