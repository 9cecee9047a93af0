"""`pjs journeys check`: the stored journey versions holding message templates outside today's bounds.

Such a version still loads and runs, but each of those messages fails (`template_error: ...`) instead of
rendering; this lists where, so a clinic can save a new version before its patients miss messages.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import asdict, dataclass
from typing import Annotated
from uuid import UUID

import asyncpg
import orjson
import typer
from rich.console import Console

from domain.message_validation import unbounded_template_problems
from pjs.listings import print_rows
from pjs.settings import get_settings

journeys_app = typer.Typer(help="Stored journeys: check them against today's rules.", no_args_is_help=True)
console = Console()


@dataclass(frozen=True)
class UnboundedTemplate:
    """One template of one stored version that fails its messages, and why (the construct, never text)."""

    tenant: str
    journey_id: UUID
    version: int
    path: str
    reason: str


@journeys_app.command("check")
def check_command(
    as_json: Annotated[
        bool, typer.Option("--json", help="print a JSON list, one object per template")
    ] = False,
) -> None:
    """Every stored journey version with a message template outside the bounds; exits 1 if there is any."""
    found = asyncio.run(unbounded_templates())
    if as_json:  # camelCase, as the API and `pjs keys list --json`
        print(orjson.dumps([_as_json(one) for one in found]).decode())
    elif found or not sys.stdout.isatty():
        columns = ("tenant", "journey", "version", "template", "why its messages fail")
        print_rows(console, columns, [[str(value) for value in asdict(one).values()] for one in found])
    else:
        console.print("every stored message template is within the bounds")
    raise typer.Exit(code=1 if found else 0)


def _as_json(one: UnboundedTemplate) -> dict[str, object]:
    return {
        "tenant": one.tenant,
        "journeyId": str(one.journey_id),
        "version": one.version,
        "path": one.path,
        "reason": one.reason,
    }


async def unbounded_templates() -> list[UnboundedTemplate]:
    """Read every tenant's journey versions (as the workers' role) and check each one's templates."""
    connection = await asyncpg.connect(get_settings().resolved_worker_database_url())
    try:
        rows = await connection.fetch(
            "SELECT coalesce(t.name, j.tenant_id::text) AS tenant, j.journey_id, j.version,"
            " j.definition::text AS definition"
            " FROM journeys j LEFT JOIN tenants t USING (tenant_id) ORDER BY t.name, j.journey_id, j.version"
        )
    finally:
        await connection.close()
    return [
        UnboundedTemplate(row["tenant"], row["journey_id"], row["version"], path, reason)
        for row in rows
        for path, reason in unbounded_template_problems(orjson.loads(row["definition"]))
    ]
