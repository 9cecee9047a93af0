"""The messaging stack in a test: journeys with clocks saved, runs triggered (sealed), an engine on a fixed
clock, a recording channel, and a local SMTP server (aiosmtpd) that holds its first reply on request."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from aiosmtpd.controller import Controller

from domain.journey import JourneyDefinition
from domain.message_outcomes import SendOutcome, Sent
from domain.validation import validate_journey
from engine.channels import OutgoingMessage
from engine.commands import RunAccepted
from engine.delivery_worker import DeliveryConfig
from engine.engine_worker import EngineWorker
from engine.journey_repository import PostgresJourneyRepository
from engine.run_status import PostgresRunHeads
from events.catalogue import WAKE_UP_TYPES, RecordedEvent
from events.consumer_group import GroupLoop
from pjs.roles import group_config
from pjs.settings import Settings
from pjs.wiring import dead_letters, delivery_worker, event_store, patient_vault
from support.roles import free_port, in_process, running_tasks
from support.triggers import trigger_run


async def save(pool: asyncpg.Pool, raw: dict[str, Any]) -> UUID:
    definition = validate_journey(raw)
    assert isinstance(definition, JourneyDefinition), definition
    stored = await PostgresJourneyRepository(pool).create(uuid4(), definition, now=datetime.now(UTC))
    return stored.journey_id


async def trigger(pool: asyncpg.Pool, settings: Settings, journey_id: UUID, patient: dict[str, Any]) -> UUID:
    """Start a run the way the API does: context checked against the journey, then sealed."""
    accepted = await trigger_run(
        event_store(pool, settings),
        PostgresRunHeads(pool),
        PostgresJourneyRepository(pool),
        run_id=uuid4(),
        journey_id=journey_id,
        patient_context=patient,
        now=datetime.now(UTC),
        sealer=patient_vault(pool, settings),
    )
    assert isinstance(accepted, RunAccepted), accepted
    return accepted.run_id


class RecordingChannel:
    """Keeps every message it is handed (text, language, address): the provider's side, in memory."""

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []

    async def send(self, message: OutgoingMessage) -> SendOutcome:
        self.sent.append(message)
        return Sent(provider_message_id=f"p-{len(self.sent)}", attempts=1)


@contextlib.asynccontextmanager
async def stack_at(
    settings: Settings, pool: asyncpg.Pool, now: datetime, channel: RecordingChannel
) -> AsyncIterator[None]:
    """Relay, timer and projector as usual; the engine deciding at `now`; delivery into `channel`."""
    engine = EngineWorker(
        PostgresRunHeads(pool),
        event_store(pool, settings),
        PostgresJourneyRepository(pool),
        clock=lambda: now,
        contexts=patient_vault(pool, settings),
    )
    engine_loop = GroupLoop(
        group_config(settings, settings.engine_group, 100, WAKE_UP_TYPES), engine.handle, dead_letters(pool)
    )
    deliveries = delivery_worker(pool, channel, DeliveryConfig(), settings)
    delivery_loop = GroupLoop(
        group_config(settings, settings.delivery_group, 100), deliveries.handle, dead_letters(pool)
    )
    async with (
        in_process(settings, "relay", "timer", "projector"),
        running_tasks(engine_loop.run, delivery_loop.run),
    ):
        yield


def of_type(stream: Sequence[RecordedEvent], type_name: str) -> list[RecordedEvent]:
    return [e for e in stream if e.event.type == type_name]


class Mailbox:
    """What an SMTP server has taken responsibility for: messages it answered 250 to.

    With `hold_first`, the first DATA is held unanswered until the client goes away (a sender killed
    mid-send); an unanswered message is not accepted, as RFC 5321 has it.
    """

    def __init__(self, *, hold_first: bool = False) -> None:
        self.accepted: list[Message] = []
        self.attempts = 0
        self.first_held = threading.Event()
        self._hold_first = hold_first

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.attempts += 1
        if self._hold_first and self.attempts == 1:
            self.first_held.set()
            while server.transport is not None and not server.transport.is_closing():
                await asyncio.sleep(0.05)
            return "451 sender gone before the reply"
        self.accepted.append(message_from_bytes(envelope.original_content))
        return "250 OK"


@contextlib.contextmanager
def smtp_server(mailbox: Mailbox) -> Iterator[int]:
    """A real SMTP server on 127.0.0.1 (aiosmtpd, in its own thread); yields its port."""
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()
