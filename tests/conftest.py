"""Fixtures: real Postgres and Kafka, with a fresh database and fresh topics for every test."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx
import hypothesis
import pytest

from events.broker import delete_topics, ensure_topic
from events.key_ring import ensure_key_ring
from pjs.roles import apply_migrations
from pjs.settings import Settings
from support.api import EVERY_CHANNEL, app_client
from support.auth import issue_test_key
from support.endpoints import Endpoints, kafka_settings, test_endpoints

# Property tests check behaviour, never speed (benchmarks measure that): no per-example deadline, which a
# loaded CI machine (Postgres, Kafka and the tests on two cores) can exceed at random.
hypothesis.settings.register_profile("pjs", deadline=None)
hypothesis.settings.load_profile("pjs")

# Every test and every role it starts seals patient data with this session's own master key ring.
_KEYS = Path(tempfile.mkdtemp(prefix="pjs-test-keys-"))
os.environ.setdefault("PJS_MASTER_KEY_FILE", str(_KEYS / "master.key"))
os.environ.setdefault("PJS_ANALYTICS_PSEUDONYM_KEY_FILE", str(_KEYS / "analytics.key"))
ensure_key_ring(Path(os.environ["PJS_MASTER_KEY_FILE"]))


@pytest.fixture(scope="session")
def endpoints() -> Iterator[Endpoints]:
    with test_endpoints() as found:
        yield found


def _with_database(url: str, database: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{database}"


def _database_urls(endpoints: Endpoints, database: str) -> dict[str, str]:
    """The API's, the workers' and the schema owner's DSNs of one database."""
    return {
        "database_url": _with_database(endpoints.database_url, database),
        "worker_database_url": _with_database(endpoints.worker_database_url, database),
        "migration_database_url": _with_database(endpoints.migration_database_url, database),
    }


def _owned_by_migrator(endpoints: Endpoints) -> str:
    owner = urlsplit(endpoints.migration_database_url).username
    return f' OWNER "{owner}"' if owner else ""


@pytest.fixture(scope="session")
async def template_database(endpoints: Endpoints) -> AsyncIterator[str]:
    """A database with every migration applied, copied for each test (copying beats migrating).

    Owned by the migration role, which migrates it and grants the application role its DML; a copy keeps
    the owner's objects, the grants and the default privileges (roles are cluster-wide).
    """
    name = f"pjs_template_{uuid.uuid4().hex[:12]}"
    await _admin(endpoints, f'CREATE DATABASE "{name}"{_owned_by_migrator(endpoints)}')
    await apply_migrations(Settings(**_database_urls(endpoints, name)))
    yield name
    await _admin(endpoints, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _admin(endpoints: Endpoints, statement: str) -> None:
    """One statement on a connection of its own (a test may restart the server in between)."""
    admin = await asyncpg.connect(endpoints.admin_database_url)
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


@pytest.fixture
async def test_database(endpoints: Endpoints, template_database: str) -> AsyncIterator[str]:
    """The name of a fresh, migrated database of this test's own."""
    name = f"pjs_test_{uuid.uuid4().hex[:12]}"
    owner = _owned_by_migrator(endpoints)
    await _admin(endpoints, f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"{owner}')
    yield name
    await _admin(endpoints, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(endpoints: Endpoints, test_database: str) -> str:
    """This test's database as the workers' role: no DDL, DML only, every tenant's rows."""
    return _database_urls(endpoints, test_database)["worker_database_url"]


@pytest.fixture
def api_database_url(endpoints: Endpoints, test_database: str) -> str:
    """This test's database as the API's role: DML only, and only the rows of the transaction's tenant."""
    return _database_urls(endpoints, test_database)["database_url"]


@pytest.fixture
def migration_database_url(endpoints: Endpoints, test_database: str) -> str:
    """This test's database as the schema owner (migrations, rebuilds)."""
    return _database_urls(endpoints, test_database)["migration_database_url"]


@pytest.fixture
async def settings(test_database: str, endpoints: Endpoints, tmp_path: Path) -> AsyncIterator[Settings]:
    """Settings pointing at this test's database, its own topics and consumer groups, and its own analytics
    directory (the default, `.pjs/analytics`, is the checkout's own, where `pjs dev` writes)."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    test_settings = Settings(
        **_database_urls(endpoints, test_database),
        **kafka_settings(endpoints.kafka),
        run_events_topic=f"{prefix}.run-events",
        run_events_partitions=4,
        engine_group=f"{prefix}-engine",
        projector_group=f"{prefix}-projector",
        delivery_group=f"{prefix}-delivery",
        analytics_dir=tmp_path / "analytics",
    )
    await ensure_topic(endpoints.kafka, test_settings.run_events_topic, test_settings.run_events_partitions)
    yield test_settings
    await delete_topics(endpoints.kafka, [test_settings.run_events_topic])


@pytest.fixture
def own_key_file(settings: Settings, tmp_path: Path) -> Settings:
    """Settings with a master key file of the test's own (a rotation changes no other test's), looked at
    every 0.1 s by running roles."""
    key_file = tmp_path / "master.key"
    shutil.copy(settings.master_key_file, key_file)
    return settings.model_copy(update={"master_key_file": key_file, "master_key_check_seconds": 0.1})


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(database_url, min_size=1, max_size=10) as created:
        yield created


@pytest.fixture
async def migration_pool(migration_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """This test's database as the schema owner: for rebuilds and other DDL."""
    async with asyncpg.create_pool(migration_database_url, min_size=1, max_size=2) as created:
        yield created


@pytest.fixture
async def api_key(settings: Settings) -> str:
    """A key with every scope, of a tenant of its own, in this test's database."""
    return await issue_test_key(settings.resolved_migration_database_url())


@pytest.fixture
async def default_tenant_api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the default tenant: where runs and journeys written without the API (straight through
    the store, as the workers' role) belong, so it reads what such a test wrote."""
    key = await issue_test_key(settings.resolved_migration_database_url(), tenant="default")
    async with app_client(settings, key) as (client, _):
        yield client


@pytest.fixture
async def api(settings: Settings, api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the app over this test's database, with the app's lifespan running, sending
    `api_key` as a real client would."""
    async with app_client(settings, api_key) as (client, _):
        yield client


@pytest.fixture
async def messaging_api(settings: Settings, api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """`api` of a service whose settings give every channel an endpoint: it saves journeys that send by
    sms, email or webhook (an API without an endpoint for a channel refuses them)."""
    async with app_client(settings.model_copy(update=EVERY_CHANNEL), api_key) as (client, _):
        yield client


INTEGRATION = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/integration needs the real services: `-m "not integration"` leaves it out."""
    for item in items:
        if INTEGRATION in item.path.parents:
            item.add_marker(pytest.mark.integration)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With PJS_TESTS_FORBID_SKIPS=1 (CI sets it) a skipped test fails the run: on a machine that CI set up,
    every test can run, so a skip means a tool or a service went missing and something went untested."""
    if os.environ.get("PJS_TESTS_FORBID_SKIPS") != "1" or exitstatus != 0:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if reporter is not None and skipped:
        reporter.write_line(f"{len(skipped)} test(s) skipped: PJS_TESTS_FORBID_SKIPS=1 forbids it", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
