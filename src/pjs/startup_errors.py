"""Why a command could not start, in one line an operator can act on: for the errors of configuration and
connection, whose messages name a user, a host or a file but never a patient's data.

Every other error keeps only its type in the log (its message might quote a record)."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

import asyncpg
from aiokafka.errors import KafkaConnectionError
from pydantic import ValidationError

from events.key_ring import KeyRingError
from pjs.setting_bounds import settings_problems
from pjs.settings import Settings


class NotUpInTime(Exception):
    """Postgres or Kafka did not answer within a start's bound (`pjs.startup_waits`); the message says
    where, and which setting bounds the wait."""


class SchemaBehind(Exception):
    """The database lacks migrations this release ships, and the role was told not to apply them
    (PJS_MIGRATE_AT_START=false); the message names them and the command that applies them."""


EXPLAINED_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.InvalidAuthorizationSpecificationError,  # a wrong password, or a user the server refuses
    asyncpg.InvalidCatalogNameError,  # no such database
    asyncpg.PostgresConnectionError,
    OSError,  # a refused connection, an unknown host, a file that cannot be read
    KeyRingError,
    KafkaConnectionError,
    NotUpInTime,
    SchemaBehind,
    ValidationError,  # of the settings only: see `explain`
)
"""The errors whose message says what was wrong with the configuration and holds no patient data."""

MIGRATION_DSN, API_DSN, WORKER_DSN = (
    "PJS_MIGRATION_DATABASE_URL",
    "PJS_DATABASE_URL",
    "PJS_WORKER_DATABASE_URL",
)
_SOCKET_ADDRESS = re.compile(r"\('([^']+)', (\d+)\)")  # as asyncio's connection errors print one
MIGRATING = "while migrating the schema"
"""The note on an error raised while a role's start migrated, as the schema owner."""


def explain(error: BaseException, settings: Settings, dsn: str) -> str | None:
    """The reason to log for `error`, with what to do; None when its message must not be shown. `dsn`: the
    variable of the DSN the command connects with, unless the error carries `MIGRATING`."""
    if not isinstance(error, EXPLAINED_ERRORS):
        return None
    if isinstance(error, ValidationError):
        if error.title != Settings.__name__:  # another model's input may be a record: patient data
            return None
        return "the settings are not valid: " + "; ".join(settings_problems(error, Settings))
    dsn = MIGRATION_DSN if MIGRATING in getattr(error, "__notes__", ()) else dsn
    if isinstance(error, asyncpg.InvalidAuthorizationSpecificationError):
        return _postgres_refused(error, settings, dsn, "check the password (or the user) in")
    if isinstance(error, asyncpg.InvalidCatalogNameError):
        return _postgres_refused(error, settings, dsn, "check the database name in")
    if isinstance(error, KafkaConnectionError):
        return (
            f"Kafka at {kafka_address(settings)} cannot be reached ({error}); check PJS_KAFKA_BOOTSTRAP "
            "and that the broker runs"
        )
    if isinstance(error, KeyRingError | NotUpInTime | SchemaBehind):
        return str(error)
    if isinstance(error, OSError) and (unreachable := _postgres_unreachable(error, settings, dsn)):
        return unreachable
    return f"{type(error).__name__}: {error}; check the address or the file it names"


def postgres_address(url: str) -> str:
    """`user@host:port/database` of a DSN: what it connects to, never its password."""
    try:
        parts = urlsplit(url)
        user = unquote(parts.username or "")
        host, port, database = parts.hostname or "localhost", parts.port or 5432, parts.path.lstrip("/")
    except ValueError:
        return "the configured DSN (not a URL)"
    return f"{user}@{host}:{port}/{unquote(database) or user}"


def migration_address(settings: Settings) -> str:
    """Where a role's start migrates the schema: `user@host:port/database`."""
    try:
        return postgres_address(settings.resolved_migration_database_url())
    except (OSError, ValueError, KeyError):
        return "the local Postgres (its credentials cannot be read yet)"


def kafka_address(settings: Settings) -> str:
    """The Kafka bootstrap servers a role connects to (host:port, no credentials)."""
    try:
        return settings.kafka_connection().bootstrap
    except (OSError, ValueError, KeyError):
        return "the local Kafka (its credentials cannot be read)"


def database_url(settings: Settings, variable: str) -> tuple[str, str] | None:
    """The DSN `variable` names (resolved: the local services' when unset), with how an operator finds it."""
    configured, resolve = {
        MIGRATION_DSN: (settings.migration_database_url, settings.resolved_migration_database_url),
        API_DSN: (settings.database_url, settings.resolved_database_url),
        WORKER_DSN: (settings.worker_database_url, settings.resolved_worker_database_url),
    }[variable]
    try:
        url = resolve()
    except (OSError, ValueError, KeyError):  # the local credentials file is missing or damaged
        return None
    if configured:
        return variable, url
    if settings.database_url is not None:
        return f"{variable} (unset, so PJS_DATABASE_URL)", url
    return f"{variable} (unset: the local services' {settings.state_dir / 'credentials.json'})", url


def _postgres_unreachable(error: OSError, settings: Settings, dsn: str) -> str | None:
    """A refused or failed connection to the address of the DSN `dsn`: name that DSN, else None."""
    found = database_url(settings, dsn)
    addresses = {(host, int(port)) for host, port in _SOCKET_ADDRESS.findall(str(error))}
    if found is None or not addresses:
        return None
    variable, url = found
    parts = urlsplit(url)
    if (parts.hostname, parts.port or 5432) not in addresses:
        return None
    return (
        f"Postgres at {postgres_address(url)} cannot be reached ({type(error).__name__}: {error}); "
        f"check the host and port in {variable} and that the server runs"
    )


def _postgres_refused(error: BaseException, settings: Settings, dsn: str, advice: str) -> str:
    """Postgres refused a user or a database: name the DSN by its variable and its address."""
    found = database_url(settings, dsn)
    if found is None:
        return f"Postgres refused the connection: {error}"
    variable, url = found
    return f"Postgres at {postgres_address(url)} refused the connection: {error}; {advice} {variable}"
