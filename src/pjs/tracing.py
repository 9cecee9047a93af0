"""Tracing setup for a process role: OTLP/HTTP export when OTEL_EXPORTER_OTLP_ENDPOINT is set, else off."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from fastapi import FastAPI
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, SamplingResult
from opentelemetry.trace import Link, Span, SpanKind, TraceState
from opentelemetry.util.types import Attributes
from starlette.routing import BaseRoute, Match

from api.http_metrics import route_template
from events import tracing
from pjs.settings import Settings

UNTRACED_ROUTES = "health,ready,metrics"  # probes and scrapes: a trace each would drown the real ones
URL_ATTRIBUTES: Final = ("http.target", "http.url", "url.path", "url.full", "url.query")
"""The request's address as the instrumentation records it: both the old and the stable HTTP conventions."""
_ASYNCPG = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]  # statements only, never parameters


def start_tracing(role: str, settings: Settings) -> TracerProvider | None:
    """Turn tracing on for this process if a collector is configured; None (and nothing done) if not."""
    if not settings.otel_exporter_otlp_endpoint:
        return None
    endpoint = f"{settings.otel_exporter_otlp_endpoint.rstrip('/')}/v1/traces"
    service_name = settings.otel_service_name or f"pjs-{role}"
    return enable_tracing(service_name, BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))


def enable_tracing(service_name: str, processor: SpanProcessor) -> TracerProvider:
    """Spans of this process go to `processor`; Postgres queries made within a trace become its spans."""
    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: service_name}), sampler=ParentBased(root=RequestRoots())
    )
    provider.add_span_processor(processor)
    tracing.enable(provider)
    _ASYNCPG.instrument(tracer_provider=provider)
    return provider


def stop_tracing(provider: TracerProvider | None) -> None:
    """Export what is buffered and turn tracing off."""
    if provider is None:
        return
    tracing.disable()
    _ASYNCPG.uninstrument()
    provider.shutdown()


def instrument_api(app: FastAPI) -> None:
    """Each request a server span (the root of a trigger's trace), while tracing is on."""
    provider = tracing.enabled_provider()
    if provider is not None:
        FastAPIInstrumentor.instrument_app(
            app,
            tracer_provider=provider,
            excluded_urls=UNTRACED_ROUTES,
            exclude_spans=["receive", "send"],
            server_request_hook=route_only,
        )


def route_only(span: Span, scope: dict[str, Any]) -> None:
    """The request span's address attributes name the route template only: a path or a query can hold a
    patient id (`/patients/{patientId}/erasure`, `?patientId=`), and traces leave the service."""
    recorded = getattr(span, "attributes", None)
    if not span.is_recording() or recorded is None:
        return
    template = route_template(_matched_route(scope))
    for name in URL_ATTRIBUTES:
        if name in recorded:
            span.set_attribute(name, "" if name == "url.query" else template)


def _matched_route(scope: dict[str, Any]) -> BaseRoute | None:
    for route in getattr(scope.get("app"), "routes", ()):
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return route  # type: ignore[no-any-return]
    return None


class RequestRoots(Sampler):
    """A trace starts only at an incoming request: a query outside any trace (the relay's and the timer's
    polls, run every second) would otherwise be a trace of its own each time."""

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        decision = Decision.RECORD_AND_SAMPLE if kind == SpanKind.SERVER else Decision.DROP
        return SamplingResult(decision, attributes if decision == Decision.RECORD_AND_SAMPLE else None)

    def get_description(self) -> str:
        return "RequestRoots"
