"""An in-memory event store for fast tests, held to PostgresEventStore's behaviour by one contract suite."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from uuid import UUID

from events.append_checks import validated_payloads
from events.append_statement import AlongsideWrite
from events.catalogue import NewEvent, RecordedEvent
from events.event_size import DEFAULT_MAX_EVENT_BYTES
from events.store import AppendRequest, BatchOutcome, ConcurrencyConflict

AppendHook = Callable[[Sequence[RecordedEvent]], None]
"""Called as the real store calls its inline projections: once per accepted append, with the events it writes
(all runs of a batch; none when every run conflicted), before they are visible."""


class InMemoryEventStore:
    """Run streams in memory, with the Postgres store's checks, conflict values and increasing positions.

    Event ids are the caller's, as with the real store. A hook that raises leaves nothing written, as an
    inline projection that fails rolls the real append back.
    """

    def __init__(
        self, on_append: AppendHook | None = None, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
    ) -> None:
        self._streams: dict[UUID, list[RecordedEvent]] = {}
        self._events: list[RecordedEvent] = []
        self._on_append = on_append
        self._max_event_bytes = max_event_bytes

    async def append(
        self, run_id: UUID, expected_version: int, events: Sequence[NewEvent]
    ) -> list[RecordedEvent] | ConcurrencyConflict:
        """Append events to one run if its head is still `expected_version`."""
        outcome = await self.append_many([AppendRequest(run_id, expected_version, events)])
        return outcome.conflicts[0] if outcome.conflicts else outcome.appended[run_id]

    async def append_many(
        self, requests: Sequence[AppendRequest], *, alongside: Sequence[AlongsideWrite] = ()
    ) -> BatchOutcome:
        """Append to many runs at once; a stale run is a conflict, the others are still written."""
        if alongside:
            raise NotImplementedError("writes alongside an append are SQL: only the Postgres store runs them")
        validated_payloads(requests, self._max_event_bytes)
        conflicts = [
            ConcurrencyConflict(request.run_id, request.expected_version, self._head(request.run_id))
            for request in requests
            if self._head(request.run_id) != request.expected_version
        ]
        refused = {conflict.run_id for conflict in conflicts}
        accepted = [
            event for request in requests if request.run_id not in refused for event in request.events
        ]
        written = self._recorded(accepted)
        if self._on_append is not None:
            self._on_append(written)
        appended: dict[UUID, list[RecordedEvent]] = {}
        for event in written:
            appended.setdefault(event.run_id, []).append(event)
            self._streams.setdefault(event.run_id, []).append(event)
        self._events.extend(sorted(written, key=lambda e: e.position))
        return BatchOutcome(appended, conflicts)

    async def read_stream(
        self, run_id: UUID, after_version: int = 0, limit: int | None = None
    ) -> list[RecordedEvent]:
        """The run's events with version > after_version, in version order (at most `limit`)."""
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        events = [event for event in self._streams.get(run_id, []) if event.version > after_version]
        return events if limit is None else events[:limit]

    async def head_version(self, run_id: UUID) -> int:
        """The version of the run's last event; 0 for a run with none."""
        return self._head(run_id)

    def all_events(self) -> list[RecordedEvent]:
        """Every event written, in position order."""
        return list(self._events)

    def _recorded(self, events: Sequence[NewEvent]) -> list[RecordedEvent]:
        """The events with their positions, in the order given.

        Positions follow (run id, version) order within a batch, as the real store's INSERT numbers its rows.
        """
        order = sorted(range(len(events)), key=lambda i: (events[i].run_id, events[i].version))
        first = len(self._events) + 1
        positions = {index: first + rank for rank, index in enumerate(order)}
        return [RecordedEvent(**dict(event), position=positions[i]) for i, event in enumerate(events)]

    def _head(self, run_id: UUID) -> int:
        stream = self._streams.get(run_id)
        return stream[-1].version if stream else 0
