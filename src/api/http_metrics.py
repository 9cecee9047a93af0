"""HTTP request latency by route template and status class (never the raw path: no ids in labels)."""

from __future__ import annotations

import time

from prometheus_client import Histogram
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from api.head_requests import sent_method
from api.response_start import NotedSend

HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"

HTTP_REQUEST_SECONDS = Histogram(
    "pjs_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by method, route template and status class.",
    ["method", "route", "status_class"],
    buckets=HTTP_BUCKETS,
)


def route_template(route: BaseRoute | None) -> str:
    """The matched route's path template (`/runs/{run_id}`); one label for every unmatched path."""
    return route.path if isinstance(route, Route) else UNMATCHED


def status_class(status: int | None) -> str:
    """`2xx`, `4xx`, ...; a request that ended without an answer counts as a server error."""
    return f"{status // 100}xx" if status is not None and 100 <= status < 600 else "5xx"


class HttpMetrics:
    """ASGI middleware, outermost but for HEAD's: it times everything the client waits for, the deadline's
    503 too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        noted = NotedSend(send)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, noted)
        finally:
            method = sent_method(scope) if scope["method"] in METHODS else "other"
            route = route_template(scope.get("route"))
            HTTP_REQUEST_SECONDS.labels(
                method=method, route=route, status_class=status_class(noted.status)
            ).observe(time.perf_counter() - started)
