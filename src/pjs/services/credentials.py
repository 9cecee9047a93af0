"""The local services' passwords: generated at the first `pjs services up`, kept in the state dir (0600)."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import quote

from events.broker import KafkaConnection
from pjs.services.processes import ServiceError

CREDENTIALS_FILE = "credentials.json"
HOST = "127.0.0.1"
POSTGRES_BOOTSTRAP_USER = "postgres"  # the superuser: only the services scripts and test fixtures use it
POSTGRES_MIGRATOR = "pjs_migrator"  # owns the schema, runs DDL (`pjs migrate`, `pjs replay`)
POSTGRES_APP = "pjs_app"  # what the API uses: DML only, bound by row-level security to one tenant
POSTGRES_WORKER = "pjs_worker"  # what the workers use: DML only, every tenant (BYPASSRLS)
POSTGRES_DATABASE = "pjs"
KAFKA_USER = "pjs"  # the service's own: a super user of the local broker, never handed to a subscriber
KAFKA_SUBSCRIBER_USER = "pjs-subscriber"  # reads the run-events topic (groups subscriber.*), writes nothing
KAFKA_SASL_MECHANISM = "SCRAM-SHA-256"


@dataclass(frozen=True)
class LocalCredentials:
    postgres_bootstrap_password: str
    postgres_migrator_password: str
    postgres_app_password: str
    kafka_password: str
    postgres_worker_password: str
    kafka_subscriber_password: str

    def __repr__(self) -> str:
        return "LocalCredentials(***)"


def credentials_path(state_dir: Path) -> Path:
    return state_dir / CREDENTIALS_FILE


def load_credentials(state_dir: Path) -> LocalCredentials:
    """The local passwords; a ServiceError says to run `pjs services up` when there are none yet."""
    path = credentials_path(state_dir)
    try:
        stored = json.loads(path.read_text())
    except FileNotFoundError:
        raise ServiceError(
            f"no local credentials in {path}: run `pjs services up` first "
            "(or set PJS_DATABASE_URL and PJS_KAFKA_BOOTSTRAP to services of your own)"
        ) from None
    missing = [field for field in LocalCredentials.__dataclass_fields__ if field not in stored]
    if missing:
        raise ServiceError(
            f"the local credentials in {path} have no {', '.join(missing)} yet: run `pjs services up`"
        )
    return LocalCredentials(**stored)


def ensure_credentials(state_dir: Path) -> LocalCredentials:
    """The local passwords, generated (random, 0600 file) if this state dir has none yet."""
    path = credentials_path(state_dir)
    stored = json.loads(path.read_text()) if path.exists() else {}
    if stored and all(field in stored for field in LocalCredentials.__dataclass_fields__):
        return load_credentials(state_dir)
    # A state dir from before a role or user (the worker role, the Kafka subscriber) gets its password
    # added; `up` then creates the role or user.
    created = LocalCredentials(
        **{
            field: stored.get(field) or secrets.token_urlsafe(24)
            for field in LocalCredentials.__dataclass_fields__
        }
    )
    state_dir.mkdir(parents=True, exist_ok=True)
    # Written with 0600 from the start, so the passwords are never readable by others, not even briefly.
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(asdict(created), file, indent=2)
    temporary.replace(path)
    return created


def local_postgres_url(
    credentials: LocalCredentials, user: str, port: int, database: str | None = None
) -> str:
    """The DSN of one of the local Postgres roles, password included (database `pjs` unless named)."""
    passwords = {
        POSTGRES_BOOTSTRAP_USER: credentials.postgres_bootstrap_password,
        POSTGRES_MIGRATOR: credentials.postgres_migrator_password,
        POSTGRES_APP: credentials.postgres_app_password,
        POSTGRES_WORKER: credentials.postgres_worker_password,
    }
    password = quote(passwords[user], safe="")
    return f"postgresql://{user}:{password}@{HOST}:{port}/{database or POSTGRES_DATABASE}"


def local_kafka_connection(credentials: LocalCredentials, port: int) -> KafkaConnection:
    """How to reach the local broker: SASL/SCRAM as the service's user, on loopback."""
    return _scram_on_loopback(port, KAFKA_USER, credentials.kafka_password)


def local_subscriber_connection(credentials: LocalCredentials, port: int) -> KafkaConnection:
    """How a subscriber reaches the local broker: as the read-only subscriber user."""
    return _scram_on_loopback(port, KAFKA_SUBSCRIBER_USER, credentials.kafka_subscriber_password)


def _scram_on_loopback(port: int, username: str, password: str) -> KafkaConnection:
    return KafkaConnection(
        f"{HOST}:{port}",
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism=KAFKA_SASL_MECHANISM,
        username=username,
        password=password,
    )
