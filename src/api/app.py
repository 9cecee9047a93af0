"""Builds the FastAPI application; its dependencies arrive through lifespan, never at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from pydantic import BaseModel
from starlette.middleware.trustedhost import TrustedHostMiddleware

from api import health, journeys, metrics, patients, receipts, reports, runs, stream_contract, trigger_batch
from api.deadline import RequestDeadline
from api.errors import install_error_handlers, internal_error
from api.head_requests import HeadAsGet
from api.http_metrics import HttpMetrics
from api.limits import BodySizeLimit
from api.openapi import install_docs, install_openapi
from api.query_params import declared_query_only
from api.rate_limit import KeyRateLimiter
from api.refusals import RefusalLog
from api.resources import Resources
from api.schemas import JourneyIn, PatientContextIn
from api.search_schemas import AuditSearchIn, RunSearchIn
from api.ui.routes import install_ui
from api.unhandled_errors import UnhandledErrors

DESCRIPTION = """\
Clinics define journeys (MESSAGE, DELAY and CONDITIONAL nodes); each trigger starts a run of one patient
through the journey's latest version. Errors are JSON `{"message", "problems"?}` (a 400 always has
`problems`). Every operation needs `Authorization: Bearer <API key>` (the Authorize button) whose key
carries the scope the operation names, except: `/health`; a provider's delivery receipt, signed with the
providers' secret instead; and `/ready` and `/metrics`, open from loopback, else the `admin` scope.
`pjs keys create` makes keys.
"""

# Request bodies read as raw JSON: the OpenAPI document gets their schemas from these.
REQUEST_MODELS: list[type[BaseModel]] = [
    JourneyIn,
    PatientContextIn,
    receipts.ReceiptIn,
    trigger_batch.BatchTriggerIn,
    RunSearchIn,
    AuditSearchIn,
]


def create_app(resources: Resources) -> FastAPI:
    """The app over already-configured resources; they are opened on start-up and closed on shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await resources.open()
        app.state.resources = resources
        try:
            yield
        finally:
            await resources.close()

    app = FastAPI(
        title="Patient Journey Scheduler",
        version="0.1.0",
        description=DESCRIPTION,
        docs_url=None,  # served by install_docs, without a CDN
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    # runs before journeys: /journeys/runs must not be taken for a journey id.
    for module in (
        runs,
        trigger_batch,
        journeys,
        patients,
        reports,
        receipts,
        health,
        metrics,
        stream_contract,
    ):
        app.include_router(module.router, dependencies=[Depends(declared_query_only)])
    install_ui(app)
    install_docs(app)
    install_error_handlers(app)
    install_openapi(app, REQUEST_MODELS)
    app.state.rate_limiter = KeyRateLimiter(resources.rate_limit)
    app.state.refusal_log = RefusalLog()
    # The middleware, innermost first (each added wraps those before it). UnhandledErrors is added first,
    # so innermost: every middleware outside it sees a route's unmapped error as a 500 answer.
    app.add_middleware(UnhandledErrors, answer=internal_error)
    app.add_middleware(BodySizeLimit, max_body_bytes=resources.limits.max_body_bytes)
    if resources.cors_origins:  # closed unless origins are configured: no CORS headers at all
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(resources.cors_origins),
            allow_methods=["GET", "POST", "PUT"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        )
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(resources.allowed_hosts))
    app.add_middleware(RequestDeadline, seconds=resources.limits.request_seconds)  # bounds all below
    app.add_middleware(HttpMetrics)  # times what the client waits for
    app.add_middleware(HeadAsGet)  # outermost: every answer to a HEAD, whoever makes it, loses its body
    return app
