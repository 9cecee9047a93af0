"""Turning raw HTTP input into values: JSON bodies (read as-is, within the edge's limits) and path ids."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar
from uuid import UUID

import orjson
from fastapi import Depends, Header, Path, Query, Request
from pydantic import AfterValidator, BaseModel, ValidationError, WithJsonSchema

from api.errors import (
    BadRequest,
    ContentTooLarge,
    NotFound,
    UnsupportedMediaType,
    invalid,
    validation_problems,
)
from api.examples import EXAMPLE_ID
from api.json_keys import repeated_keys
from api.limits import LIST_PAGE_MAX, Limits, StoredText, beyond_limits, exact_integers, json_problems
from api.query_params import integer_query
from api.resources import Resources, get_resources
from domain.validation import Problem
from engine.listing_cursors import InvalidCursor


async def _json_body(
    request: Request, limits: Limits, what: str, max_bytes: int, setting: str, *, shared_limits: bool = True
) -> Any:
    """The body parsed as JSON, any JSON value within the shared limits (unless the route checks them on
    its parts itself); the route's validator judges it.

    A body without a Content-Type is read as JSON: every route that reads one needs an `Authorization`
    header, which a page of another site cannot make a browser send (unless PJS_CORS_ORIGINS names it),
    and none takes a cookie, so a missing type cannot carry a cross-site form here."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type and media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType(
            f"The request body must be JSON (Content-Type: application/json), not {media_type[:64]}."
        )
    raw = await request.body()
    if len(raw) > max_bytes:
        raise ContentTooLarge(f"The {what} is larger than {max_bytes} bytes of JSON ({setting}).")
    if not raw.strip():
        raise BadRequest("The request body is empty; send a JSON object.")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        # orjson's message names the position only, never the content (which may be patient data).
        raise BadRequest(f"The request body is not valid JSON: {error}.") from None
    repeated = repeated_keys(raw)
    if repeated:
        raise BadRequest("The request body names a key twice in one object.", repeated)
    if not shared_limits:
        return exact_integers(value, raw)
    problems = json_problems(value, limits, raw)
    if problems:
        raise beyond_limits(what, problems)
    return value


async def journey_body(request: Request, resources: Annotated[Resources, Depends(get_resources)]) -> Any:
    limits = resources.limits
    value = await _json_body(request, limits, "journey", limits.max_journey_bytes, "PJS_MAX_JOURNEY_BYTES")
    nodes = value.get("nodes") if isinstance(value, dict) else None
    if isinstance(nodes, list) and len(nodes) > limits.max_journey_nodes:
        message = f"A journey can have at most {limits.max_journey_nodes} nodes (PJS_MAX_JOURNEY_NODES)."
        raise beyond_limits("journey", [Problem("nodes", message)])
    return value


async def patient_context_body(
    request: Request, resources: Annotated[Resources, Depends(get_resources)]
) -> Any:
    limits = resources.limits
    return await _json_body(
        request,
        limits,
        "patient context",
        limits.max_patient_context_bytes,
        "PJS_MAX_PATIENT_CONTEXT_BYTES",
    )


async def one_idempotency_key(request: Request) -> None:
    """Two Idempotency-Key headers would leave it to chance which run a retry maps to: refuse them."""
    sent = len(request.headers.getlist("Idempotency-Key"))
    if sent > 1:
        raise BadRequest(f"Send one Idempotency-Key header, not {sent}.")


async def idempotency_key_as_sent(request: Request) -> str | None:
    """The `Idempotency-Key` header as it arrived, surrounding spaces and all (`api.untrimmed_keys`)."""
    return request.headers.get("Idempotency-Key")


def _trimmed(key: str) -> str:
    # HTTP servers drop a header value's leading spaces and tabs: the trailing ones go too, as one rule.
    key = key.strip(" \t")
    if not key:
        raise ValueError("The Idempotency-Key cannot be blank.")
    return key


IdempotencyKey = Annotated[StoredText, AfterValidator(_trimmed)]
"""An `Idempotency-Key` header's value: surrounding spaces and tabs are not part of the key."""


def idempotency_key_header(retried: str) -> Any:
    """The `Idempotency-Key` header of a write that a retry must not repeat; `retried` says what a retry
    with the same key and body gets."""
    return Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description=f"Retries with the same key and body {retried}; the same key with another body is 422.",
        examples=["booking-4711"],
    )


async def batch_body(request: Request, resources: Annotated[Resources, Depends(get_resources)]) -> Any:
    """A bulk trigger's body: its items are held to the shared limits one by one (api.trigger_batch)."""
    limits = resources.limits
    return await _json_body(
        request, limits, "batch", limits.max_body_bytes, "PJS_MAX_BODY_BYTES", shared_limits=False
    )


Search = TypeVar("Search", bound=BaseModel)


def search_body(model: type[Search]) -> Any:
    """A search's filters: the body read as the trigger routes read theirs (the same refusals of a body
    that is not JSON, malformed or too deep), then held to `model`, which coerces nothing."""

    async def read(request: Request, resources: Annotated[Resources, Depends(get_resources)]) -> Search:
        limits = resources.limits
        value = await _json_body(request, limits, "search", limits.max_body_bytes, "PJS_MAX_BODY_BYTES")
        if not isinstance(value, dict):
            raise BadRequest("The search must be a JSON object of filters, e.g. {} for none.")
        try:
            return model.model_validate(value)
        except ValidationError as error:
            raise invalid("search", validation_problems(error.errors())) from None

    return Depends(read)


JourneyBody = Annotated[Any, Depends(journey_body)]
BatchBody = Annotated[Any, Depends(batch_body)]
PatientContextBody = Annotated[Any, Depends(patient_context_body)]


def _uuid_path(name: str) -> Any:
    # Text, not UUID, for FastAPI: its own parsing would answer a 400 that echoes the value; existing_id
    # answers the 404 naming the parameter. The document still says what the parameter takes.
    return Path(alias=name, examples=[EXAMPLE_ID], json_schema_extra={"format": "uuid"})


JourneyIdPath = Annotated[str, _uuid_path("journeyId")]
RunIdPath = Annotated[str, _uuid_path("runId")]
DeliveryIdPath = Annotated[str, _uuid_path("deliveryId")]
"""Path ids: `type: string, format: uuid` in the OpenAPI document; read with `existing_id`."""


def existing_id(raw: str, parameter: str) -> UUID:
    """The path parameter (`journeyId`) as a UUID; anything else cannot name an existing resource, so it
    is a 404 naming the parameter, not echoing it (a path segment sent by mistake may be patient data)."""
    try:
        return UUID(raw)
    except ValueError:
        noun = parameter.removesuffix("Id")
        raise NotFound(f"{parameter} is not a {noun} id (a UUID).") from None


def page_limit(noun: str) -> Any:
    """A keyset listing's `limit` (runs, journeys): 1 to 500 `noun` a page, 50 when not sent."""
    return integer_query(ge=1, le=LIST_PAGE_MAX, description=f"{noun} per page (at most {LIST_PAGE_MAX}).")


PageCursor = Annotated[StoredText | None, Query(description="The nextCursor of the previous page.")]


def refused_cursor(error: InvalidCursor) -> BadRequest:
    """A listing's `cursor` this service did not hand out: a 400 naming it (every listing says the same)."""
    message = f"{error}."
    return BadRequest(message, [Problem("cursor", message)])


def optional_uuid(raw: str | None, name: str) -> UUID | None:
    """A UUID filter: absent is None; anything but a UUID is a 400 naming the parameter, not echoing it
    (a patient id sent in the wrong field would be patient data)."""
    if raw is None:
        return None
    try:
        return UUID(raw)
    except ValueError:
        message = f"{name} must be a UUID."
        raise BadRequest(message, [Problem(name, message)]) from None


def uuid_query(name: str) -> Any:
    """`Query(...)` for an id filter (`Annotated[str | None, uuid_query("journeyId")]`), read with
    `optional_uuid`: `type: string, format: uuid` in the OpenAPI document (no null: an absent filter is
    simply not sent), text for FastAPI, so a value that is not a UUID is `optional_uuid`'s 400 naming the
    parameter, not FastAPI's echoing it."""
    parameter = Query(alias=name)
    parameter.metadata.append(WithJsonSchema({"type": "string", "format": "uuid", "examples": [EXAMPLE_ID]}))
    return parameter


def patient_id_query(search_path: str) -> Any:
    """The GET listings' `patientId` filter: kept for existing clients, deprecated in favour of the body
    of the POST search at `search_path` (URLs end up in logs)."""
    return Query(
        alias="patientId",
        max_length=255,
        deprecated=True,
        description=f"Discouraged (URLs end up in logs): send it in the body of POST {search_path}.",
    )
