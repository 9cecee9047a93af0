"""`pjs asyncapi write|release-schemas`: the run-events contract committed under docs/, kept from drifting.

The committed document describes the default topic (the settings' defaults, not this shell's PJS_* vars),
so it is the same on every machine; the API serves one for the topic it is configured with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from events.asyncapi import asyncapi_document, document_yaml
from events.schema_evolution import IncompatibleSchemas, release
from pjs.settings import Settings
from pjs.wiring import run_events_topic

DOCUMENT_PATH = Path("docs/asyncapi.yaml")
SCHEMAS_DIR = Path("docs/schemas")

asyncapi_app = typer.Typer(help="The run-events topic's AsyncAPI contract and released schemas.")
console = Console()


def committed_document_text() -> str:
    """The YAML docs/asyncapi.yaml must hold: the document of the default topic."""
    return document_yaml(asyncapi_document(run_events_topic(Settings.model_construct())))


@asyncapi_app.command("write")
def write_command(
    check: Annotated[bool, typer.Option("--check", help="write nothing; exit 1 if it is stale")] = False,
    output: Annotated[Path, typer.Option(help="where the document goes")] = DOCUMENT_PATH,
) -> None:
    """Write the AsyncAPI document generated from the event catalogue (or, with --check, compare)."""
    text = committed_document_text()
    current = output.read_text() if output.exists() else None
    if check:
        if current != text:
            console.print(f"[bold red]stale:[/] {escape(str(output))}; run `pjs asyncapi write`")
            raise typer.Exit(code=1)
        console.print(f"{escape(str(output))} is up to date")
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    console.print(f"{'unchanged' if current == text else 'wrote'} {escape(str(output))}")


@asyncapi_app.command("release-schemas")
def release_schemas_command(
    directory: Annotated[Path, typer.Option("--dir", help="the released schemas")] = SCHEMAS_DIR,
) -> None:
    """At a release: store every event type's current payload schema as released (refused if it breaks
    readers of what was released before)."""
    try:
        written = release(directory)
    except IncompatibleSchemas as error:
        for problem in error.problems:
            console.print(f"[bold red]incompatible:[/] {escape(problem)}")
        raise typer.Exit(code=1) from None
    console.print(f"released: {', '.join(written) or 'nothing changed'} in {escape(str(directory))}")
