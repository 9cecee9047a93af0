"""Kafka plumbing shared by every role: topic creation and the producer/consumer settings we always use."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
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


async def ensure_topic(bootstrap: str, name: str, partitions: int) -> None:
    """Create the topic if it does not exist yet (replication factor 1 on a single broker)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
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
