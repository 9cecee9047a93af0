"""A scenario's own migrated database and Kafka topics and groups, all dropped when the scenario ends."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import DeleteGroupsRequest

from api.key_store import full_access_key
from bench.topics import end_offsets
from events.broker import delete_topics, ensure_topic
from events.schema import migrate

log = logging.getLogger(__name__)
_CLEANUP_SECONDS = 30


def with_database(url: str, database: str) -> str:
    """The same DSN pointing at another database (query parameters kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@dataclass
class Sandbox:
    """What one scenario may use; every name is unique to this run so concurrent runs never collide."""

    prefix: str
    database_url: str
    kafka_bootstrap: str
    partitions: int
    topics: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)

    async def topic(self, purpose: str) -> str:
        """Create a fresh topic for `purpose`; it is deleted with the sandbox."""
        name = f"{self.prefix}.{purpose}"
        self.topics.append(name)
        await ensure_topic(self.kafka_bootstrap, name, self.partitions)
        await end_offsets(self.kafka_bootstrap, name, self.partitions)  # ready for sends
        return name

    def group(self, purpose: str) -> str:
        """A fresh consumer group id for `purpose`; it is deleted with the sandbox."""
        name = f"{self.prefix}-{purpose}"
        self.groups.append(name)
        return name

    def role_environment(self, topic: str) -> dict[str, str]:
        """PJS_* variables that point a separately spawned `pjs` role at this sandbox."""
        return {
            "PJS_DATABASE_URL": self.database_url,
            "PJS_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "PJS_RUN_EVENTS_TOPIC": topic,
            "PJS_RUN_EVENTS_PARTITIONS": str(self.partitions),
        }


async def api_key_in(database_url: str, tenant: str) -> str:
    """A key with every scope of `tenant` in that database, for a client that calls the API as a real one."""
    connection = await asyncpg.connect(database_url)
    try:
        return (await full_access_key(connection, tenant)).key
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def sandbox(
    admin_url: str, kafka_bootstrap: str, scenario: str, partitions: int
) -> AsyncIterator[Sandbox]:
    """CREATE DATABASE + migrate on entry; drop the database, topics and groups on exit, whatever happened."""
    prefix = f"pjs_bench_{scenario}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{prefix}"')
        try:
            url = with_database(admin_url, prefix)
            connection = await asyncpg.connect(url)
            try:
                await migrate(connection)
            finally:
                await connection.close()
            box = Sandbox(prefix, url, kafka_bootstrap, partitions)
            try:
                yield box
            finally:
                await _drop_kafka_names(box)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{prefix}" WITH (FORCE)', timeout=_CLEANUP_SECONDS)
    finally:
        await admin.close()


async def _drop_kafka_names(box: Sandbox) -> None:
    """Best effort, so a clean-up error never hides the scenario's own; what is left is named on stderr."""
    try:
        if box.topics:
            await delete_topics(box.kafka_bootstrap, box.topics)
        for group in box.groups:
            await _delete_group(box.kafka_bootstrap, group)
    except Exception as error:  # reported, not raised: the scenario's outcome is what matters
        log.warning("bench clean-up failed (%s); left: topics %s, groups %s", error, box.topics, box.groups)


async def _delete_group(bootstrap: str, group: str) -> None:
    """aiokafka's admin client has no delete_consumer_groups: send DeleteGroups to the group's coordinator."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
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
