"""Retrying a dead letter: its record goes back on the topic once, and every group's row of it stops waiting.

Every group reads the copy (each is idempotent by run id and version), so a retry marks retried, together
with the row the operator chose, each group's waiting row of the same record (same topic, partition and
offset): a copy that fails again is set aside once per group that fails on it, as new rows whose
`retry_of` names the retried row, not beside rows still waiting for the original.
"""

from __future__ import annotations

from dataclasses import dataclass

from events.broker import KafkaConnection, make_producer
from events.dead_letters import COLUMNS, RETRY_OF_HEADER, DeadLetter, dead_letter
from events.pg import Queryable, transaction


@dataclass(frozen=True)
class Retried:
    """The record is back on its topic; `marked` are the rows (every group's) that it moved to retried."""

    letter: DeadLetter
    marked: list[int]


@dataclass(frozen=True)
class AlreadyRetried:
    """The row was retried before: its copy is on the topic; a group failing on it again filed a new row."""

    letter: DeadLetter


async def retry(
    db: Queryable, kafka: KafkaConnection, dead_letter_id: int
) -> Retried | AlreadyRetried | None:
    """Put the dead letter's record back on its topic and mark its record's rows retried; None if no row.

    The record's rows stay locked from the check to the commit, which comes only after Kafka acknowledged
    the copy: two operators retrying the same record produce one copy, and a copy that cannot be produced
    leaves every row as it was.
    """
    async with transaction(db) as connection:
        rows = await connection.fetch(
            f"""
            SELECT {COLUMNS} FROM dead_letters
            WHERE (topic, partition, record_offset) =
                  (SELECT topic, partition, record_offset FROM dead_letters WHERE dead_letter_id = $1)
            ORDER BY dead_letter_id FOR UPDATE
            """,
            dead_letter_id,
        )
        letter = next((dead_letter(row) for row in rows if row["dead_letter_id"] == dead_letter_id), None)
        if letter is None:
            return None
        if letter.status == "retried":
            return AlreadyRetried(letter)
        await redeliver(kafka, letter)
        marked = await connection.fetch(
            """
            UPDATE dead_letters SET status = 'retried', retried_at = now()
            WHERE dead_letter_id = $1
               OR (topic = $2 AND partition = $3 AND record_offset = $4 AND status = 'waiting')
            RETURNING dead_letter_id
            """,
            dead_letter_id,
            letter.topic,
            letter.partition,
            letter.offset,
        )
    return Retried(letter, sorted(row["dead_letter_id"] for row in marked))


async def redeliver(kafka: KafkaConnection, letter: DeadLetter) -> None:
    """Produce the record again, with its key, value and headers, to its topic, naming the retried row in
    the `pjs_retry_of` header (replacing one an earlier retry set).

    A keyed record goes where its key hashes to (one run's events stay in one partition even if the topic
    grew); an unkeyed one back to its old partition. Every group sees it again, which is harmless: every
    consumer is idempotent by (run id, version).
    """
    headers = [(name, value) for name, value in letter.headers if name != RETRY_OF_HEADER]
    headers.append((RETRY_OF_HEADER, str(letter.dead_letter_id).encode()))
    producer = make_producer(kafka)
    try:
        await producer.start()  # inside: a broker that cannot be reached leaves a producer to close
        await producer.send_and_wait(
            letter.topic,
            letter.value,
            key=letter.key,
            partition=None if letter.key is not None else letter.partition,
            headers=headers,
        )
    finally:
        await producer.stop()
