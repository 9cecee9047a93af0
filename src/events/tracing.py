"""Trace context along the event pipeline: W3C `traceparent`/`tracestate` on events, spans that continue it.

Off until the composition root calls `enable` with a tracer provider; while off, every helper returns after
one check and events carry no trace context. Span attributes are ids and counts only, never patient data.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Protocol, TypeVar
from uuid import UUID

from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanKind, Tracer, TracerProvider, get_current_span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from events.catalogue import NewEvent

_W3C = TraceContextTextMapPropagator()
TRACER_NAME = "pjs"
CONSUME_SPAN = "pjs.consumer.process"
_NO_SPAN: AbstractContextManager[TraceContext | None] = nullcontext(None)  # reusable: what "off" costs


class _State:
    provider: TracerProvider | None = None
    tracer: Tracer | None = None


@dataclass(frozen=True)
class TraceContext:
    """A span's W3C trace context, as carried in event metadata and the CloudEvents tracing headers."""

    traceparent: str
    tracestate: str | None = None


class Traced(Protocol):
    """An event envelope (new, recorded or stored) and the trace context it carries, if any."""

    @property
    def traceparent(self) -> str | None: ...

    @property
    def tracestate(self) -> str | None: ...


E = TypeVar("E", bound=NewEvent)


def enable(provider: TracerProvider) -> None:
    _State.provider = provider
    _State.tracer = provider.get_tracer(TRACER_NAME)


def disable() -> None:
    _State.provider = None
    _State.tracer = None


def enabled_provider() -> TracerProvider | None:
    """The provider spans go to, or None while tracing is off."""
    return _State.provider


def context_of(event: Traced) -> TraceContext | None:
    """The trace context an event carries (of the span that appended or published it)."""
    return None if event.traceparent is None else TraceContext(event.traceparent, event.tracestate)


def current() -> TraceContext | None:
    """The current span's trace context; None while off or outside any span."""
    if _State.tracer is None or not _in_a_span():
        return None
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return TraceContext(carrier["traceparent"], carrier.get("tracestate") or None)


def carrying(trace: TraceContext | None, events: Sequence[E]) -> list[E]:
    """The events, each carrying `trace` (unchanged when it is None)."""
    if trace is None:
        return list(events)
    update = {"traceparent": trace.traceparent, "tracestate": trace.tracestate}
    return [event.model_copy(update=update) for event in events]


def filled(events: Sequence[E], trace: TraceContext) -> list[E]:
    """The events, those carrying no trace context given `trace`."""
    update = {"traceparent": trace.traceparent, "tracestate": trace.tracestate}
    return [event if event.traceparent else event.model_copy(update=update) for event in events]


def metadata(event: Traced) -> dict[str, str]:
    """The trace context as stored in an event's metadata (nothing for an untraced event)."""
    stored = {} if event.traceparent is None else {"traceparent": event.traceparent}
    if event.tracestate:
        stored["tracestate"] = event.tracestate
    return stored


def span(
    name: str,
    parent: TraceContext | None,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    run_id: UUID | None = None,
    attributes: dict[str, AttributeValue] | None = None,
) -> AbstractContextManager[TraceContext | None]:
    """A span continuing `parent` (else the current span), current while open; yields its own context.

    Yields None, with no span, while tracing is off or when there is no trace to continue: traces start at
    the API, so work on events appended untraced (before tracing was on, by a command line) starts none.
    """
    if _State.tracer is None or (parent is None and not _in_a_span()):
        return _NO_SPAN
    if run_id is not None:
        attributes = {**(attributes or {}), "pjs.run_id": str(run_id)}
    return _started(_State.tracer, name, parent, kind, attributes)


def batch_span(
    name: str,
    events: Iterable[Traced],
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: dict[str, AttributeValue] | None = None,
) -> AbstractContextManager[TraceContext | None]:
    """One span for work on a batch of events that may belong to many traces.

    Its parent is the first traced event's span (else the current span); the other traces are linked,
    so a batch of one run's events is wholly in that run's trace and a mixed batch is findable from each.
    Like `span`, it starts no trace of its own.
    """
    if _State.tracer is None:
        return _NO_SPAN
    batch = list(events)
    traces = list(dict.fromkeys(trace for event in batch if (trace := context_of(event)) is not None))
    if not traces and not _in_a_span():
        return _NO_SPAN
    links = [Link(get_current_span(_context(other)).get_span_context()) for other in traces[1:]]
    attributes = {**(attributes or {}), "pjs.events": len(batch)}
    return _started(_State.tracer, name, traces[0] if traces else None, kind, attributes, links)


def consuming(group: str, events: Sequence[Traced]) -> AbstractContextManager[TraceContext | None]:
    """A consumer group's span for handling one batch (see `batch_span`)."""
    if _State.tracer is None:
        return _NO_SPAN
    attributes: dict[str, AttributeValue] = {"messaging.consumer.group.name": group}
    return batch_span(CONSUME_SPAN, events, kind=SpanKind.CONSUMER, attributes=attributes)


@contextmanager
def _started(
    tracer: Tracer,
    name: str,
    parent: TraceContext | None,
    kind: SpanKind,
    attributes: dict[str, AttributeValue] | None,
    links: Sequence[Link] = (),
) -> Iterator[TraceContext | None]:
    context = _context(parent)
    with tracer.start_as_current_span(name, context, kind, attributes, links):
        yield current()


def _in_a_span() -> bool:
    return get_current_span().get_span_context().is_valid


def _context(trace: TraceContext | None) -> Context | None:
    if trace is None:
        return None
    carrier = {"traceparent": trace.traceparent}
    if trace.tracestate:
        carrier["tracestate"] = trace.tracestate
    return _W3C.extract(carrier)
