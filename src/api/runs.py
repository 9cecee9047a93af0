"""Run routes: trigger a run, read its status and timeline, cancel it."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import uuid4

from fastapi import APIRouter, Depends, Query, Response

from api.api_keys import Principal, Scope
from api.auth import requires
from api.errors import NotFound, invalid, refused
from api.examples import PATIENT_EXAMPLES, SEARCH_EXAMPLES
from api.inputs import (
    IdempotencyKey,
    JourneyIdPath,
    PageCursor,
    PatientContextBody,
    RunIdPath,
    existing_id,
    idempotency_key_as_sent,
    idempotency_key_header,
    one_idempotency_key,
    optional_uuid,
    page_limit,
    patient_id_query,
    refused_cursor,
    search_body,
    uuid_query,
)
from api.limits import INT32_MAX, LIST_PAGE_DEFAULT, StoredText
from api.openapi import error_responses, json_request, located
from api.query_params import integer_query
from api.resources import Resources, get_resources
from api.schemas import (
    PatientContextIn,
    RunAcceptedOut,
    RunCancelledOut,
    RunListOut,
    RunOut,
    RunTimelineOut,
)
from api.search_schemas import RunSearchIn
from api.timeline import timeline_entries
from api.untrimmed_keys import run_ids_for_keys
from domain.patient_context import validate_patient_context
from domain.run_state import RunState, RunStatus
from engine.batch_trigger import BatchItem
from engine.commands import RunAccepted, RunCancelAccepted, cancel_run
from engine.listing_cursors import InvalidCursor
from engine.ports import load_head
from engine.run_listing import RunFilter, list_runs
from events import tracing
from projections.run_timeline import read_page

router = APIRouter(prefix="/journeys", tags=["runs"])

Deps = Annotated[Resources, Depends(get_resources)]
Reader = Annotated[Principal, requires(Scope.RUNS_READ)]
MAX_PAGE = 1000


@router.post(
    "/{journeyId}/trigger",
    status_code=202,
    summary="Start a run of the journey's latest version for one patient (the body is the patient context)",
    openapi_extra=json_request(PatientContextIn, PATIENT_EXAMPLES),
    responses={**error_responses(400, 404, 409, 413, 415, 422), **located(202, "the run")},
)
async def trigger(
    principal: Annotated[Principal, requires(Scope.RUNS_TRIGGER)],  # first: 401/403 before the body is read
    _one_key: Annotated[None, Depends(one_idempotency_key)],
    sent_key: Annotated[str | None, Depends(idempotency_key_as_sent)],
    journey_id: JourneyIdPath,
    raw: PatientContextBody,
    resources: Deps,
    response: Response,
    idempotency_key: Annotated[IdempotencyKey | None, idempotency_key_header("return the same run")] = None,
) -> RunAcceptedOut:
    known_id = existing_id(journey_id, "journeyId")
    context = validate_patient_context(raw)
    if isinstance(context, list):
        raise invalid("patient context", context)
    if idempotency_key is None:
        run_id = uuid4()
    else:
        keys = [(sent_key or idempotency_key, idempotency_key)]
        run_id = (await run_ids_for_keys(resources, principal, known_id, keys))[0]
    item = BatchItem(run_id, context, trace=tracing.current())
    result = await resources.triggers.trigger(principal, known_id, item)
    if not isinstance(result, RunAccepted):
        raise refused(result)
    response.headers["Location"] = f"/journeys/runs/{result.run_id}"
    return RunAcceptedOut(run_id=result.run_id)


@router.get("/runs/{runId}", summary="A run's current status", responses=error_responses(404))
async def get_run(run_id: RunIdPath, resources: Deps, principal: Reader) -> RunOut:
    known_id = existing_id(run_id, "runId")
    async with resources.for_tenant(principal) as scope:
        state = await load_head(scope.heads, known_id)
        out = _run_out(state, await scope.vault.open_context(state.patient_context))
        await scope.audit(principal, "RunRead", resources.clock(), run_id=known_id)
    return out


@router.post(
    "/runs/{runId}/cancel", status_code=202, summary="Cancel a run", responses=error_responses(404, 409)
)
async def cancel(
    run_id: RunIdPath, resources: Deps, principal: Annotated[Principal, requires(Scope.RUNS_CANCEL)]
) -> RunCancelledOut:
    known_id = existing_id(run_id, "runId")
    async with resources.for_tenant(principal) as scope:
        now = resources.clock()
        result = await cancel_run(scope.store, scope.heads, run_id=known_id, reason=None, now=now)
        if not isinstance(result, RunCancelAccepted):
            raise refused(result)
        await scope.audit(principal, "RunCancelRequested", now, run_id=known_id)
    return RunCancelledOut(run_id=result.run_id)


@router.get(
    "/runs/{runId}/events",
    summary="A run's timeline, oldest first, by pages",
    responses=error_responses(400, 404),
)
async def run_events(
    run_id: RunIdPath,
    resources: Deps,
    principal: Reader,
    after_version: Annotated[
        int,
        integer_query(
            alias="afterVersion", ge=0, le=INT32_MAX, description="Events after this version.", examples=[0]
        ),
    ] = 0,
    limit: Annotated[
        int, integer_query(ge=1, le=MAX_PAGE, description="Events per page (at most 1000).", examples=[100])
    ] = 100,
) -> RunTimelineOut:
    known_id = existing_id(run_id, "runId")
    async with resources.for_tenant(principal) as scope:
        entries = await read_page(scope.db, scope.store, known_id, after_version, limit + 1)
        if not entries and (after_version == 0 or await scope.store.head_version(known_id) == 0):
            raise NotFound(f"Run {known_id} does not exist.")
        page = entries[:limit]
        events = await timeline_entries(page, scope.vault)
        await scope.audit(
            principal,
            "RunTimelineRead",
            resources.clock(),
            run_id=known_id,
        )
    return RunTimelineOut(
        run_id=known_id, events=events, next_after_version=page[-1].version if len(entries) > limit else None
    )


@router.get(
    "/runs",
    summary="List runs, filtered, by keyset pages (to filter by patient, prefer POST /journeys/runs/search)",
    responses=error_responses(400),
)
async def list_runs_route(
    resources: Deps,
    principal: Reader,
    journey_id: Annotated[str | None, uuid_query("journeyId")] = None,
    status: Annotated[RunStatus | None, Query(description="One of the run statuses.")] = None,
    patient_id: Annotated[StoredText | None, patient_id_query("/journeys/runs/search")] = None,
    limit: Annotated[int, page_limit("Runs")] = LIST_PAGE_DEFAULT,
    cursor: PageCursor = None,
) -> RunListOut:
    search = RunSearchIn(
        journey_id=journey_id, status=status, patient_id=patient_id, limit=limit, cursor=cursor
    )
    return await search_runs(resources, principal, search)


@router.post(
    "/runs/search",
    summary="List runs, filtered (the patient id in the body, not the URL), by keyset pages",
    openapi_extra=json_request(RunSearchIn, SEARCH_EXAMPLES),
    responses=error_responses(400, 413, 415),
)
async def search_runs_route(
    principal: Reader, search: Annotated[RunSearchIn, search_body(RunSearchIn)], resources: Deps
) -> RunListOut:
    return await search_runs(resources, principal, search)


async def search_runs(resources: Resources, principal: Principal, search: RunSearchIn) -> RunListOut:
    """One page of the caller's tenant's runs matching `search`; the read is audited with its run ids."""
    async with resources.for_tenant(principal) as scope:
        key_ids = None if search.patient_id is None else await scope.patient_key_ids(search.patient_id)
        where = RunFilter(
            journey_id=optional_uuid(search.journey_id, "journeyId"),
            status=search.status,
            patient_id=search.patient_id,
            patient_key_ids=key_ids,
        )
        try:
            page = await list_runs(scope.db, where, search.limit, search.cursor)
        except InvalidCursor as error:
            raise refused_cursor(error) from None
        opened = await scope.vault.open_contexts({s.run_id: s.patient_context for s in page.runs})
        runs = [_run_out(state, opened[state.run_id]) for state in page.runs]
        details = {"runs": [str(run.run_id) for run in runs], "patientFilter": search.patient_id is not None}
        await scope.audit(
            principal,
            "RunsListed",
            resources.clock(),
            details=details,
        )
    return RunListOut(runs=runs, next_cursor=page.next_cursor)


def _run_out(state: RunState, patient_context: dict[str, Any] | None) -> RunOut:
    if not state.exists or state.status is None or state.journey_id is None or state.journey_version is None:
        raise NotFound(f"Run {state.run_id} does not exist.")
    assert state.created_at is not None and state.updated_at is not None
    return RunOut(
        run_id=state.run_id,
        journey_id=state.journey_id,
        journey_version=state.journey_version,
        status=state.status,
        current_node_id=state.current_node_id,
        patient_context=None if state.erased else patient_context,
        erased=state.erased,
        resume_at=state.resume_at,
        created_at=state.created_at,
        updated_at=state.updated_at,
    )
