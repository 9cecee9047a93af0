"""The `pjs` command line: local services, migrations, process roles and the all-in-one dev mode."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import traceback
from typing import Annotated

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from events.key_ring import ensure_key_ring
from pjs import master_key_commands  # noqa: F401  (registers `pjs keys init-master|rotate-master`)
from pjs.contract_commands import asyncapi_app
from pjs.cpu_priority import yield_cpu_to_api
from pjs.dead_letter_commands import dead_letters_app
from pjs.demo import demo_curl, load_demo_journey
from pjs.dev import run_all_roles
from pjs.garbage_collection import tune_garbage_collection
from pjs.journey_commands import journeys_app
from pjs.key_commands import ensure_dev_key, keys_app, tenants_app
from pjs.logs import configure_logging
from pjs.process import note_early_stop_signals, process_name, roles_problem, run_roles
from pjs.readiness import wait_until_ready
from pjs.replaying import replay_projections
from pjs.role_metrics import serve_role_metrics
from pjs.roles import ROLES, apply_migrations, event_loop_factory
from pjs.services.processes import ServiceError
from pjs.services.stack import LocalStack
from pjs.setting_bounds import settings_problems, source_problem
from pjs.settings import Settings, get_settings
from pjs.startup_errors import API_DSN, MIGRATION_DSN, WORKER_DSN, explain
from pjs.tracing import start_tracing, stop_tracing
from pjs.wiring import REBUILDABLE

app = typer.Typer(help="Patient Journey Scheduler", no_args_is_help=True, pretty_exceptions_enable=False)
services_app = typer.Typer(help="Local Postgres and Kafka (no Docker needed).", no_args_is_help=True)
app.add_typer(services_app, name="services")
app.add_typer(dead_letters_app, name="dead-letters")
app.add_typer(tenants_app, name="tenants")
app.add_typer(keys_app, name="keys")
app.add_typer(journeys_app, name="journeys")
app.add_typer(asyncapi_app, name="asyncapi")
console = Console()
err_console = Console(stderr=True)
log = logging.getLogger("pjs")


@app.callback()
def read_settings() -> None:
    """Read the settings before any command runs: a value out of range stops it with one line per problem,
    naming the environment variable, instead of a traceback from wherever the value was first used."""
    try:
        get_settings()
    except ValidationError as error:
        problems = settings_problems(error, Settings)
    except SettingsError as error:  # a list setting that is not JSON
        problems = [source_problem(error)]
    else:
        return
    for problem in problems:
        err_console.print("[bold red]error:[/]", escape(problem), highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def _fail(error: Exception) -> typer.Exit:
    console.print("[bold red]error:[/]", escape(str(error)))
    return typer.Exit(code=1)


@services_app.command("up")
def services_up() -> None:
    """Start local Postgres and Kafka (idempotent); waits until each is our own process on its port and
    answers a real request."""
    started_at = time.monotonic()
    try:
        started = LocalStack(get_settings()).up()
    except ServiceError as error:
        raise _fail(error) from None
    _wait_until_ready(get_settings())
    elapsed = time.monotonic() - started_at
    console.print(f"started: {', '.join(started) or 'nothing (already running)'} in {elapsed:.1f}s")
    _print_status()


@services_app.command("down")
def services_down() -> None:
    """Stop the local services that `up` started."""
    stopped = LocalStack(get_settings()).down()
    console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


@services_app.command("reset")
def services_reset() -> None:
    """Stop the local services and delete their data and passwords; the next `up` starts afresh."""
    wiped = LocalStack(get_settings()).reset()
    console.print(f"deleted the data of: {', '.join(wiped) or 'nothing'}; `pjs services up` starts afresh")


@services_app.command("status")
def services_status(
    as_json: Annotated[
        bool, typer.Option("--json", help="how to connect to each service, passwords included, as JSON")
    ] = False,
) -> None:
    """Show where Postgres and Kafka are and whether they run."""
    if as_json:
        typer.echo(json.dumps(LocalStack(get_settings()).connections(), indent=2))
        return
    _print_status()


def _wait_until_ready(settings: Settings) -> None:
    try:
        asyncio.run(wait_until_ready(settings, lambda line: console.print(escape(line))))
    except ServiceError as error:
        raise _fail(error) from None


def _print_status() -> None:
    table = Table("service", "address", "state", "pid")
    for status in LocalStack(get_settings()).status():
        table.add_row(status.name, status.address, status.state, str(status.pid or "-"))
    console.print(table)


@app.command("migrate")
def migrate_command() -> None:
    """Apply the database migrations that are not applied yet (idempotent)."""
    try:
        applied = asyncio.run(apply_migrations(get_settings()))
    except Exception as error:
        if (reason := explain(error, get_settings(), MIGRATION_DSN)) is None:
            raise
        raise _fail(RuntimeError(reason)) from None
    console.print(f"applied: {', '.join(applied) or 'nothing (schema is up to date)'}")


@app.command("run")
def run_command(
    roles: Annotated[
        list[str], typer.Argument(help=f"one or more of: {', '.join(ROLES)}; workers may share a process")
    ],
) -> None:
    """Run process roles in the foreground until SIGINT/SIGTERM: one role, or several workers as tasks of one
    process (on a small machine, `pjs run relay engine delivery timer projector audit analytics`)."""
    if (problem := roles_problem(roles)) is not None:
        console.print(f"[bold red]error:[/] {problem}")
        raise typer.Exit(code=2)
    name = process_name(roles)
    note_early_stop_signals()
    configure_logging()
    settings = get_settings()
    yield_cpu_to_api(roles, settings.worker_niceness, settings.read_side_niceness)  # before any thread starts
    tracer_provider = start_tracing(name, settings)
    try:
        serve_role_metrics(roles, settings)
        tune_garbage_collection(settings.gc_young_threshold)
        with asyncio.Runner(loop_factory=event_loop_factory(roles)) as runner:
            runner.run(run_roles(roles, settings))
    except Exception as error:
        dsn = API_DSN if "api" in roles else WORKER_DSN
        if (reason := explain(error, settings, dsn)) is not None:  # configuration: what to fix, no frames
            log.error("role %s failed: %s", name, reason)
            raise typer.Exit(code=1) from None
        # Any other message may quote a record (patient data); its type and frames say where it broke.
        frames = "".join(traceback.format_tb(error.__traceback__))
        log.error("role %s failed (%s)\n%s", name, type(error).__name__, frames)
        raise typer.Exit(code=1) from None
    finally:
        stop_tracing(tracer_provider)


@app.command("replay")
def replay_command(
    projections: Annotated[list[str] | None, typer.Argument(help=f"any of: {', '.join(REBUILDABLE)}")] = None,
    everything: Annotated[bool, typer.Option("--all", help="rebuild every projection")] = False,
) -> None:
    """Rebuild projections from the event store into fresh tables, then swap them in atomically."""
    names = list(REBUILDABLE) if everything else list(projections or [])
    unknown = [name for name in names if name not in REBUILDABLE]
    if not names or unknown:
        console.print(
            f"[bold red]error:[/] name projections to rebuild ({', '.join(REBUILDABLE)}) or pass --all"
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
        )
        raise typer.Exit(code=2)
    settings = get_settings()
    asyncio.run(apply_migrations(settings))
    asyncio.run(replay_projections(settings, names, console))


@app.command("dev")
def dev_command(
    together: Annotated[
        bool, typer.Option("--together", help="the workers as tasks of one process: less memory and CPU")
    ] = False,
) -> None:
    """Migrate, load the demo journey, then run every role (API and workers); Ctrl-C stops them all."""
    settings = get_settings()
    ensure_key_ring(settings.master_key_file)  # a development key ring, mode 0600, if there is none
    _wait_until_ready(settings)
    applied = asyncio.run(apply_migrations(settings))
    console.print(f"migrations applied: {', '.join(applied) or 'none needed'}")
    journey_id = asyncio.run(load_demo_journey(settings))
    key = asyncio.run(ensure_dev_key(settings))
    base_url = f"http://{settings.http_host}:{settings.http_port}"
    console.print(f"demo journey {journey_id} loaded. API on {base_url} (Swagger UI at {base_url}/api).")
    key_file = settings.state_dir / "dev-api-key"
    console.print(
        f"API key with every scope (also in {key_file}, for Authorize in Swagger UI):", style="bold"
    )
    console.print(key, highlight=False, soft_wrap=True)
    console.print("Trigger a run and watch it (Ctrl-C stops everything):", style="bold")
    console.print(escape(demo_curl(base_url, key_file)), highlight=False, soft_wrap=True)
    configure_logging()
    raise typer.Exit(code=run_all_roles(settings, settings.state_dir / "metrics", together=together))


if __name__ == "__main__":
    app()
