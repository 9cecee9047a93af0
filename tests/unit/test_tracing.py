"""Trace context on events and the spans that continue it; tracing off unless a collector is configured."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased
from opentelemetry.trace import SpanKind

from events import tracing
from events.catalogue import RecordedEvent
from events.envelope import from_kafka_record, to_kafka_record
from events.tracing import TraceContext
from pjs.settings import Settings
from pjs.tracing import RequestRoots, start_tracing, stop_tracing
from support.runs import envelopes, message

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
APPENDER = TraceContext(f"00-{TRACE}-00f067aa0ba902b7-01", "clinic=7")
OTHER = TraceContext("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")


class Consumed:
    def __init__(self, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        self.value = value
        self.headers: list[tuple[str, bytes | None]] = list(headers)


def recorded(trace: TraceContext | None = None) -> RecordedEvent:
    [new] = tracing.carrying(trace, envelopes(uuid.uuid4(), 0, [message("hello")]))
    return RecordedEvent(**dict(new), position=7, tenant_id=uuid.uuid4())


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    spans = InMemorySpanExporter()
    provider = TracerProvider(sampler=ParentBased(root=RequestRoots()))
    provider.add_span_processor(SimpleSpanProcessor(spans))
    tracing.enable(provider)
    yield spans
    tracing.disable()


def test_a_traced_event_travels_in_the_cloudevents_tracing_headers_and_comes_back() -> None:
    record = to_kafka_record(recorded(APPENDER))
    headers = dict(record.headers)
    assert headers["ce_traceparent"] == APPENDER.traceparent.encode()
    assert headers["ce_tracestate"] == b"clinic=7"
    consumed = from_kafka_record(Consumed(record.value, record.headers))
    assert tracing.context_of(consumed) == APPENDER


def test_an_untraced_event_has_no_tracing_headers() -> None:
    record = to_kafka_record(recorded())
    assert not [name for name, _ in record.headers if name.startswith("ce_trace")]
    assert tracing.context_of(from_kafka_record(Consumed(record.value, record.headers))) is None
    assert tracing.metadata(recorded()) == {}


def test_while_tracing_is_off_no_span_is_made() -> None:
    with tracing.span("pjs.engine.decide", APPENDER) as decided:
        assert decided is None
        assert tracing.current() is None
    with tracing.batch_span("pjs.store.append", [recorded(APPENDER)]) as appended:
        assert appended is None


def test_a_span_continues_the_trace_of_the_event_it_works_on(exporter: InMemorySpanExporter) -> None:
    with tracing.span("pjs.engine.decide", APPENDER, run_id=uuid.UUID(int=1)) as decided:
        assert decided is not None
    [span] = exporter.get_finished_spans()
    assert span.context is not None and span.parent is not None
    assert f"{span.context.trace_id:032x}" == TRACE
    assert f"{span.parent.span_id:016x}" == "00f067aa0ba902b7"
    assert decided.traceparent == f"00-{TRACE}-{span.context.span_id:016x}-01"
    assert decided.tracestate == "clinic=7"
    assert span.attributes == {"pjs.run_id": str(uuid.UUID(int=1))}


def test_work_on_untraced_events_starts_no_trace(exporter: InMemorySpanExporter) -> None:
    with (
        tracing.span("pjs.timer.fire", None) as fired,
        tracing.batch_span("pjs.store.append", [recorded()]) as b,
    ):
        assert fired is None and b is None
    assert exporter.get_finished_spans() == ()


def test_a_batch_of_two_traces_belongs_to_the_first_and_links_the_second(
    exporter: InMemorySpanExporter,
) -> None:
    with tracing.batch_span("pjs.store.append", [recorded(APPENDER), recorded(OTHER), recorded(APPENDER)]):
        pass
    [span] = exporter.get_finished_spans()
    assert span.context is not None
    assert f"{span.context.trace_id:032x}" == TRACE
    assert [f"{link.context.trace_id:032x}" for link in span.links] == ["0af7651916cd43dd8448eb211c80319c"]
    assert span.attributes == {"pjs.events": 3}


def test_events_appended_in_a_span_carry_it_unless_they_carry_their_own() -> None:
    untraced, traced = recorded(), recorded(OTHER)
    filled = tracing.filled([untraced, traced], APPENDER)
    assert [tracing.context_of(event) for event in filled] == [APPENDER, OTHER]
    assert tracing.metadata(filled[0]) == {"traceparent": APPENDER.traceparent, "tracestate": "clinic=7"}


def test_only_an_incoming_request_starts_a_trace(exporter: InMemorySpanExporter) -> None:
    provider = tracing.enabled_provider()
    assert provider is not None
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT) as poll:
        assert not poll.is_recording()  # the relay's poll, outside any trace
    with tracer.start_as_current_span("POST /journeys/{journeyId}/trigger", kind=SpanKind.SERVER) as request:
        assert request.is_recording()
        with tracer.start_as_current_span("INSERT", kind=SpanKind.CLIENT) as query:
            assert query.is_recording()  # a query the request makes is part of its trace
    assert [span.name for span in exporter.get_finished_spans()] == [
        "INSERT",
        "POST /journeys/{journeyId}/trigger",
    ]


def test_tracing_is_off_unless_a_collector_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    assert start_tracing("engine", Settings()) is None
    assert tracing.enabled_provider() is None


@pytest.mark.parametrize(
    ("service_name", "expected"), [(None, "pjs-engine"), ("clinic-engine", "clinic-engine")]
)
def test_a_configured_collector_turns_tracing_on_with_the_roles_service_name(
    monkeypatch: pytest.MonkeyPatch, service_name: str | None, expected: str
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    if service_name is None:
        monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    else:
        monkeypatch.setenv("OTEL_SERVICE_NAME", service_name)
    provider = start_tracing("engine", Settings())
    try:
        assert provider is not None and tracing.enabled_provider() is provider
        assert provider.resource.attributes["service.name"] == expected
    finally:
        stop_tracing(provider)
    assert tracing.enabled_provider() is None


HOSTILE = [
    b"garbage",
    b"00-" + b"0" * 32 + b"-" + b"0" * 16 + b"-01",
    b"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    APPENDER.traceparent.encode() + b"x" * 100_000,
    b"\xff\xfe not text",
]


def hostile_record(traceparent: bytes) -> Consumed:
    """A record of a valid event whose tracing headers someone else wrote."""
    record = to_kafka_record(recorded(APPENDER))
    headers = [(name, value) for name, value in record.headers if not name.startswith("ce_trace")]
    return Consumed(record.value, [*headers, ("ce_traceparent", traceparent), ("ce_tracestate", b"=,@\xff")])


@pytest.mark.parametrize("traceparent", HOSTILE, ids=range(len(HOSTILE)))
def test_a_record_with_hostile_tracing_headers_is_handled_in_a_trace_of_its_own(
    exporter: InMemorySpanExporter, traceparent: bytes
) -> None:
    event = from_kafka_record(hostile_record(traceparent))  # the event is decoded all the same
    with (
        tracing.consuming("engine", [event]),
        tracing.span("pjs.engine.decide", tracing.context_of(event)) as s,
    ):
        appended = tracing.carrying(s, [recorded()])
    for traced in appended:
        carried = tracing.context_of(traced)
        assert carried is None or (len(carried.traceparent) == 55 and TRACE not in carried.traceparent)
