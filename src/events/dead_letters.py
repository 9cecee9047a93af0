"""The dead-letter store: records a consumer group set aside, kept byte for byte in `dead_letters`.

A record lands here when it cannot be decoded, or when its handler kept failing on it alone with an error
that is not transient. Operators list, show and retry them (`pjs dead-letters`); a retry puts the record
back on its topic as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

import asyncpg

from events.bad_records import Record
from events.broker import KafkaConnection, make_producer
from events.pg import Queryable
from events.tenancy import TENANT_HEADER


class DeadLetterStore(Protocol):
    """Where a consumer loop sets aside a record before its offsets move past it."""

    async def add(self, group: str, record: Record, error_type: str, reason: str) -> None:
        """Store the record durably; storing the same (group, record) again changes nothing."""


@dataclass(frozen=True)
class DeadLetter:
    """One set-aside record as an operator sees it."""

    dead_letter_id: int
    consumer_group: str
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]
    error_type: str
    reason: str
    dead_at: datetime
    status: str  # "waiting" or "retried"
    retried_at: datetime | None


_COLUMNS = """dead_letter_id, consumer_group, topic, partition, record_offset, record_key, record_value,
    header_names, header_values, error_type, reason, dead_at, status, retried_at"""


class PostgresDeadLetters:
    """The `dead_letters` table (migration 0011)."""

    def __init__(self, db: Queryable) -> None:
        self._db = db

    async def add(self, group: str, record: Record, error_type: str, reason: str) -> None:
        await self._db.execute(
            """
            INSERT INTO dead_letters (consumer_group, topic, partition, record_offset, record_key,
                                      record_value, header_names, header_values, error_type, reason,
                                      tenant_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
            ON CONFLICT (consumer_group, topic, partition, record_offset) DO NOTHING
            """,
            group,
            record.topic,
            record.partition,
            record.offset,
            record.key,
            record.value,
            [name for name, _ in record.headers],
            [value for _, value in record.headers],
            error_type,
            reason,
            _tenant_of(record),
        )

    async def listing(self, *, waiting_only: bool = False, limit: int = 100) -> list[DeadLetter]:
        """The newest dead letters first."""
        rows = await self._db.fetch(
            f"SELECT {_COLUMNS} FROM dead_letters WHERE NOT $1 OR status = 'waiting'"
            " ORDER BY dead_letter_id DESC LIMIT $2",
            waiting_only,
            limit,
        )
        return [_dead_letter(row) for row in rows]

    async def get(self, dead_letter_id: int) -> DeadLetter | None:
        row = await self._db.fetchrow(
            f"SELECT {_COLUMNS} FROM dead_letters WHERE dead_letter_id = $1", dead_letter_id
        )
        return None if row is None else _dead_letter(row)

    async def mark_retried(self, dead_letter_id: int) -> None:
        await self._db.execute(
            "UPDATE dead_letters SET status = 'retried', retried_at = now() WHERE dead_letter_id = $1",
            dead_letter_id,
        )

    async def waiting_by_group(self) -> dict[str, int]:
        """How many dead letters wait for an operator, per consumer group (groups with none are absent).

        Counted by a function that sees every tenant's rows, so the API's role (bound by row-level security)
        can serve the ops probes; it returns counts only."""
        rows = await self._db.fetch("SELECT consumer_group, waiting FROM waiting_dead_letters()")
        return {row["consumer_group"]: row["waiting"] for row in rows}


async def redeliver(kafka: KafkaConnection, letter: DeadLetter) -> None:
    """Produce the record again, with its key, value and headers, to its topic.

    A keyed record goes where its key hashes to (one run's events stay in one partition even if the topic
    grew); an unkeyed one back to its old partition. Every group sees it again, which is harmless: every
    consumer is idempotent by (run id, version).
    """
    producer = make_producer(kafka)
    await producer.start()
    try:
        await producer.send_and_wait(
            letter.topic,
            letter.value,
            key=letter.key,
            partition=None if letter.key is not None else letter.partition,
            headers=letter.headers,
        )
    finally:
        await producer.stop()


def _dead_letter(row: asyncpg.Record) -> DeadLetter:
    return DeadLetter(
        dead_letter_id=row["dead_letter_id"],
        consumer_group=row["consumer_group"],
        topic=row["topic"],
        partition=row["partition"],
        offset=row["record_offset"],
        key=row["record_key"],
        value=row["record_value"],
        headers=list(zip(row["header_names"], row["header_values"], strict=True)),
        error_type=row["error_type"],
        reason=row["reason"],
        dead_at=row["dead_at"],
        status=row["status"],
        retried_at=row["retried_at"],
    )


def _tenant_of(record: Record) -> UUID | None:
    """The tenant the record names (the relay's header), if it names one that reads as a tenant id."""
    for name, value in record.headers:
        if name == TENANT_HEADER and value is not None:
            try:
                return UUID(value.decode())
            except ValueError:  # not UTF-8 (UnicodeDecodeError) or not a uuid: no tenant to file it under
                return None
    return None
