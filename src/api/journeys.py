"""Journey routes: create, edit (a new version), list, and read one version."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import uuid4

from fastapi import APIRouter, Depends, Response

from api.api_keys import Principal, Scope
from api.auth import requires
from api.errors import NotFound, Unprocessable, invalid
from api.examples import JOURNEY_EXAMPLES
from api.inputs import (
    IdempotencyKey,
    JourneyBody,
    JourneyIdPath,
    PageCursor,
    existing_id,
    idempotency_key_header,
    one_idempotency_key,
    page_limit,
    refused_cursor,
)
from api.limits import INT32_MAX, LIST_PAGE_DEFAULT
from api.openapi import error_responses, json_request, located
from api.query_params import integer_query
from api.resources import Resources, get_resources
from api.schemas import (
    JourneyCreated,
    JourneyIn,
    JourneyListOut,
    JourneyOut,
    JourneySummaryOut,
    JourneyVersionCreated,
)
from domain.journey import JourneyDefinition
from domain.validation import validate_journey
from engine import journey_listing
from engine.commands import id_for_key
from engine.journey_repository import JourneyKeyReused, StoredJourney
from engine.listing_cursors import InvalidCursor

router = APIRouter(prefix="/journeys", tags=["journeys"])

Deps = Annotated[Resources, Depends(get_resources)]
Reader = Annotated[Principal, requires(Scope.JOURNEYS_READ)]
Writer = Annotated[Principal, requires(Scope.JOURNEYS_WRITE)]
OneKey = Annotated[None, Depends(one_idempotency_key)]
CreateKey = Annotated[IdempotencyKey | None, idempotency_key_header("return the same journey")]
EditKey = Annotated[IdempotencyKey | None, idempotency_key_header("return the same version")]


@router.post(
    "",
    status_code=201,
    summary="Create a journey (version 1)",
    openapi_extra=json_request(JourneyIn, JOURNEY_EXAMPLES),
    responses={**error_responses(400, 413, 415, 422), **located(201, "the journey")},
)
async def create_journey(
    principal: Writer,
    _one_key: OneKey,
    raw: JourneyBody,
    resources: Deps,
    response: Response,
    idempotency_key: CreateKey = None,
) -> JourneyCreated:
    definition = _valid_journey(raw, resources)
    journey_id = (
        uuid4() if idempotency_key is None else id_for_key(principal.tenant_id, "journeys", idempotency_key)
    )
    async with resources.for_tenant(principal) as scope:
        stored = _saved(
            await scope.journeys.create(journey_id, definition, now=resources.clock(), actor=principal.actor)
        )
    response.headers["Location"] = f"/journeys/{stored.journey_id}"
    return JourneyCreated(journey_id=stored.journey_id)


@router.put(
    "/{journeyId}",
    status_code=201,
    summary="Save a new version of a journey; runs already started stay on their version",
    openapi_extra=json_request(JourneyIn, JOURNEY_EXAMPLES),
    responses={**error_responses(400, 404, 413, 415, 422), **located(201, "the version saved")},
)
async def update_journey(
    principal: Writer,
    _one_key: OneKey,
    journey_id: JourneyIdPath,
    raw: JourneyBody,
    resources: Deps,
    response: Response,
    idempotency_key: EditKey = None,
) -> JourneyVersionCreated:
    known_id = existing_id(journey_id, "journeyId")
    definition = _valid_journey(raw, resources)
    request_id = None
    if idempotency_key is not None:
        request_id = id_for_key(principal.tenant_id, f"versions:{known_id}", idempotency_key)
    async with resources.for_tenant(principal) as scope:
        saved = await scope.journeys.add_version(
            known_id, definition, now=resources.clock(), actor=principal.actor, request_id=request_id
        )
    if saved is None:
        raise NotFound(f"Journey {known_id} does not exist.")
    stored = _saved(saved)
    response.headers["Location"] = f"/journeys/{known_id}?version={stored.version}"
    return JourneyVersionCreated(journey_id=known_id, version=stored.version)


def _saved(result: StoredJourney | JourneyKeyReused) -> StoredJourney:
    if isinstance(result, JourneyKeyReused):
        raise Unprocessable(
            f"This Idempotency-Key already saved journey {result.journey_id} version {result.version} with a "
            "different body; use a new key for a new version."
        )
    return result


@router.get(
    "",
    summary="List journeys with their latest version, oldest first, by keyset pages",
    responses=error_responses(400),
)
async def list_journeys(
    resources: Deps,
    principal: Reader,
    limit: Annotated[int, page_limit("Journeys")] = LIST_PAGE_DEFAULT,
    cursor: PageCursor = None,
) -> JourneyListOut:
    async with resources.for_tenant(principal) as scope:
        try:
            page = await journey_listing.list_journeys(scope.db, limit, cursor)
        except InvalidCursor as error:
            raise refused_cursor(error) from None
    return JourneyListOut(
        journeys=[
            JourneySummaryOut(
                journey_id=s.journey_id, name=s.name, latest_version=s.latest_version, updated_at=s.updated_at
            )
            for s in page.journeys
        ],
        next_cursor=page.next_cursor,
    )


@router.get(
    "/{journeyId}",
    summary="Read a journey: its latest version, or `?version=`",
    responses=error_responses(400, 404),
)
async def get_journey(
    journey_id: JourneyIdPath,
    resources: Deps,
    principal: Reader,
    version: Annotated[
        int | None,
        integer_query(ge=1, le=INT32_MAX, description="A version; the latest when omitted.", examples=[1]),
    ] = None,
) -> JourneyOut:
    known_id = existing_id(journey_id, "journeyId")
    async with resources.for_tenant(principal) as scope:
        journeys = scope.journeys
        stored = await (journeys.latest(known_id) if version is None else journeys.get(known_id, version))
    if stored is None:
        suffix = "" if version is None else f" version {version}"
        raise NotFound(f"Journey {known_id}{suffix} does not exist.")
    return _journey_out(stored)


def _valid_journey(raw: Any, resources: Resources) -> JourneyDefinition:
    parsed = validate_journey(
        raw,
        min_loop_delay_seconds=resources.min_loop_delay_seconds,
        max_events_per_decision=resources.max_events_per_decision,
        unsendable_channels=resources.unsendable_channels,
    )
    if isinstance(parsed, list):
        raise invalid("journey", parsed)
    return parsed


def _journey_out(stored: StoredJourney) -> JourneyOut:
    contract = stored.definition.to_json_dict()
    return JourneyOut(
        journey_id=stored.journey_id,
        version=stored.version,
        created_at=stored.created_at,
        **contract,
    )
