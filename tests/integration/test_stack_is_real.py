"""The services the suite runs on are a real Postgres and a real Kafka broker."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from events.broker import delete_topics, ensure_topic, make_consumer, make_producer
from pjs.settings import Settings


async def test_a_row_written_through_asyncpg_reads_back(migration_database_url: str) -> None:
    connection = await asyncpg.connect(migration_database_url)
    try:
        await connection.execute("CREATE TABLE greetings (id int PRIMARY KEY, text text NOT NULL)")
        await connection.execute("INSERT INTO greetings VALUES (1, 'hello')")
        assert await connection.fetchval("SELECT text FROM greetings WHERE id = 1") == "hello"
        assert (await connection.fetchval("SHOW server_version")).split(".")[0].isdigit()
    finally:
        await connection.close()


async def test_the_event_store_schema_is_migrated(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        tables = {row["tablename"] for row in await connection.fetch("SELECT tablename FROM pg_tables")}
    finally:
        await connection.close()
    assert {"events", "schema_migrations", "feed_checkpoints"} <= tables


async def test_a_record_produced_idempotently_is_consumed_back_in_a_group(settings: Settings) -> None:
    kafka = settings.kafka_connection()
    topic = f"{settings.run_events_topic}.smoke"
    await ensure_topic(kafka, topic, partitions=3)
    producer = make_producer(kafka)
    await producer.start()
    try:
        sent = [f"message-{n}".encode() for n in range(20)]
        for value in sent:
            await producer.send_and_wait(topic, value, key=b"same-key")
    finally:
        await producer.stop()

    consumer = make_consumer(kafka, f"smoke-{uuid.uuid4().hex}", topic)
    await consumer.start()
    received: list[bytes] = []
    try:
        async with asyncio.timeout(30):
            while len(received) < len(sent):
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    received.extend(record.value for record in records)
        await consumer.commit()
    finally:
        await consumer.stop()
        await delete_topics(kafka, [topic])
    assert received == sent  # one key, one partition: order holds
