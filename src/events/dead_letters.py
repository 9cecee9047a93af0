"""The dead-letter store: records a consumer group set aside, kept byte for byte in `dead_letters`.

A record lands here when it cannot be decoded, or when its handler kept failing on it alone with an error
that is not transient. Operators list, show, retry (`events/dead_letter_retries.py`) and discard them
(`pjs dead-letters`). Every group that reads a bad record files its own row; retry and discard can act on
all the rows of one record, which share its (topic, partition, offset).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol
from uuid import UUID

import asyncpg

from events.bad_records import Record
from events.pg import Queryable
from events.tenancy import TENANT_HEADER


class DeadLetterStore(Protocol):
    """Where a consumer loop sets aside a record before its offsets move past it."""

    async def add(self, group: str, record: Record, error_type: str, reason: str) -> Filed | None:
        """Store the record durably; storing the same (group, record) again changes nothing. The group's
        row of it, whose status says whether an operator already dealt with the record."""


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
    status: str  # "waiting", "retried" or "discarded"
    retried_at: datetime | None
    discarded_at: datetime | None
    discarded_by: str | None
    discard_reason: str | None
    retry_of: int | None  # the row whose retry put this copy of the record on the topic

    @property
    def where(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


@dataclass(frozen=True)
class Filed:
    """A group's row of a record it set aside: new, or the one it filed before."""

    dead_letter_id: int
    status: str  # "waiting"; "retried" or "discarded" when an operator already dealt with the record


@dataclass(frozen=True)
class Discarded:
    """What a discard did: the rows it moved from waiting to discarded, and the ids that name no row."""

    discarded: list[int]
    unknown: list[int]


COLUMNS = """dead_letter_id, consumer_group, topic, partition, record_offset, record_key, record_value,
    header_names, header_values, error_type, reason, dead_at, status, retried_at, discarded_at, discarded_by,
    discard_reason, retry_of"""

RETRY_OF_HEADER: Final = "pjs_retry_of"
"""On a copy put back on the topic by a retry: the id of the dead letter retried (decimal text)."""

_MAX_ID: Final = 2**63 - 1

# `standing` is the record's standing, which the group's new row takes over: retried if any group's row of
# it was (its copy is on the topic), else discarded if an operator discarded it for every group (the latest
# such discard's who, when and why), else waiting. The data-modifying CTE's insert is not visible to the
# final SELECT: it finds the row filed before, if any.
_ADD: Final = """
WITH standing AS (
    SELECT 'retried' AS status, now() AS retried_at, NULL::timestamptz AS discarded_at,
           NULL::text AS discarded_by, NULL::text AS discard_reason, 1 AS precedence
    FROM dead_letters
    WHERE topic = $2 AND partition = $3 AND record_offset = $4 AND status = 'retried'
    UNION ALL
    SELECT 'discarded', NULL, discarded_at, discarded_by, discard_reason, 2
    FROM dead_letters
    WHERE topic = $2 AND partition = $3 AND record_offset = $4 AND status = 'discarded'
      AND discarded_for_all_groups
    UNION ALL
    SELECT 'waiting', NULL, NULL, NULL, NULL, 3
    ORDER BY precedence, discarded_at DESC
    LIMIT 1
), filed AS (
    INSERT INTO dead_letters (
        consumer_group, topic, partition, record_offset, record_key, record_value, header_names,
        header_values, error_type, reason, tenant_id, retry_of, status, retried_at, discarded_at,
        discarded_by, discard_reason, discarded_for_all_groups)
    SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
           (SELECT dead_letter_id FROM dead_letters WHERE dead_letter_id = $12),
           s.status, s.retried_at, s.discarded_at, s.discarded_by, s.discard_reason, s.status = 'discarded'
    FROM standing s
    ON CONFLICT (consumer_group, topic, partition, record_offset) DO NOTHING
    RETURNING dead_letter_id, status
)
SELECT dead_letter_id, status FROM filed
UNION ALL
SELECT dead_letter_id, status FROM dead_letters
WHERE (consumer_group, topic, partition, record_offset) = ($1, $2, $3, $4) AND NOT EXISTS (SELECT FROM filed)
"""


class PostgresDeadLetters:
    """The `dead_letters` table (migrations 0011, 0026, 0029)."""

    def __init__(self, db: Queryable) -> None:
        self._db = db

    async def add(self, group: str, record: Record, error_type: str, reason: str) -> Filed | None:
        """A record another group's row of which was retried already comes back as a copy, which this group
        reads later too: its row is filed as retried, so one retry never leaves a row waiting for ever. A
        record an operator discarded for every group is filed as discarded, with the same who, when and
        why. The group's row of the record as it stands (None only if a racing insert hid it)."""
        row = await self._db.fetchrow(
            _ADD,
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
            retry_of(record.headers),
        )
        return None if row is None else Filed(row["dead_letter_id"], row["status"])

    async def listing(self, *, waiting_only: bool = False, limit: int = 100) -> list[DeadLetter]:
        """The newest dead letters first."""
        rows = await self._db.fetch(
            f"SELECT {COLUMNS} FROM dead_letters WHERE NOT $1 OR status = 'waiting'"
            " ORDER BY dead_letter_id DESC LIMIT $2",
            waiting_only,
            limit,
        )
        return [dead_letter(row) for row in rows]

    async def get(self, dead_letter_id: int) -> DeadLetter | None:
        row = await self._db.fetchrow(
            f"SELECT {COLUMNS} FROM dead_letters WHERE dead_letter_id = $1", dead_letter_id
        )
        return None if row is None else dead_letter(row)

    async def same_record(self, letter: DeadLetter) -> list[DeadLetter]:
        """Every group's row of `letter`'s record, and the rows of its copies put back by retries."""
        rows = await self._db.fetch(
            f"""
            WITH record AS (
                SELECT dead_letter_id FROM dead_letters
                WHERE topic = $1 AND partition = $2 AND record_offset = $3
            )
            SELECT {COLUMNS} FROM dead_letters
            WHERE dead_letter_id IN (SELECT dead_letter_id FROM record)
               OR retry_of IN (SELECT dead_letter_id FROM record)
            ORDER BY dead_letter_id
            """,
            letter.topic,
            letter.partition,
            letter.offset,
        )
        return [dead_letter(row) for row in rows]

    async def discard(self, ids: Sequence[int], *, by: str, reason: str, whole_records: bool) -> Discarded:
        """Mark the waiting rows among `ids` discarded (with every group's row of their records if
        `whole_records`); none if any id names no row. Rows already retried or discarded stay as they are."""
        unknown = await self._db.fetchval(
            "SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM unnest($1::bigint[]) AS id"
            " WHERE NOT EXISTS (SELECT FROM dead_letters d WHERE d.dead_letter_id = id)",
            list(ids),
        )
        if unknown:
            return Discarded([], list(unknown))
        rows = await self._db.fetch(
            """
            WITH chosen AS (SELECT * FROM dead_letters WHERE dead_letter_id = ANY($1::bigint[]))
            UPDATE dead_letters d
            SET status = 'discarded', discarded_at = now(), discarded_by = $2, discard_reason = $3,
                discarded_for_all_groups = $4
            FROM chosen c
            WHERE d.status = 'waiting'
              AND (d.dead_letter_id = c.dead_letter_id
                   OR ($4 AND (d.topic, d.partition, d.record_offset)
                              = (c.topic, c.partition, c.record_offset)))
            RETURNING d.dead_letter_id
            """,
            list(ids),
            by,
            reason,
            whole_records,
        )
        if whole_records:  # a row discarded before for its group alone now speaks for every group too
            await self._db.execute(
                "UPDATE dead_letters SET discarded_for_all_groups = true"
                " WHERE dead_letter_id = ANY($1::bigint[]) AND status = 'discarded'",
                list(ids),
            )
        return Discarded(sorted({row["dead_letter_id"] for row in rows}), [])

    async def waiting_by_group(self) -> dict[str, int]:
        """How many dead letters wait for an operator, per consumer group (groups with none are absent).

        Counted by a function that sees every tenant's rows, so the API's role (bound by row-level security)
        can serve the ops probes; it returns counts only."""
        rows = await self._db.fetch("SELECT consumer_group, waiting FROM waiting_dead_letters()")
        return {row["consumer_group"]: row["waiting"] for row in rows}


def dead_letter(row: asyncpg.Record) -> DeadLetter:
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
        discarded_at=row["discarded_at"],
        discarded_by=row["discarded_by"],
        discard_reason=row["discard_reason"],
        retry_of=row["retry_of"],
    )


def retry_of(headers: Sequence[tuple[str, bytes | None]]) -> int | None:
    """The dead letter a record is a retried copy of, if its header names one that reads as an id."""
    for name, value in headers:
        if name == RETRY_OF_HEADER and value is not None and value.isdigit() and len(value) < 20:
            number = int(value)
            return number if number <= _MAX_ID else None
    return None


def _tenant_of(record: Record) -> UUID | None:
    """The tenant the record names (the relay's header), if it names one that reads as a tenant id."""
    for name, value in record.headers:
        if name == TENANT_HEADER and value is not None:
            try:
                return UUID(value.decode())
            except ValueError:  # not UTF-8 (UnicodeDecodeError) or not a uuid: no tenant to file it under
                return None
    return None
