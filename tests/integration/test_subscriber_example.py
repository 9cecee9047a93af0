"""The subscriber example (examples/subscriber.py) runs against the real Kafka, as the guide tells a reader to
run it: it prints each relayed event once, in stream order per run, and its group resumes where it stopped."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg

from events.broker import KafkaConnection
from events.catalogue import EVENT_TYPES
from pjs.settings import Settings
from pjs.wiring import event_store
from support.kafka import RawRecord, produce, publish_everything, read_topic
from support.relay import append_runs
from support.subscriber_access import subscriber_reading

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "subscriber.py"


async def run_example(
    settings: Settings, kafka: KafkaConnection, group: str, database: Path
) -> tuple[list[dict[str, Any]], str]:
    """The example's printed events and its stderr, once it has been idle for 3 seconds."""
    environment = {
        **os.environ,
        "KAFKA_BOOTSTRAP": kafka.bootstrap,
        "KAFKA_SECURITY_PROTOCOL": kafka.security_protocol,
        "KAFKA_SASL_MECHANISM": kafka.sasl_mechanism or "",
        "KAFKA_USERNAME": kafka.username or "",
        "KAFKA_PASSWORD": kafka.password or "",
        "RUN_EVENTS_TOPIC": settings.run_events_topic,
        "SUBSCRIBER_GROUP": group,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLE),
        "--exit-when-idle",
        "3",
        "--database",
        str(database),
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(120):
        stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    return [json.loads(line) for line in stdout.decode().splitlines()], stderr.decode()


async def test_the_example_prints_every_relayed_event_once_in_order_per_run(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    expected = await append_runs(event_store(pool), runs=5)
    await publish_everything(settings, pool)

    subscriber = await subscriber_reading(settings)  # the read-only user, as the guide tells a reader
    group = f"subscriber.example-{uuid.uuid4().hex[:8]}"

    printed, _ = await run_example(settings, subscriber, group, tmp_path / "seen.sqlite3")

    assert {line["event_id"] for line in printed} == {str(event_id) for event_id in expected}
    assert len(printed) == len(expected)
    versions: dict[str, list[int]] = {}
    for line in printed:
        versions.setdefault(line["run_id"], []).append(line["stream_version"])
        assert line["schema_version"] == EVENT_TYPES[line["type"]].SCHEMA_VERSION
    assert all(stream == [1, 2, 3] for stream in versions.values()) and len(versions) == 5
    assert printed[0]["fields"] and "data" not in printed[0]


async def test_a_redelivered_record_is_skipped_even_after_a_restart_and_the_group_resumes(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    await append_runs(event_store(pool), runs=2)
    await publish_everything(settings, pool)
    _, [first, *_] = await read_topic(
        settings.kafka_connection(), settings.run_events_topic, until=lambda events: len(events) >= 6
    )
    group, database = f"subscriber.example-{uuid.uuid4().hex[:8]}", tmp_path / "seen.sqlite3"
    subscriber = await subscriber_reading(settings)
    printed, _ = await run_example(settings, subscriber, group, database)

    # The relay publishing a record again (at least once): same headers, same value, same partition.
    again = RawRecord(first.partition, first.value, list(first.headers))
    await produce(settings.kafka_connection(), settings.run_events_topic, [again] * 2)
    after_restart, skipped = await run_example(settings, subscriber, group, database)
    elsewhere, _ = await run_example(settings, subscriber, f"{group}-2", tmp_path / "elsewhere.sqlite3")

    assert len(printed) == 6
    assert after_restart == []  # its group resumes after the six; the two redeliveries are skipped
    assert skipped.count("skipped a duplicate") == 2
    assert sorted(line["event_id"] for line in elsewhere) == sorted(line["event_id"] for line in printed)
