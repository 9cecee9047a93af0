"""The services refuse whoever has no credentials, and the application role can change data, not schema."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from events.broker import KafkaConnection, broker_answers
from support.endpoints import Endpoints
from support.subscriber_access import connection_of, services_status


@pytest.fixture(params=["api_database_url", "database_url"], ids=["api role", "worker role"])
async def as_application(
    request: pytest.FixtureRequest, api_database_url: str, database_url: str
) -> AsyncIterator[asyncpg.Connection]:
    """The API's role (bound by row-level security) and the workers' role (every tenant): both DML only."""
    urls = {"api_database_url": api_database_url, "database_url": database_url}
    connection = await asyncpg.connect(urls[request.param])
    yield connection
    await connection.close()


async def test_the_application_role_cannot_switch_off_the_audit_logs_append_only_trigger(
    as_application: asyncpg.Connection,
) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await as_application.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_is_append_only")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await as_application.execute("ALTER TABLE audit_log DISABLE TRIGGER ALL")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await as_application.execute("SET session_replication_role = replica")  # would skip triggers too


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE smuggled (id int)",
        "DROP TABLE run_status",
        "ALTER TABLE events ADD COLUMN smuggled text",
        "DELETE FROM events",  # events and the audit log are append-only for the application
        "UPDATE events SET data = '{}'",
        "UPDATE audit_log SET actor = 'someone else'",
        "DELETE FROM audit_log_runs",
        "DELETE FROM schema_migrations",
    ],
)
async def test_the_application_role_can_neither_change_the_schema_nor_rewrite_history(
    as_application: asyncpg.Connection, statement: str
) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await as_application.execute(statement)


async def test_the_application_role_is_no_superuser_yet_reads_and_appends(
    as_application: asyncpg.Connection,
) -> None:
    superuser = await as_application.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    assert superuser is False
    assert await as_application.fetchval("SELECT count(*) FROM events") == 0
    assert await as_application.fetchval("SELECT count(*) FROM audit_log") == 0


async def test_postgres_refuses_a_connection_without_the_password(database_url: str) -> None:
    parts = urlsplit(database_url)
    assert parts.password, "the suite's Postgres is reached with a password"
    server = f"{parts.hostname}:{parts.port}"
    without_password = urlunsplit(parts._replace(netloc=f"{parts.username}@{server}"))
    with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError):
        await asyncpg.connect(without_password, timeout=10)
    wrong_password = urlunsplit(parts._replace(netloc=f"{parts.username}:wrong@{server}"))
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(wrong_password, timeout=10)


async def test_kafka_refuses_a_client_without_credentials_or_with_a_wrong_password(
    endpoints: Endpoints,
) -> None:
    if not endpoints.kafka.security_protocol.startswith("SASL_"):
        pytest.skip("the suite's broker was configured without SASL (PJS_KAFKA_SECURITY_PROTOCOL)")
    assert await broker_answers(endpoints.kafka)
    assert not await broker_answers(KafkaConnection(endpoints.kafka.bootstrap))
    assert not await broker_answers(replace(endpoints.kafka, password="wrong"))


async def test_services_status_json_gives_credentials_that_work() -> None:
    status = services_status()
    postgres, kafka = status["postgres"], status["kafka"]

    for url in (postgres["databaseUrl"], postgres["workerDatabaseUrl"], postgres["migrationDatabaseUrl"]):
        connection = await asyncpg.connect(url)
        try:
            assert await connection.fetchval("SELECT current_user") == urlsplit(url).username
        finally:
            await connection.close()
    assert await broker_answers(connection_of(kafka))
    # The read-only user for subscribers (what it may do: test_kafka_access.py).
    assert await broker_answers(connection_of(kafka["subscriber"]))
