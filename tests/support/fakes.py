"""In-memory fakes of the workers' ports (run heads, journeys, delivery ledger, delay queue, channel, clock).

Each follows the in-memory event store the way the Postgres adapter follows the real one: run heads are
the fold of the run's stream (what `run_status` holds), delays and deliveries are kept from the events an
append writes (what the inline projections do). Built with `FakeBackend()`, which wires them together.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from secrets import token_bytes
from typing import Any, TypeVar
from uuid import UUID, uuid4

from domain.journey import JourneyDefinition
from domain.message_outcomes import SendOutcome, Sent
from domain.run_state import RunState, StoredPatientContext, fold
from engine.channels import OutgoingMessage
from engine.delays import DecideFiring, DueDelay, FiredBatch, OnScheduled
from engine.journey_repository import StoredJourney
from engine.message_deliveries import Claims, DeliveryOutcome, by_run, stamp_outcomes
from events.catalogue import (
    DelayStarted,
    MessageDelivered,
    MessageFailed,
    MessageRequested,
    RecordedEvent,
    Sealed,
    ends_delay,
    stamp,
)
from events.patient_vault import MESSAGE_TEXT, PATIENT_CONTEXT, SealedContexts, TextsToSeal
from events.sealing import open_sealed, seal
from events.store import AppendRequest
from support.fake_store import InMemoryEventStore
from support.runs import T0

K = TypeVar("K")


class FakeVault:
    """The patient vault in memory: one data key per patient id, sealing with the real AES-GCM code."""

    def __init__(self) -> None:
        self._live: dict[str, UUID] = {}
        self._secrets: dict[UUID, bytes] = {}

    async def seal_context(self, context: Mapping[str, Any]) -> Sealed:
        patient_id = str(context.get("id", ""))
        key_id = self._live.setdefault(patient_id, uuid4())
        secret = self._secrets.setdefault(key_id, token_bytes(32))
        return seal(dict(context), key_id, secret, PATIENT_CONTEXT)

    async def seal_contexts(self, contexts: Sequence[Mapping[str, Any]]) -> SealedContexts:
        known = set(self._live.values())
        sealed = [await self.seal_context(context) for context in contexts]
        return SealedContexts(sealed, frozenset(context.key_id for context in sealed) - known)

    async def discard_made_keys(self, key_ids: Collection[UUID]) -> None:
        self._live = {patient: key_id for patient, key_id in self._live.items() if key_id not in key_ids}
        for key_id in key_ids:
            self._secrets.pop(key_id, None)

    async def open_contexts(
        self, stored: Mapping[UUID, StoredPatientContext]
    ) -> dict[UUID, dict[str, Any] | None]:
        return {k: self._opened(v) for k, v in stored.items()}

    async def open_context(self, stored: StoredPatientContext) -> dict[str, Any] | None:
        return self._opened(stored)

    async def seal_texts(
        self, context: Mapping[str, Any], key_id: UUID | None, texts: Sequence[str]
    ) -> list[Sealed]:
        if key_id is None or key_id not in self._secrets:
            key_id = self._live.setdefault(str(context.get("id", "")), uuid4())
        secret = self._secrets.setdefault(key_id, token_bytes(32))
        return [seal(text, key_id, secret, MESSAGE_TEXT) for text in texts]

    async def seal_texts_many(self, batch: Sequence[TextsToSeal]) -> list[list[Sealed] | None]:
        # As the real vault: a context whose key is gone (erased since it was opened) gets nothing sealed.
        return [
            None
            if item.texts and item.key_id is not None and item.key_id not in self._secrets
            else await self.seal_texts(*item)
            for item in batch
        ]

    async def open_texts(self, stored: Mapping[K, Sealed | str | None]) -> dict[K, str | None]:
        opened: dict[K, str | None] = {}
        for k, value in stored.items():
            secret = self._secrets.get(value.key_id) if isinstance(value, Sealed) else None
            if isinstance(value, Sealed):
                opened[k] = None if secret is None else str(open_sealed(value, secret, MESSAGE_TEXT))
            else:
                opened[k] = value
        return opened

    def for_batch(self) -> FakeVault:
        return self  # nothing to read once: the keys are in memory

    def destroy(self, patient_id: str) -> None:
        self._secrets.pop(self._live.pop(patient_id), None)

    def _opened(self, stored: StoredPatientContext) -> dict[str, Any] | None:
        if isinstance(stored, Sealed):
            secret = self._secrets.get(stored.key_id)
            return None if secret is None else dict(open_sealed(stored, secret, PATIENT_CONTEXT))
        return None if stored is None else dict(stored)


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class FoldedRunHeads:
    """The `RunHeads` port: each run's state folded from its stream, as `run_status` holds it."""

    def __init__(self, store: InMemoryEventStore) -> None:
        self._store = store

    async def load(self, run_ids: Collection[UUID]) -> dict[UUID, RunState]:
        states = {run_id: fold(run_id, await self._store.read_stream(run_id)) for run_id in run_ids}
        return {run_id: state for run_id, state in states.items() if state.exists}


class FakeJourneys:
    """Journey versions in a dict: `JourneyDefinitions` for the engine, `latest` for the commands."""

    def __init__(self) -> None:
        self.versions: dict[tuple[UUID, int], JourneyDefinition] = {}

    def add(self, journey_id: UUID, definition: JourneyDefinition) -> int:
        version = 1 + max((v for (j, v) in self.versions if j == journey_id), default=0)
        self.versions[(journey_id, version)] = definition
        return version

    async def definition(self, journey_id: UUID, version: int) -> JourneyDefinition | None:
        return self.versions.get((journey_id, version))

    async def latest(self, journey_id: UUID) -> StoredJourney | None:
        versions = [v for (j, v) in self.versions if j == journey_id]
        if not versions:
            return None
        latest = max(versions)
        return StoredJourney(journey_id, latest, self.versions[(journey_id, latest)], T0)


@dataclass
class RecordingChannel:
    """A provider that records what it was asked to send and answers from a script (default: Sent)."""

    outcomes: dict[str, SendOutcome] = field(default_factory=dict)  # by node id
    sent: list[OutgoingMessage] = field(default_factory=list)

    async def send(self, message: OutgoingMessage) -> SendOutcome:
        self.sent.append(message)
        return self.outcomes.get(message.node_id, Sent(provider_message_id=f"p-{len(self.sent)}", attempts=1))


class InMemoryDeliveryLedger:
    """The `DeliveryLedger` port over a dict of visits; `held_elsewhere` marks visits another worker sends."""

    def __init__(self, store: InMemoryEventStore) -> None:
        self._store = store
        self.status: dict[UUID, str] = {}  # request event id -> requested / sending / delivered / failed
        self.held_elsewhere: set[UUID] = set()

    def follow(self, events: Sequence[RecordedEvent]) -> None:
        """The inline projection: a row per request, finished by its first outcome."""
        for event in events:
            if isinstance(event.event, MessageRequested):
                self.status.setdefault(event.event_id, "requested")
            elif isinstance(event.event, MessageDelivered | MessageFailed) and self._open(event.causation_id):
                finished = "delivered" if isinstance(event.event, MessageDelivered) else "failed"
                assert event.causation_id is not None
                self.status[event.causation_id] = finished

    def _open(self, request_event_id: UUID | None) -> bool:
        return request_event_id is not None and self.status.get(request_event_id) in ("requested", "sending")

    async def claim(self, requests: Sequence[RecordedEvent], lease_seconds: float) -> Claims:
        """Leases never run out here: a visit being sent stays busy for every later claim."""
        being_sent = {r.event_id for r in requests if self.status.get(r.event_id) == "sending"}
        busy = being_sent | (self.held_elsewhere & {r.event_id for r in requests})
        claimable = [r for r in requests if self.status.get(r.event_id) == "requested"]
        for request in claimable:
            self.status[request.event_id] = "sending"
        return Claims([r for r in claimable if r.event_id not in busy], len(busy))

    async def record(
        self, outcomes: Sequence[DeliveryOutcome], heads: Mapping[UUID, int], now: datetime
    ) -> None:
        open_outcomes = [o for o in outcomes if self.status.get(o.requested.event_id) == "sending"]
        for run_id, run_outcomes in by_run(open_outcomes).items():
            head = await self._store.head_version(run_id)
            await self._store.append(run_id, head, stamp_outcomes(run_id, head, run_outcomes, now))


class InMemoryDelayQueue:
    """The `DelayQueue` port: delays kept from DelayStarted / delay-ending events, due by `clock`."""

    def __init__(self, store: InMemoryEventStore, clock: ManualClock) -> None:
        self._store = store
        self._clock = clock
        self.delays: dict[UUID, tuple[str, datetime, RecordedEvent]] = {}  # run id -> node, resume_at, start

    def follow(self, events: Sequence[RecordedEvent]) -> None:
        """The inline projection: a delay row per sleeping run."""
        for event in events:
            if isinstance(event.event, DelayStarted):
                self.delays[event.run_id] = (event.event.node_id, event.event.resume_at, event)
            elif ends_delay(event.event):
                self.delays.pop(event.run_id, None)

    async def fire_due(self, limit: int, decide: DecideFiring) -> FiredBatch:
        now = self._clock()
        due = sorted((v[1], run_id) for run_id, v in self.delays.items() if v[1] <= now)[:limit]
        fired = []
        for resume_at, run_id in due:
            node_id, _, started = self.delays[run_id]
            state = fold(run_id, await self._store.read_stream(run_id))
            delay = DueDelay(state, node_id, resume_at, now, started.event_id, started.correlation_id)
            events = decide(delay)
            if not events:
                self.delays.pop(run_id)
                continue
            envelopes = stamp(
                run_id, state.version, events, now=now, causation_id=started.event_id, correlation_id=None
            )
            outcome = await self._store.append_many([AppendRequest(run_id, state.version, envelopes)])
            if run_id in outcome.appended:
                fired.append((resume_at, now))
        return FiredBatch(len(due), fired)

    async def next_due(self) -> tuple[datetime | None, datetime]:
        return min((v[1] for v in self.delays.values()), default=None), self._clock()

    @asynccontextmanager
    async def listening(self, on_scheduled: OnScheduled) -> AsyncIterator[None]:
        yield


class FakeBackend:
    """One in-memory store, every fake port following it as the inline projections follow the real one."""

    def __init__(self) -> None:
        self.clock = ManualClock()
        self.store = InMemoryEventStore(on_append=self._follow)
        self.heads = FoldedRunHeads(self.store)
        self.journeys = FakeJourneys()
        self.ledger = InMemoryDeliveryLedger(self.store)
        self.delays = InMemoryDelayQueue(self.store, self.clock)
        self.vault = FakeVault()

    def _follow(self, events: Sequence[RecordedEvent]) -> None:
        self.ledger.follow(events)
        self.delays.follow(events)

    async def stream(self, run_id: UUID) -> list[RecordedEvent]:
        return await self.store.read_stream(run_id)

    async def types(self, run_id: UUID) -> list[str]:
        return [event.event.type for event in await self.stream(run_id)]
