"""Run routes: trigger a run, read its status and timeline, cancel it."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import uuid4

from fastapi import APIRouter, Depends, Header, Path, Query, Response

from api.api_keys import Principal, Scope
from api.auth import requires
from api.errors import BadRequest, NotFound, invalid, refused
from api.examples import EXAMPLE_ID, PATIENT_EXAMPLES
from api.inputs import PatientContextBody, existing_id, optional_uuid
from api.limits import INT32_MAX, StoredText
from api.openapi import error_responses, json_request
from api.resources import Resources, get_resources
from api.schemas import (
    PatientContextIn,
    RunAcceptedOut,
    RunCancelledOut,
    RunListOut,
    RunOut,
    RunTimelineOut,
)
from api.timeline import timeline_entries
from domain.patient_context import validate_patient_context
from domain.run_state import RunState, RunStatus
from engine.commands import RunAccepted, RunCancelAccepted, cancel_run, run_id_for_key, trigger_run
from engine.ports import load_head
from engine.run_listing import InvalidCursor, RunFilter, list_runs
from projections.run_timeline import read_page

router = APIRouter(prefix="/journeys", tags=["runs"])

Deps = Annotated[Resources, Depends(get_resources)]
RunIdPath = Annotated[str, Path(alias="runId", examples=[EXAMPLE_ID])]
Reader = Annotated[Principal, requires(Scope.RUNS_READ)]
MAX_PAGE = 1000
MAX_LIST_PAGE = 500


@router.post(
    "/{journeyId}/trigger",
    status_code=202,
    summary="Start a run of the journey's latest version for one patient (the body is the patient context)",
    openapi_extra=json_request(PatientContextIn, PATIENT_EXAMPLES),
    responses=error_responses(400, 404, 413, 422),
)
async def trigger(
    principal: Annotated[Principal, requires(Scope.RUNS_TRIGGER)],  # first: 401/403 before the body is read
    journey_id: Annotated[str, Path(alias="journeyId", examples=[EXAMPLE_ID])],
    raw: PatientContextBody,
    resources: Deps,
    response: Response,
    idempotency_key: Annotated[
        StoredText | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            description="Retries with the same key and body return the same run.",
            examples=["booking-4711"],
        ),
    ] = None,
) -> RunAcceptedOut:
    known_id = existing_id(journey_id, "Journey")
    context = validate_patient_context(raw)
    if isinstance(context, list):
        raise invalid("patient context", context)
    run_id = uuid4() if idempotency_key is None else run_id_for_key(known_id, idempotency_key)
    result = await trigger_run(
        resources.store,
        resources.heads,
        resources.journeys,
        run_id=run_id,
        journey_id=known_id,
        patient_context=context,
        now=resources.clock(),
        sealer=resources.vault,
    )
    if not isinstance(result, RunAccepted):
        raise refused(result)
    response.headers["Location"] = f"/journeys/runs/{result.run_id}"
    return RunAcceptedOut(run_id=result.run_id)


@router.get("/runs/{runId}", summary="A run's current status", responses=error_responses(404))
async def get_run(run_id: RunIdPath, resources: Deps, principal: Reader) -> RunOut:
    state = await load_head(resources.heads, existing_id(run_id, "Run"))
    return _run_out(state, await resources.vault.open_context(state.patient_context))


@router.post(
    "/runs/{runId}/cancel", status_code=202, summary="Cancel a run", responses=error_responses(404, 409)
)
async def cancel(
    run_id: RunIdPath, resources: Deps, principal: Annotated[Principal, requires(Scope.RUNS_CANCEL)]
) -> RunCancelledOut:
    result = await cancel_run(
        resources.store,
        resources.heads,
        run_id=existing_id(run_id, "Run"),
        reason=None,
        now=resources.clock(),
    )
    if not isinstance(result, RunCancelAccepted):
        raise refused(result)
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
        Query(
            alias="afterVersion", ge=0, le=INT32_MAX, description="Events after this version.", examples=[0]
        ),
    ] = 0,
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE, description="Events per page (at most 1000).", examples=[100])
    ] = 100,
) -> RunTimelineOut:
    known_id = existing_id(run_id, "Run")
    entries = await read_page(resources.pool, resources.store, known_id, after_version, limit + 1)
    if not entries and (after_version == 0 or await resources.store.head_version(known_id) == 0):
        raise NotFound(f"Run {known_id} does not exist.")
    page = entries[:limit]
    return RunTimelineOut(
        run_id=known_id,
        events=await timeline_entries(page, resources.vault),
        next_after_version=page[-1].version if len(entries) > limit else None,
    )


@router.get("/runs", summary="List runs, filtered, by keyset pages", responses=error_responses(400))
async def list_runs_route(
    resources: Deps,
    principal: Reader,
    journey_id: Annotated[str | None, Query(alias="journeyId", examples=[EXAMPLE_ID])] = None,
    status: Annotated[RunStatus | None, Query(description="One of the run statuses.")] = None,
    patient_id: Annotated[StoredText | None, Query(alias="patientId", max_length=255)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST_PAGE, description="Runs per page (at most 500).")] = 50,
    cursor: Annotated[StoredText | None, Query(description="The nextCursor of the previous page.")] = None,
) -> RunListOut:
    key_ids = None
    if patient_id is not None:
        key_ids = (await resources.vault.keys.key_ids_of(resources.vault.patient_ref(patient_id))).key_ids
    where = RunFilter(
        journey_id=optional_uuid(journey_id, "journeyId"),
        status=status,
        patient_id=patient_id,
        patient_key_ids=key_ids,
    )
    try:
        page = await list_runs(resources.pool, where, limit, cursor)
    except InvalidCursor as error:
        raise BadRequest(str(error)) from None
    opened = await resources.vault.open_contexts({s.run_id: s.patient_context for s in page.runs})
    runs = [_run_out(state, opened[state.run_id]) for state in page.runs]
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
