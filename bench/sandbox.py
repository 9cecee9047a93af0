"""A scenario's own migrated database and Kafka topics and groups, all dropped when the scenario ends."""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from aiokafka.protocol.admin import DeleteGroupsRequest

from api.key_store import full_access_key
from bench.config import Databases
from bench.topics import end_offsets
from events.broker import KafkaConnection, delete_topics, ensure_topic, make_admin
from events.key_ring import ensure_key_ring
from pjs.roles import apply_migrations
from pjs.settings import Settings

log = logging.getLogger(__name__)
_CLEANUP_SECONDS = 30
MASTER_KEY_FILE = "master.key"


def with_database(url: str, database: str) -> str:
    """The same DSN pointing at another database (query parameters kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@dataclass
class Sandbox:
    """What one scenario may use; every name is unique to this run so concurrent runs never collide."""

    prefix: str
    database_url: str  # the API's role's: bound by row-level security to one tenant per transaction
    migration_database_url: str  # the schema owner's, for DDL
    kafka: KafkaConnection
    partitions: int
    keys_dir: Path  # the sandbox's own master key ring and analytics secret: patient data is sealed
    worker_database_url: str  # the workers' role's: every tenant (what measurements and checks read with)
    topics: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)

    async def topic(self, purpose: str) -> str:
        """Create a fresh topic for `purpose`; it is deleted with the sandbox."""
        name = f"{self.prefix}.{purpose}"
        self.topics.append(name)
        await ensure_topic(self.kafka, name, self.partitions)
        await end_offsets(self.kafka, name, self.partitions)  # ready for sends
        return name

    def group(self, purpose: str) -> str:
        """A fresh consumer group id for `purpose`; it is deleted with the sandbox."""
        name = f"{self.prefix}-{purpose}"
        self.groups.append(name)
        return name

    def role_environment(self, topic: str) -> dict[str, str]:
        """PJS_* variables that point a separately spawned `pjs` role at this sandbox."""
        kafka = {
            "PJS_KAFKA_BOOTSTRAP": self.kafka.bootstrap,
            "PJS_KAFKA_SECURITY_PROTOCOL": self.kafka.security_protocol,
            "PJS_KAFKA_SASL_MECHANISM": self.kafka.sasl_mechanism,
            "PJS_KAFKA_USERNAME": self.kafka.username,
            "PJS_KAFKA_PASSWORD": self.kafka.password,
            "PJS_KAFKA_SSL_CAFILE": self.kafka.ssl_cafile,
            "PJS_KAFKA_SSL_CERTFILE": self.kafka.ssl_certfile,
            "PJS_KAFKA_SSL_KEYFILE": self.kafka.ssl_keyfile,
        }
        return {
            "PJS_DATABASE_URL": self.database_url,
            "PJS_MIGRATION_DATABASE_URL": self.migration_database_url,
            "PJS_WORKER_DATABASE_URL": self.worker_database_url,
            **{name: value for name, value in kafka.items() if value is not None},
            "PJS_RUN_EVENTS_TOPIC": topic,
            "PJS_RUN_EVENTS_PARTITIONS": str(self.partitions),
            "PJS_MASTER_KEY_FILE": str(self.master_key_file),
            "PJS_ANALYTICS_PSEUDONYM_KEY_FILE": str(self.keys_dir / "analytics.key"),
        }

    @property
    def master_key_file(self) -> Path:
        return self.keys_dir / MASTER_KEY_FILE


async def api_key_in(database_url: str, tenant: str) -> str:
    """A key with every scope of `tenant` in that database, for a client that calls the API as a real one.
    `database_url` is the schema owner's: the one role that may issue keys, as `pjs keys create` does."""
    connection = await asyncpg.connect(database_url)
    try:
        return (await full_access_key(connection, tenant, by="operator:bench")).key
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def sandbox(
    databases: Databases, kafka: KafkaConnection, scenario: str, partitions: int
) -> AsyncIterator[Sandbox]:
    """CREATE DATABASE + migrate on entry; drop the database, topics and groups on exit, whatever happened."""
    box = await open_sandbox(databases, kafka, f"pjs_bench_{scenario}_{uuid.uuid4().hex[:8]}", partitions)
    try:
        yield box
    finally:
        await close_sandbox(box, databases.admin_url)


async def open_sandbox(databases: Databases, kafka: KafkaConnection, prefix: str, partitions: int) -> Sandbox:
    """Database `prefix`, created by the superuser, owned by the schema owner and migrated as it."""
    owner = urlsplit(databases.migration_url).username
    keys_dir = Path(tempfile.mkdtemp(prefix=prefix))
    ensure_key_ring(keys_dir / MASTER_KEY_FILE)
    await _as_admin(
        databases.admin_url, f'CREATE DATABASE "{prefix}"' + (f' OWNER "{owner}"' if owner else "")
    )
    try:
        settings = Settings(
            database_url=with_database(databases.app_url, prefix),
            migration_database_url=with_database(databases.migration_url, prefix),
            worker_database_url=with_database(databases.worker_url, prefix),
        )
        await apply_migrations(settings)
    except BaseException:
        await _drop_database(databases.admin_url, prefix)
        raise
    return Sandbox(
        prefix,
        settings.resolved_database_url(),
        settings.resolved_migration_database_url(),
        kafka,
        partitions,
        keys_dir,
        settings.resolved_worker_database_url(),
    )


async def close_sandbox(box: Sandbox, admin_url: str) -> None:
    """Drop the sandbox's topics and groups (best effort), then its database."""
    try:
        shutil.rmtree(box.keys_dir, ignore_errors=True)
        await _drop_kafka_names(box)
    finally:
        await _drop_database(admin_url, box.prefix)


async def _drop_database(admin_url: str, name: str) -> None:
    await _as_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _as_admin(admin_url: str, statement: str) -> None:
    admin = await asyncpg.connect(admin_url, timeout=_CLEANUP_SECONDS)
    try:
        await admin.execute(statement, timeout=_CLEANUP_SECONDS)
    finally:
        await admin.close()


async def _drop_kafka_names(box: Sandbox) -> None:
    """Best effort, so a clean-up error never hides the scenario's own; what is left is named on stderr."""
    try:
        if box.topics:
            await delete_topics(box.kafka, box.topics)
        for group in box.groups:
            await _delete_group(box.kafka, group)
    except Exception as error:  # reported, not raised: the scenario's outcome is what matters
        log.warning("bench clean-up failed (%s); left: topics %s, groups %s", error, box.topics, box.groups)


async def _delete_group(kafka: KafkaConnection, group: str) -> None:
    """aiokafka's admin client has no delete_consumer_groups: send DeleteGroups to the group's coordinator."""
    admin = make_admin(kafka)
    await admin.start()
    try:
        coordinator = await admin.find_coordinator(group)
        response = await admin._send_request_to_node(coordinator, DeleteGroupsRequest([group]))
        for name, error_code in response.results:
            # 69 = GROUP_ID_NOT_FOUND: nothing left behind (no member ever joined, or it was removed).
            if error_code not in (0, 69):
                log.warning("consumer group %s not deleted (Kafka error %s)", name, error_code)
    finally:
        await admin.close()
