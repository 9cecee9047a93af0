"""Kafka plumbing shared by every role: topic creation and the producer/consumer settings we always use."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import TopicAlreadyExistsError, UnknownTopicOrPartitionError


def make_producer(bootstrap: str, **overrides: object) -> AIOKafkaProducer:
    """An idempotent producer with acks=all: a retried send never duplicates or reorders a partition."""
    options: dict[str, object] = {
        "bootstrap_servers": bootstrap,
        "enable_idempotence": True,
        "acks": "all",
        "linger_ms": 5,
        "request_timeout_ms": 30_000,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


def make_consumer(bootstrap: str, group_id: str, *topics: str, **overrides: object) -> AIOKafkaConsumer:
    """A group consumer that never auto-commits: offsets are committed only after the work is durable."""
    options: dict[str, object] = {
        "bootstrap_servers": bootstrap,
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed",
    }
    options.update(overrides)
    return AIOKafkaConsumer(*topics, **options)


async def ensure_topic(bootstrap: str, name: str, partitions: int, retention_ms: int | None = None) -> None:
    """Create the topic if it does not exist yet (replication factor 1 on a single broker).

    `retention_ms` bounds how long records (ciphertext of patient data included) stay on the topic.
    """
    configs = {} if retention_ms is None else {"retention.ms": str(retention_ms)}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topic = NewTopic(name, num_partitions=partitions, replication_factor=1, topic_configs=configs)
        await admin.create_topics([topic])
    except TopicAlreadyExistsError:
        pass
    finally:
        await admin.close()


async def delete_topics(bootstrap: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(names)
    except UnknownTopicOrPartitionError:
        pass
    finally:
        await admin.close()


async def broker_answers(bootstrap: str, timeout_seconds: float = 3.0) -> bool:
    """A metadata round trip (not just an open port): a broker answers the Kafka protocol."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=2000)
    try:
        async with asyncio.timeout(timeout_seconds):
            await client.bootstrap()
            return bool(client.cluster.brokers())
    except Exception:  # any failure to answer means "not answering"; the probe itself must not fail
        return False
    finally:
        await client.close()
