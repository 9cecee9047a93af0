"""The outbox relay: publishes committed events to Kafka in feed order, then records how far it got.

The events table is the outbox: an append and its "to publish" record are the same row, so nothing is
published that was not committed and nothing committed is left behind. One relay leads at a time (a
Postgres advisory lock held by its connection); others stand by and take over when that connection dies,
which Postgres also brings about when a leader stops talking on it (frozen, stuck: `events.lead_session`).
The checkpoint is written on the lock's own connection after Kafka acknowledged (at most once a second
while pages keep coming, `events.relay_checkpoint`), so a crash can only cause re-publication of events
already sent, never a skip; consumers dedupe by (run id, version).
An event that cannot be published because of its record itself is parked (`events.parked`) in the
transaction that moves the checkpoint past it, so no single event can hold the feed back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from prometheus_client import Counter

from events.broker import KafkaConnection, make_producer
from events.envelope import StoredEvent
from events.errors import CONNECTION_ERRORS
from events.feed import load_checkpoint, read_feed_rows
from events.lead_session import BusySession, lead_session_settings
from events.parked import ParkedEvent
from events.relay_checkpoint import CHECKPOINT_NAME, PacedCheckpoint
from events.relay_metrics import PUBLISHED_EVENTS, RelayLagProbe
from events.relay_pages import PageNotPublished, PagePublisher
from events.retry import OutageLog, retry_until_stopped
from events.store import EVENTS_APPENDED_CHANNEL
from events.waiting import ABANDONED, sleep_unless_stopped, wait_for_stop_or

log = logging.getLogger(__name__)

RELAY_LOCK_KEY = 7_311_002
_RECHECK_AFTER_HINT_SECONDS = 0.02  # a notified commit can still sit behind an older open transaction
_RETRY_SECONDS = 1.0
_LOST_POSTGRES: tuple[type[BaseException], ...] = (*CONNECTION_ERRORS, asyncpg.PostgresError)
"""Any of these ends the lead: the lock went with its connection, so the loop reconnects and competes."""

ProducerFactory = Callable[[], AIOKafkaProducer]

PARKED_EVENTS = Counter(
    "pjs_relay_parked_events",
    "Events the relay parked: it could not publish them because of the record itself.",
)


@dataclass(frozen=True)
class RelayConfig:
    database_url: str
    kafka: KafkaConnection
    topic: str
    batch_size: int = 500
    poll_seconds: float = 1.0
    checkpoint_seconds: float = 1.0
    """Least time between stores of the checkpoint while pages keep coming (`events.relay_checkpoint`)."""
    server_settings: Mapping[str, str] = field(default_factory=dict)
    """Session settings (timeouts, keepalives) for the relay's connection."""


class Relay:
    """Run with `await relay.run(stop)`; returns once `stop` is set."""

    def __init__(self, config: RelayConfig, producer_factory: ProducerFactory | None = None) -> None:
        self._config = config
        self._producer_factory = producer_factory or (lambda: make_producer(config.kafka))
        self.published = 0
        self.parked = 0
        self.is_leader = False
        self._postgres_outage = OutageLog(log, "relay keeping its Postgres lead")
        self._kafka_outage = OutageLog(log, "relay reaching Kafka")

    async def run(self, stop: asyncio.Event) -> None:
        standing_by = False
        while not stop.is_set():
            connection = await retry_until_stopped(
                lambda: asyncpg.connect(
                    self._config.database_url,
                    server_settings=lead_session_settings(self._config.server_settings),
                ),
                stop,
                log=log,
                what="relay connecting to Postgres",
            )
            if connection is ABANDONED:
                return
            try:
                if await connection.fetchval("SELECT pg_try_advisory_lock($1)", RELAY_LOCK_KEY):
                    standing_by = False
                    await self._lead(connection, stop)
                else:
                    if not standing_by:
                        log.info("relay stands by: another relay leads; trying for the lead every second")
                        standing_by = True
                    await sleep_unless_stopped(stop, _RETRY_SECONDS)
            except _LOST_POSTGRES as error:
                self._lost_postgres(error)  # the lead is released with the connection
                await sleep_unless_stopped(stop, _RETRY_SECONDS)
            finally:
                self.is_leader = False
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(connection.close(), 5)

    def _lost_postgres(self, error: BaseException) -> None:
        if not self.is_leader:
            self._postgres_outage.failed(error)
            return
        # E.g. this relay was frozen past LEAD_IDLE_SECONDS and Postgres ended its session: another relay
        # may lead by now. Nothing this one does can touch the checkpoint any more (it is stored only on
        # the lost session); records it sent since are duplicates, which consumers drop (invariant 3).
        log.warning(
            "relay lost its lead: its Postgres session ended (%s); it no longer publishes and competes "
            "for the lead again",
            type(error).__name__,
        )

    async def _lead(self, connection: asyncpg.Connection, stop: asyncio.Event) -> None:
        self.is_leader = True
        self._postgres_outage.recovered()
        log.info("relay is leading")
        hint = asyncio.Event()
        await connection.add_listener(EVENTS_APPENDED_CHANNEL, lambda *_: hint.set())
        progress = PacedCheckpoint(
            await load_checkpoint(connection, CHECKPOINT_NAME), self._config.checkpoint_seconds
        )
        publisher = PagePublisher(self._producer_factory, self._config.topic)
        one_by_one = False  # set once the broker refused a record of this page
        lag = RelayLagProbe()
        session = BusySession(connection)  # every wait off Postgres goes through `session.around`
        try:
            while not stop.is_set():
                try:
                    await session.around(publisher.start())
                except KafkaError as error:
                    self._kafka_outage.failed(error)
                    await session.around(sleep_unless_stopped(stop, _RETRY_SECONDS))
                    continue
                hinted = hint.is_set()
                hint.clear()
                await lag.observe(connection, progress.published)
                rows, last = await read_feed_rows(connection, progress.published, self._config.batch_size)
                session.used()
                if not rows:
                    await progress.caught_up(connection)
                    await session.around(
                        wait_for_stop_or(
                            stop, hint, _RECHECK_AFTER_HINT_SECONDS if hinted else self._config.poll_seconds
                        )
                    )
                    continue
                try:
                    parked = await session.around(
                        publisher.publish([_stored_event(row) for row in rows], one_by_one=one_by_one)
                    )
                except (PageNotPublished, KafkaError) as error:
                    # e.g. OutOfOrderSequenceNumber: a fresh producer gets a fresh producer id and sequence.
                    self._kafka_outage.failed(error)  # the producer is rebuilt
                    if isinstance(error, PageNotPublished) and error.a_record_was_refused:
                        one_by_one = True
                    await session.around(publisher.close())
                    await session.around(sleep_unless_stopped(stop, _RETRY_SECONDS))
                    continue
                self._kafka_outage.recovered()
                await progress.page_published(connection, last, parked)
                self._note_parked(parked)
                one_by_one = False
                self.published += len(rows) - len(parked)
                PUBLISHED_EVENTS.inc(len(rows) - len(parked))
            await progress.caught_up(connection)  # a clean stop: the successor starts where this one ended
        finally:
            await publisher.close()

    def _note_parked(self, parked: list[ParkedEvent]) -> None:
        for event in parked:
            log.error(
                "relay parked event %s (%s, run %s version %d): %s",
                event.event_id,
                event.type,
                event.run_id,
                event.version,
                event.reason,
            )
        PARKED_EVENTS.inc(len(parked))
        self.parked += len(parked)


def _stored_event(row: asyncpg.Record) -> StoredEvent:
    """A feed row with its payload left as stored: the relay forwards it, so decoding it would be waste."""
    return StoredEvent(
        event_id=row["event_id"],
        run_id=row["run_id"],
        version=row["version"],
        position=row["position"],
        recorded_at=row["recorded_at"],
        causation_id=row["causation_id"],
        correlation_id=row["correlation_id"],
        type=row["type"],
        schema_version=row["schema_version"],
        data=row["data"].encode(),
        tenant_id=row["tenant_id"],
        traceparent=row["traceparent"],
        tracestate=row["tracestate"],
    )
