"""The one place that maps refusals and failures to HTTP: every error is JSON `{"message", "problems"?}`."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.allowed_methods import allowed_methods
from api.head_requests import sent_method
from api.http_metrics import route_template
from api.refusals import refusal_log
from api.ui.error_page import error_page, is_ui_page
from api.ui.render import PAGE_HEADERS
from domain.validation import Problem
from engine.commands import (
    IdempotencyKeyOfErasedRun,
    IdempotencyKeyReused,
    JourneyNotFound,
    PatientContextUnfit,
    RunAlreadyFinished,
    RunContended,
    RunNotFound,
)
from events.errors import EventTooLarge, PoolExhausted
from events.retry import TRANSIENT_ERRORS

log = logging.getLogger(__name__)
outages = logging.getLogger(f"{__name__}.outages")  # a line per refused request: pjs.logs quiets repeats

Refusal = (
    JourneyNotFound
    | IdempotencyKeyReused
    | IdempotencyKeyOfErasedRun
    | RunNotFound
    | RunAlreadyFinished
    | PatientContextUnfit
)
STORE_FAILURES: tuple[type[BaseException], ...] = (RunContended, *TRANSIENT_ERRORS)
"""The store's failures (lost, busy, raced): a 503 to try again, every request's that met it, none's fault."""
# A value the edge's limits let through but a column cannot hold: the client's to fix, never a 503. asyncpg's
# client-side DataError is an InterfaceError, one of the store's failures above: it is told apart first.
UNSTORABLE: tuple[type[Exception], ...] = (asyncpg.DataError, asyncpg.exceptions._base.DataError)


def store_failure(error: BaseException) -> bool:
    return isinstance(error, STORE_FAILURES) and not isinstance(error, UNSTORABLE)


class ApiError(Exception):
    """An error response: routes raise these (or return refusals turned into them by `refused`)."""

    status_code: ClassVar[int] = 500

    def __init__(
        self, message: str, problems: Sequence[Problem] = (), headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.problems = tuple(problems)
        self.headers = headers


class BadRequest(ApiError):
    """A 400 always lists its problems: one at path "" (the request as a whole) when none is named."""

    status_code = 400

    def __init__(
        self, message: str, problems: Sequence[Problem] = (), headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message, problems or [Problem("", message)], headers)


class Unauthorized(ApiError):
    """No valid API key: the `WWW-Authenticate` header says how to authenticate."""

    status_code = 401


class Forbidden(ApiError):
    status_code = 403


class SignInRequired(ApiError):
    """A run explorer page asked for without a live session: the browser is sent to the sign-in page."""

    status_code = 303

    def __init__(self) -> None:
        super().__init__("Sign in to continue.", headers={"Location": "/ui/login"})


class TooManyRequests(ApiError):
    status_code = 429


class NotFound(ApiError):
    status_code = 404


class Conflict(ApiError):
    status_code = 409


class ContentTooLarge(ApiError):
    status_code = 413


class UnsupportedMediaType(ApiError):
    """A body sent as another media type than the route reads (a form, text, a file)."""

    status_code = 415


class Unprocessable(ApiError):
    status_code = 422


class Unavailable(ApiError):
    status_code = 503


def invalid(what: str, problems: Sequence[Problem]) -> BadRequest:
    """A 400 listing every problem with the request."""
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
    return BadRequest(f"The {what} is not valid ({count}).", problems)


def refused(refusal: Refusal) -> ApiError:
    """The HTTP error for a command's refusal."""
    match refusal:
        case JourneyNotFound(journey_id=journey_id):
            return NotFound(f"Journey {journey_id} does not exist.")
        case RunNotFound(run_id=run_id):
            return NotFound(f"Run {run_id} does not exist.")
        case RunAlreadyFinished(run_id=run_id, status=status):
            return Conflict(f"Run {run_id} is already {status.value}; only a running run can be cancelled.")
        case IdempotencyKeyReused(run_id=run_id):
            return Unprocessable(
                f"This Idempotency-Key already started run {run_id} with a different request body; "
                "use a new key for a new run."
            )
        case IdempotencyKeyOfErasedRun():
            return Conflict(
                "This Idempotency-Key belongs to a run whose patient was erased; it starts no run again. "
                "Use a new key if this is a new request."
            )
        case PatientContextUnfit(problems=problems):
            return invalid("patient context", problems)


def body(message: str, problems: Sequence[Problem] = ()) -> dict[str, Any]:
    content: dict[str, Any] = {"message": message}
    if problems:
        content["problems"] = [{"path": p.path, "message": p.message} for p in problems]
    return content


async def _api_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    principal = getattr(request.state, "principal", None)
    if isinstance(error, NotFound) and principal is not None:  # sampled; never changes this answer
        await refusal_log(request).not_found(request, request.app.state.resources, principal)
    headers = error.headers
    if isinstance(error, Unavailable) and not headers:
        headers = {"Retry-After": "1"}
    if is_ui_page(request):
        page_headers = {**PAGE_HEADERS, **(headers or {})}
        page = error_page(error.status_code, error.message, error.problems)
        return HTMLResponse(page, status_code=error.status_code, headers=page_headers)
    return JSONResponse(body(error.message, error.problems), status_code=error.status_code, headers=headers)


async def _request_invalid(request: Request, error: Exception) -> Response:
    # FastAPI's default is 422 with its own shape; this API answers every malformed request with 400.
    assert isinstance(error, RequestValidationError)
    return await _api_error(request, invalid("request", validation_problems(error.errors(), skip=1)))


def validation_problems(errors: Sequence[Mapping[str, Any]], skip: int = 0) -> list[Problem]:
    """pydantic's errors as problems: the path (less its first `skip` parts, such as "query") and the
    message in plain words."""
    return [
        Problem(".".join(str(part) for part in detail.get("loc", ())[skip:]), _said_plainly(detail))
        for detail in errors
    ]


def _said_plainly(detail: Mapping[str, Any]) -> str:
    """pydantic's message, except for a text's length, which it counts in "items" for a validated string."""
    limits = detail.get("ctx") or {}
    kind = str(detail.get("type", ""))
    if kind in ("too_long", "string_too_long") and "max_length" in limits:
        return f"Must be at most {limits['max_length']} characters long."
    if kind in ("too_short", "string_too_short") and "min_length" in limits:
        return f"Must be at least {limits['min_length']} character(s) long."
    return str(detail.get("msg", "invalid"))


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    message = "Not found." if error.status_code == 404 else str(error.detail)
    headers = dict(error.headers or {})
    if error.status_code == 405:
        headers["Allow"] = allowed_methods(request, headers.get("Allow", ""))
    if is_ui_page(request):  # a person followed a link or typed a path: a page, not JSON
        page = error_page(error.status_code, message, ())
        return HTMLResponse(page, status_code=error.status_code, headers={**PAGE_HEADERS, **headers})
    return JSONResponse(body(message), status_code=error.status_code, headers=headers)


async def _unavailable(request: Request, error: Exception) -> Response:
    outages.warning("request failed, store unavailable: %s", type(error).__name__)
    return await _api_error(request, Unavailable("The service is briefly unavailable; retry shortly."))


async def _busy(request: Request, error: Exception) -> Response:
    outages.warning("request refused: every database connection stayed busy")
    message = "The service is busy: no database connection came free in time; retry shortly."
    return await _api_error(request, Unavailable(message))


def _too_large(error: EventTooLarge) -> ContentTooLarge:
    message = (
        f"The request would make a {error.event_type} event of about {error.record_bytes} bytes; "
        f"an event may have at most {error.limit}."
    )
    return ContentTooLarge(message)


async def _event_too_large(request: Request, error: Exception) -> Response:
    assert isinstance(error, EventTooLarge)
    return await _api_error(request, _too_large(error))


def item_failure(error: Exception, route: str) -> ApiError:
    """The answer for one item of a batch whose own run raised: what a single request would get for the
    same error (an event too large, a value the store cannot hold); anything else is logged (by `route`'s
    template) and an internal error, as unhandled."""
    if isinstance(error, EventTooLarge):
        return _too_large(error)
    if isinstance(error, UNSTORABLE):
        return _refused_by_store_types(error)
    log.error("unhandled error on one item of %s", route, exc_info=error)
    return ApiError("Internal server error.")


def _refused_by_store_types(error: Exception) -> ApiError:
    log.warning("request refused by the store's types: %s", type(error).__name__)
    return BadRequest("A value in the request cannot be stored (out of range).")


async def _unstorable(request: Request, error: Exception) -> Response:
    return await _api_error(request, _refused_by_store_types(error))


async def internal_error(request: Request, error: Exception) -> Response:
    """The 500 for an error no handler maps (`api.unhandled_errors.UnhandledErrors` answers with it)."""
    # The route's template, not the path: `/patients/{patientId}/erasure` holds a patient id.
    route = route_template(request.scope.get("route"))
    log.exception("unhandled error on %s %s", sent_method(request.scope), route)
    return await _api_error(request, ApiError("Internal server error."))


async def _internal_then_close(request: Request, error: Exception) -> Response:
    """Starlette's outermost handler (an error outside the routes, in a middleware) raises the error again
    after this answer, and uvicorn then closes the connection: the answer says so, so no client reuses it."""
    response = await internal_error(request, error)
    response.headers["Connection"] = "close"
    return response


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(EventTooLarge, _event_too_large)
    for failure in STORE_FAILURES:
        if issubclass(failure, Exception):
            app.add_exception_handler(failure, _unavailable)
    app.add_exception_handler(PoolExhausted, _busy)
    for unstorable in UNSTORABLE:
        app.add_exception_handler(unstorable, _unstorable)
    app.add_exception_handler(Exception, _internal_then_close)
