"""Fixtures: real Postgres and Kafka, with a fresh database and fresh topics for every test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest

from events.broker import delete_topics, ensure_topic
from events.schema import migrate
from pjs.settings import Settings
from support.api import app_client
from support.auth import issue_test_key
from support.endpoints import Endpoints, test_endpoints


@pytest.fixture(scope="session")
def endpoints() -> Iterator[Endpoints]:
    with test_endpoints() as found:
        yield found


def _with_database(url: str, database: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{database}"


@pytest.fixture(scope="session")
async def template_database(endpoints: Endpoints) -> AsyncIterator[str]:
    """A database with every migration applied, copied for each test (copying beats migrating)."""
    name = f"pjs_template_{uuid.uuid4().hex[:12]}"
    await _admin(endpoints, f'CREATE DATABASE "{name}"')
    connection = await asyncpg.connect(_with_database(endpoints.database_url, name))
    try:
        await migrate(connection)
    finally:
        await connection.close()
    yield name
    await _admin(endpoints, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _admin(endpoints: Endpoints, statement: str) -> None:
    """One statement on a connection of its own (a test may restart the server in between)."""
    admin = await asyncpg.connect(endpoints.database_url)
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


@pytest.fixture
async def database_url(endpoints: Endpoints, template_database: str) -> AsyncIterator[str]:
    """A fresh, migrated database of this test's own."""
    name = f"pjs_test_{uuid.uuid4().hex[:12]}"
    await _admin(endpoints, f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    yield _with_database(endpoints.database_url, name)
    await _admin(endpoints, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def settings(database_url: str, endpoints: Endpoints) -> AsyncIterator[Settings]:
    """Settings pointing at this test's database and its own topics and consumer groups."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    test_settings = Settings(
        database_url=database_url,
        kafka_bootstrap=endpoints.kafka_bootstrap,
        run_events_topic=f"{prefix}.run-events",
        run_events_partitions=4,
        engine_group=f"{prefix}-engine",
        projector_group=f"{prefix}-projector",
        delivery_group=f"{prefix}-delivery",
    )
    await ensure_topic(
        endpoints.kafka_bootstrap, test_settings.run_events_topic, test_settings.run_events_partitions
    )
    yield test_settings
    await delete_topics(endpoints.kafka_bootstrap, [test_settings.run_events_topic])


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(database_url, min_size=1, max_size=10) as created:
        yield created


@pytest.fixture
async def api_key(settings: Settings) -> str:
    """A key with every scope, of a tenant of its own, in this test's database."""
    return await issue_test_key(settings.resolved_database_url())


@pytest.fixture
async def api(settings: Settings, api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the app over this test's database, with the app's lifespan running, sending
    `api_key` as a real client would."""
    async with app_client(settings, api_key) as (client, _):
        yield client
