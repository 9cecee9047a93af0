"""A minimal subscriber of the run-events topic: aiokafka only, no code of the service needed.

It joins a consumer group, reads CloudEvents from the record headers and the JSON payload, skips a record
it has already handled (at-least-once delivery: dedupe by run id and stream version, kept in SQLite beside
what it stores), handles each run's events in order, and commits offsets only after handling them. It prints
one JSON line per new event.

Configure it with environment variables: the read-only subscriber user, which may read the topic but not
write it (for the local broker, `pjs services status --json` shows it under `kafka.subscriber`):

    KAFKA_BOOTSTRAP=127.0.0.1:29092 KAFKA_USERNAME=pjs-subscriber KAFKA_PASSWORD=... \
        python examples/subscriber.py

KAFKA_SECURITY_PROTOCOL (SASL_PLAINTEXT), KAFKA_SASL_MECHANISM (SCRAM-SHA-256), RUN_EVENTS_TOPIC
(pjs.run-events) and SUBSCRIBER_GROUP (subscriber.example; the local broker lets that user join only groups
named `subscriber.*`) have defaults. `--exit-when-idle SECONDS` stops it
once no record has come for that long (for demos and tests); otherwise Ctrl-C stops it. `--database PATH`
(subscriber.sqlite3) is where it keeps what it handled.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sqlite3
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord

KNOWN_VERSIONS = {"RunStarted": 3, "MessageRequested": 2, "MessageDelivered": 2, "DelayStarted": 2}
"""The schema versions this subscriber was written against (any other type: v1). See docs/asyncapi.yaml."""

FILLED_IN: dict[tuple[str, int], dict[str, Any]] = {
    ("RunStarted", 1): {"journey_version": 1},
    ("RunStarted", 2): {},
    ("MessageRequested", 1): {"channel": "default", "language": None, "failure": None},
    ("MessageDelivered", 1): {"source": "send"},
    ("DelayStarted", 1): {"reason": None},
}
"""The upcasting rules (docs/asyncapi.yaml, `x-pjs-upcasting`): (type, from version) -> the fields the next
version added, with the value they have for an older event."""


@dataclass(frozen=True)
class RunEvent:
    """One event as a subscriber sees it: CloudEvents attributes plus the JSON payload."""

    event_id: str
    run_id: str
    stream_version: int
    type: str
    schema_version: int
    tenant_id: str
    recorded_at: str
    data: dict[str, Any]


def parse(record: ConsumerRecord[bytes, bytes]) -> RunEvent:
    """The CloudEvents binary mode: attributes in `ce_*` headers (UTF-8), the payload in the value."""
    headers = {name: value.decode() for name, value in record.headers if value is not None}
    # ce_type is "pjs.run.<Type>.v<version>"
    type_name, _, version = headers["ce_type"].removeprefix("pjs.run.").rpartition(".v")
    return RunEvent(
        event_id=headers["ce_id"],
        run_id=headers["ce_subject"],
        stream_version=int(headers["ce_pjsstreamversion"]),
        type=type_name,
        schema_version=int(version),
        tenant_id=headers["ce_pjstenantid"],
        recorded_at=headers["ce_time"],
        data=json.loads(record.value or b"{}"),
    )


def upcast(event: RunEvent) -> RunEvent:
    """Bring an older schema version up to the one this subscriber knows (the rules: docs/asyncapi.yaml,
    `x-pjs-upcasting`); a newer one than it knows is an error, never a guess."""
    known = KNOWN_VERSIONS.get(event.type, 1)
    if event.schema_version > known:
        raise SystemExit(
            f"{event.type} v{event.schema_version} is newer than this subscriber knows: upgrade it"
        )
    data = dict(event.data)
    for version in range(event.schema_version, known):
        data = {**FILLED_IN[event.type, version], **data}
    return RunEvent(**{**event.__dict__, "schema_version": known, "data": data})


class Subscriber:
    """Handles each (run id, stream version) once: the event and its dedupe key are stored in one transaction.

    Here "handling" is storing the event in a SQLite table whose primary key is (run id, stream version), so
    a redelivered record, even after a restart, inserts nothing and is skipped. Put your own effect in the
    same transaction as that insert.
    """

    def __init__(self, database: Path, on_new: Callable[[RunEvent], None]) -> None:
        self.db = sqlite3.connect(database)
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS run_events (run_id TEXT, stream_version INTEGER, type TEXT,"
            " schema_version INTEGER, data TEXT, PRIMARY KEY (run_id, stream_version))"
        )
        self.on_new = on_new

    def receive(self, record: ConsumerRecord[bytes, bytes]) -> None:
        event = upcast(parse(record))
        with self.db:  # one transaction: commits on leaving
            inserted = self.db.execute(
                "INSERT OR IGNORE INTO run_events VALUES (?, ?, ?, ?, ?)",
                (
                    event.run_id,
                    event.stream_version,
                    event.type,
                    event.schema_version,
                    json.dumps(event.data),
                ),
            ).rowcount
        if inserted:
            self.on_new(event)
        else:
            print(f"skipped a duplicate: run {event.run_id} version {event.stream_version}", file=sys.stderr)


def consumer_from_environment() -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        os.environ.get("RUN_EVENTS_TOPIC", "pjs.run-events"),
        bootstrap_servers=os.environ["KAFKA_BOOTSTRAP"],
        security_protocol=os.environ.get("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"),
        sasl_mechanism=os.environ.get("KAFKA_SASL_MECHANISM", "SCRAM-SHA-256"),
        sasl_plain_username=os.environ.get("KAFKA_USERNAME"),
        sasl_plain_password=os.environ.get("KAFKA_PASSWORD"),
        group_id=os.environ.get("SUBSCRIBER_GROUP", "subscriber.example"),
        enable_auto_commit=False,  # commit only what was handled
        auto_offset_reset="earliest",  # a new group reads the topic from its oldest record
        isolation_level="read_committed",
    )


async def run(subscriber: Subscriber, exit_when_idle: float | None) -> None:
    consumer = consumer_from_environment()
    await consumer.start()
    try:
        idle = 0.0
        while exit_when_idle is None or idle < exit_when_idle:
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            idle = 0.0 if batches else idle + 0.5
            for records in batches.values():  # one partition's records, in offset order
                for record in records:
                    subscriber.receive(record)
            if batches:
                await consumer.commit()  # after handling: a crash before it means a redelivery, not a loss
    finally:
        await consumer.stop()


def print_event(event: RunEvent) -> None:
    # Only the envelope and the payload's field names: payload values can hold (sealed) patient data.
    line = {**{k: v for k, v in event.__dict__.items() if k != "data"}, "fields": sorted(event.data)}
    print(json.dumps(line), flush=True)


if __name__ == "__main__":
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--exit-when-idle", type=float, metavar="SECONDS")
    arguments.add_argument("--database", type=Path, default=Path("subscriber.sqlite3"), metavar="PATH")
    options = arguments.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(Subscriber(options.database, print_event), options.exit_when_idle))
