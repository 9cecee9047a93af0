"""One trigger is one trace: the API, the append, the relay, the engine, delivery and the timer days later."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import asyncpg
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from domain.run_state import FINISHED_STATUSES
from engine.ports import load_head
from engine.run_status import PostgresRunHeads
from events.catalogue import RecordedEvent
from pjs.settings import Settings
from pjs.wiring import event_store
from support.roles import eventually, in_process
from support.tracing import traced_api

JOURNEY = {
    "name": "Traced reminders",
    "start_node_id": "hello",
    "nodes": [
        {"id": "hello", "type": "MESSAGE", "message": "Your surgery is booked.", "next_node_id": "wait"},
        {"id": "wait", "type": "DELAY", "duration_seconds": 1, "next_node_id": "bye"},
        {"id": "bye", "type": "MESSAGE", "message": "See you tomorrow.", "next_node_id": None},
    ],
}
PATIENT = {"id": "patient-7", "age": 50, "language": "en"}


async def run_to_the_end(pool: asyncpg.Pool, run_id: UUID) -> list[RecordedEvent]:
    """The run's stream once it finished and both its messages were delivered."""

    async def done() -> list[RecordedEvent] | None:
        if (await load_head(PostgresRunHeads(pool), run_id)).status not in FINISHED_STATUSES:
            return None
        stream = await event_store(pool).read_stream(run_id)
        delivered = [e for e in stream if type(e.event).__name__ == "MessageDelivered"]
        return stream if len(delivered) == 2 else None

    return await eventually(done, seconds=60)


def trace_id(traceparent: str | None) -> str:
    assert traceparent is not None
    return traceparent.split("-")[1]


def span_id(traceparent: str | None) -> str:
    assert traceparent is not None
    return traceparent.split("-")[2]


def hex_ids(span: ReadableSpan) -> tuple[str, str]:
    assert span.context is not None
    return f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}"


def parent_of(span: ReadableSpan, spans: Sequence[ReadableSpan]) -> ReadableSpan:
    assert span.parent is not None
    [parent] = [s for s in spans if s.context is not None and s.context.span_id == span.parent.span_id]
    return parent


async def test_a_trigger_its_decisions_sends_and_the_timers_firing_are_one_trace(
    settings: Settings, pool: asyncpg.Pool, api_key: str
) -> None:
    async with traced_api(settings, api_key) as (api, exporter):
        journey_id = (await api.post("/journeys", json=JOURNEY)).json()["journeyId"]
        async with in_process(settings, "relay", "engine", "delivery", "timer"):
            response = await api.post(f"/journeys/{journey_id}/trigger", json=PATIENT)
            assert response.status_code == 202
            run_id = UUID(response.json()["runId"])
            stream = await run_to_the_end(pool, run_id)
        spans = exporter.get_finished_spans()

    [trigger] = [s for s in spans if s.kind == SpanKind.SERVER and s.name.endswith("/trigger")]
    assert trigger.parent is None  # the trace starts at the API
    trigger_trace, _ = hex_ids(trigger)
    by_span_id = {hex_ids(s)[1]: s for s in spans}

    # Every event of the run, RunCompleted included, carries the trigger's trace, from the span that
    # appended it; the run's first events from the trigger's own span (triggers share appends:
    # api.trigger_groups).
    assert sorted(type(e.event).__name__ for e in stream) == sorted(
        [
            *("RunStarted", "MessageRequested", "DelayStarted", "MessageDelivered"),
            *("DelayElapsed", "MessageRequested", "RunCompleted", "MessageDelivered"),
        ]
    )
    assert {trace_id(e.traceparent) for e in stream} == {trigger_trace}
    appended_by = {(type(e.event).__name__, by_span_id[span_id(e.traceparent)].name) for e in stream}
    assert appended_by == {
        ("RunStarted", "POST /journeys/{journeyId}/trigger"),
        ("MessageRequested", "pjs.engine.decide"),
        ("DelayStarted", "pjs.engine.decide"),
        ("MessageDelivered", "pjs.delivery.send"),
        ("DelayElapsed", "pjs.timer.fire"),
        ("RunCompleted", "pjs.engine.decide"),
    }
    appends = [s for s in spans if s.name == "pjs.store.append" and hex_ids(s)[0] == trigger_trace]
    assert {parent_of(s, spans).name for s in appends} == {
        trigger.name,
        "pjs.engine.decide",
        "pjs.delivery.send",
        "pjs.timer.fire",
    }

    # Every hop's span for this run is in the trigger's trace.
    runs_spans = [s for s in spans if (s.attributes or {}).get("pjs.run_id") == str(run_id)]
    assert {s.name for s in runs_spans} == {
        "pjs.relay.publish",
        "pjs.engine.decide",
        "pjs.delivery.send",
        "pjs.timer.fire",
    }
    assert {hex_ids(s)[0] for s in runs_spans} == {trigger_trace}
    consumed = [s for s in spans if s.name == "pjs.consumer.process"]
    assert consumed and {hex_ids(s)[0] for s in consumed} == {trigger_trace}

    # Who continues whom: the relay publishes each event from the span that appended it (the run's first,
    # from the trigger's); the engine and delivery continue from the publish; the timer, a second later
    # here (days in real life), from the decision that started the delay.
    parents = {(s.name, parent_of(s, spans).name) for s in runs_spans}
    assert parents == {
        ("pjs.relay.publish", trigger.name),
        ("pjs.relay.publish", "pjs.engine.decide"),
        ("pjs.relay.publish", "pjs.delivery.send"),
        ("pjs.relay.publish", "pjs.timer.fire"),
        ("pjs.engine.decide", "pjs.relay.publish"),
        ("pjs.delivery.send", "pjs.relay.publish"),
        ("pjs.timer.fire", "pjs.engine.decide"),
    }
    [started] = [e for e in stream if type(e.event).__name__ == "RunStarted"]
    assert by_span_id[span_id(started.traceparent)] is trigger

    # The timer's firing is a child of the decision that started the delay.
    [delay_started] = [e for e in stream if type(e.event).__name__ == "DelayStarted"]
    [fired] = [s for s in runs_spans if s.name == "pjs.timer.fire"]
    assert hex_ids(parent_of(fired, spans))[1] == span_id(delay_started.traceparent)
    assert parent_of(fired, spans).name == "pjs.engine.decide"
