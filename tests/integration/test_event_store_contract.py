"""One behaviour suite for every EventStore: the Postgres adapter and the in-memory fake must both pass it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from uuid import UUID

import pytest

from events.catalogue import MessageRequested, NewEvent, RecordedEvent, RunStarted
from events.errors import AppendRejected, EventTooLarge
from events.event_size import DEFAULT_MAX_EVENT_BYTES
from events.pg import Connection
from events.store import AppendRequest, ConcurrencyConflict, EventStore, PostgresEventStore
from support.fake_store import InMemoryEventStore
from support.runs import envelopes, message, run_started

AppendHook = Callable[[Sequence[RecordedEvent]], None]
StoreCalling = Callable[[AppendHook], EventStore]
"""Makes a store that calls the hook with the events of each append, inside it (an inline projection)."""


@pytest.fixture(params=["postgres", "in_memory"])
def store_calling(request: pytest.FixtureRequest) -> StoreCalling:
    if request.param == "in_memory":
        return lambda hook: InMemoryEventStore(on_append=hook)
    pool = request.getfixturevalue("pool")

    def postgres_store(hook: AppendHook) -> EventStore:
        async def inline_projection(connection: Connection, events: Sequence[RecordedEvent]) -> None:
            hook(events)

        return PostgresEventStore(pool, [inline_projection])

    return postgres_store


@pytest.fixture
def store(store_calling: StoreCalling) -> EventStore:
    return store_calling(lambda events: None)


async def test_appended_events_read_back_in_version_order_at_increasing_positions(store: EventStore) -> None:
    run_id, later_run_id = uuid.uuid4(), uuid.uuid4()

    written = await store.append(run_id, 0, envelopes(run_id, 0, [run_started(), message("a"), message("b")]))
    later = await store.append(later_run_id, 0, envelopes(later_run_id, 0, [run_started()]))

    assert isinstance(written, list)
    assert isinstance(later, list)
    assert [event.version for event in written] == [1, 2, 3]
    assert written[0].position < written[1].position < written[2].position < later[0].position
    assert await store.read_stream(run_id) == written
    assert await store.head_version(run_id) == 3


async def test_an_append_expecting_a_stale_version_is_a_conflict_with_the_actual_head_and_writes_nothing(
    store: EventStore,
) -> None:
    run_id = uuid.uuid4()
    first = await store.append(run_id, 0, envelopes(run_id, 0, [run_started(), message()]))

    result = await store.append(run_id, 1, envelopes(run_id, 1, [message("late")]))

    assert result == ConcurrencyConflict(run_id, expected_version=1, actual_version=2)
    assert await store.read_stream(run_id) == first


async def test_two_appends_expecting_the_same_version_one_wins_one_conflicts(store: EventStore) -> None:
    run_id = uuid.uuid4()
    await store.append(run_id, 0, envelopes(run_id, 0, [run_started()]))

    results = await asyncio.gather(
        store.append(run_id, 1, envelopes(run_id, 1, [message("a")])),
        store.append(run_id, 1, envelopes(run_id, 1, [message("b")])),
    )

    assert sorted(isinstance(result, ConcurrencyConflict) for result in results) == [False, True]
    assert ConcurrencyConflict(run_id, expected_version=1, actual_version=2) in results
    assert [event.version for event in await store.read_stream(run_id)] == [1, 2]


async def test_a_batch_commits_its_fresh_runs_while_a_stale_run_is_a_conflict(
    store_calling: StoreCalling,
) -> None:
    seen: list[RecordedEvent] = []
    store = store_calling(seen.extend)
    fresh, stale = uuid.uuid4(), uuid.uuid4()
    await store.append(stale, 0, envelopes(stale, 0, [run_started()]))

    outcome = await store.append_many(
        [
            AppendRequest(fresh, 0, envelopes(fresh, 0, [run_started(), message()])),
            AppendRequest(stale, 0, envelopes(stale, 0, [run_started()])),
        ]
    )

    assert list(outcome.appended) == [fresh]
    assert [event.version for event in outcome.appended[fresh]] == [1, 2]
    assert outcome.conflicts == [ConcurrencyConflict(stale, expected_version=0, actual_version=1)]
    assert await store.read_stream(fresh) == outcome.appended[fresh]
    assert await store.head_version(stale) == 1
    assert [event.run_id for event in seen] == [stale, fresh, fresh]


async def test_an_append_whose_inline_work_fails_writes_nothing(store_calling: StoreCalling) -> None:
    class Refused(Exception):
        pass

    def refuse(events: Sequence[RecordedEvent]) -> None:
        raise Refused

    store = store_calling(refuse)
    run_id = uuid.uuid4()

    with pytest.raises(Refused):
        await store.append(run_id, 0, envelopes(run_id, 0, [run_started()]))

    assert await store.read_stream(run_id) == []


def _gap_at_the_start(run_id: UUID) -> AppendRequest:
    return AppendRequest(run_id, 0, envelopes(run_id, 1, [run_started()]))


def _gap_in_the_middle(run_id: UUID) -> AppendRequest:
    first, _, third = envelopes(run_id, 0, [run_started(), message("a"), message("b")])
    return AppendRequest(run_id, 0, [first, third])


def _another_runs_event(run_id: UUID) -> AppendRequest:
    return AppendRequest(run_id, 0, envelopes(uuid.uuid4(), 0, [run_started()]))


def _nothing(run_id: UUID) -> AppendRequest:
    return AppendRequest(run_id, 0, [])


def _negative_expected_version(run_id: UUID) -> AppendRequest:
    return AppendRequest(run_id, -1, envelopes(run_id, 0, [run_started()]))


def _a_type_outside_the_catalogue(run_id: UUID) -> AppendRequest:
    forged = NewEvent.model_construct(**dict(envelopes(run_id, 0, [run_started()])[0]))
    object.__setattr__(forged, "event", object())
    return AppendRequest(run_id, 0, [forged])


def _a_payload_failing_its_model(run_id: UUID) -> AppendRequest:
    broken = MessageRequested.model_construct(node_id=None, message="hi", channel="default")  # type: ignore[arg-type]
    started, follow_up = envelopes(run_id, 0, [run_started(), message()])
    return AppendRequest(
        run_id, 0, [started, NewEvent.model_construct(**{**dict(follow_up), "event": broken})]
    )


@pytest.mark.parametrize(
    ("malformed", "reason"),
    [
        (_gap_at_the_start, "without gaps"),
        (_gap_in_the_middle, "without gaps"),
        (_another_runs_event, "belongs to run"),
        (_nothing, "nothing to append"),
        (_negative_expected_version, "expected version must be >= 0"),
        (_a_type_outside_the_catalogue, "not an event type of the catalogue"),
        (_a_payload_failing_its_model, "node_id"),
    ],
)
async def test_a_malformed_append_is_rejected_and_writes_nothing(
    store: EventStore, malformed: Callable[[UUID], AppendRequest], reason: str
) -> None:
    run_id, fresh = uuid.uuid4(), uuid.uuid4()
    request = malformed(run_id)

    with pytest.raises(AppendRejected, match=reason):
        await store.append_many([AppendRequest(fresh, 0, envelopes(fresh, 0, [run_started()])), request])

    assert await store.head_version(run_id) == 0
    assert await store.head_version(fresh) == 0


async def test_a_run_twice_in_one_batch_is_rejected_and_nothing_is_written(store: EventStore) -> None:
    run_id, fresh = uuid.uuid4(), uuid.uuid4()
    started = envelopes(run_id, 0, [run_started()])

    with pytest.raises(AppendRejected, match="twice in one batch"):
        await store.append_many(
            [
                AppendRequest(fresh, 0, envelopes(fresh, 0, [run_started()])),
                AppendRequest(run_id, 0, started),
                AppendRequest(run_id, 1, envelopes(run_id, 1, [message()])),
            ]
        )

    assert await store.head_version(run_id) == 0
    assert await store.head_version(fresh) == 0


async def test_a_stream_reads_from_after_a_version_and_up_to_a_limit(store: EventStore) -> None:
    run_id = uuid.uuid4()
    written = await store.append(
        run_id, 0, envelopes(run_id, 0, [run_started(), message("a"), message("b"), message("c")])
    )
    assert isinstance(written, list)

    assert await store.read_stream(run_id, after_version=1) == written[1:]
    assert await store.read_stream(run_id, after_version=1, limit=2) == written[1:3]
    assert await store.read_stream(run_id, limit=0) == []
    assert await store.read_stream(run_id, after_version=4) == []


async def test_a_run_never_appended_to_has_head_version_0_and_an_empty_stream(store: EventStore) -> None:
    unknown = uuid.uuid4()

    assert await store.head_version(unknown) == 0
    assert await store.read_stream(unknown) == []


def _started_with_a_note(note: str) -> RunStarted:
    started = run_started()
    return started.model_copy(update={"patient_context": {**started.patient_context, "note": note}})


async def test_an_event_too_large_to_publish_is_refused_naming_its_type_and_size_and_nothing_is_written(
    store: EventStore,
) -> None:
    run_id, fresh = uuid.uuid4(), uuid.uuid4()
    huge = envelopes(run_id, 0, [_started_with_a_note("confidential " * 250_000)])

    with pytest.raises(EventTooLarge) as refused:
        await store.append_many(
            [AppendRequest(fresh, 0, envelopes(fresh, 0, [run_started()])), AppendRequest(run_id, 0, huge)]
        )

    assert refused.value.event_type == "RunStarted"
    assert refused.value.record_bytes > 3_000_000
    assert refused.value.limit == DEFAULT_MAX_EVENT_BYTES
    assert "confidential" not in str(refused.value)
    assert isinstance(refused.value, AppendRejected)
    assert await store.head_version(run_id) == 0
    assert await store.head_version(fresh) == 0


async def test_an_event_just_under_the_limit_is_stored(store: EventStore) -> None:
    run_id = uuid.uuid4()
    large = envelopes(run_id, 0, [_started_with_a_note("n" * (DEFAULT_MAX_EVENT_BYTES - 2_000))])

    written = await store.append(run_id, 0, large)

    assert isinstance(written, list)
    assert await store.read_stream(run_id) == written
