"""Kafka plumbing shared by every role: how to reach the broker, topic creation, producer/consumer settings.

Every Kafka client in the code base is made here from a `KafkaConnection`, so security options are never
forgotten on one of them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import TopicAlreadyExistsError, UnknownTopicOrPartitionError
from aiokafka.helpers import create_ssl_context


@dataclass(frozen=True)
class KafkaConnection:
    """Where the broker is and how to authenticate to it (PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)."""

    bootstrap: str
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None  # e.g. SCRAM-SHA-256, SCRAM-SHA-512, PLAIN
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None

    def client_options(self) -> dict[str, object]:
        """The keyword arguments every aiokafka client takes to reach and authenticate to the broker."""
        options: dict[str, object] = {
            "bootstrap_servers": self.bootstrap,
            "security_protocol": self.security_protocol,
        }
        if self.security_protocol.startswith("SASL_"):
            options["sasl_mechanism"] = self.sasl_mechanism or "PLAIN"
            options["sasl_plain_username"] = self.username
            options["sasl_plain_password"] = self.password
        if self.security_protocol.endswith("SSL"):
            options["ssl_context"] = create_ssl_context(
                cafile=self.ssl_cafile, certfile=self.ssl_certfile, keyfile=self.ssl_keyfile
            )
        return options


def make_producer(kafka: KafkaConnection, **overrides: object) -> AIOKafkaProducer:
    """An idempotent producer with acks=all: a retried send never duplicates or reorders a partition."""
    options: dict[str, object] = {
        **kafka.client_options(),
        "enable_idempotence": True,
        "acks": "all",
        "linger_ms": 5,
        "request_timeout_ms": 30_000,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


def make_consumer(
    kafka: KafkaConnection, group_id: str | None, *topics: str, **overrides: object
) -> AIOKafkaConsumer:
    """A consumer that never auto-commits: offsets are committed only after the work is durable.

    `group_id=None` makes a consumer outside any group (for reading offsets or assigned partitions).
    """
    options: dict[str, object] = {
        **kafka.client_options(),
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed",
    }
    options.update(overrides)
    return AIOKafkaConsumer(*topics, **options)


def make_admin(kafka: KafkaConnection, **overrides: object) -> AIOKafkaAdminClient:
    """An admin client (not started)."""
    return AIOKafkaAdminClient(**{**kafka.client_options(), **overrides})


async def ensure_topic(
    kafka: KafkaConnection, name: str, partitions: int, retention_ms: int | None = None
) -> None:
    """Create the topic if it does not exist yet (replication factor 1 on a single broker).

    `retention_ms` bounds how long records (ciphertext of patient data included) stay on the topic.
    """
    configs = {} if retention_ms is None else {"retention.ms": str(retention_ms)}
    admin = make_admin(kafka)
    await admin.start()
    try:
        topic = NewTopic(name, num_partitions=partitions, replication_factor=1, topic_configs=configs)
        await admin.create_topics([topic])
    except TopicAlreadyExistsError:
        pass
    finally:
        await admin.close()


async def delete_topics(kafka: KafkaConnection, names: list[str]) -> None:
    admin = make_admin(kafka)
    await admin.start()
    try:
        await admin.delete_topics(names)
    except UnknownTopicOrPartitionError:
        pass
    finally:
        await admin.close()


async def broker_answers(kafka: KafkaConnection, timeout_seconds: float = 3.0) -> bool:
    """A metadata round trip (not just an open port): a broker answers the Kafka protocol."""
    client = AIOKafkaClient(**kafka.client_options(), request_timeout_ms=2000)
    try:
        async with asyncio.timeout(timeout_seconds):
            await client.bootstrap()
            return bool(client.cluster.brokers())
    except Exception:  # any failure to answer means "not answering"; the probe itself must not fail
        return False
    finally:
        await client.close()
