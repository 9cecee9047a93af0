"""The run explorer's pages: journeys, one journey version's graph, runs, and one run."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from api.api_keys import Scope
from api.errors import BadRequest
from api.inputs import existing_id
from api.limits import INT32_MAX, StoredText
from api.query_params import integer_query
from api.resources import Resources, get_resources
from api.runs import search_runs
from api.search_schemas import RunSearchIn
from api.ui.graph import layout
from api.ui.masking import masked_patient
from api.ui.render import page
from api.ui.signin import Form, SignedIn, Viewer
from api.ui.views import (
    journey_names,
    journey_version,
    journeys_overview,
    run_audit,
    run_view,
    version_counts,
)
from domain.run_state import RunStatus

router = APIRouter(prefix="/ui", include_in_schema=False)

Deps = Annotated[Resources, Depends(get_resources)]
RUNS_PER_PAGE = 25


@router.get("/journeys")
async def journeys_page(request: Request, viewer: SignedIn, resources: Deps) -> Response:
    await viewer.require(Scope.JOURNEYS_READ)
    overview = await journeys_overview(resources, viewer.principal)
    return page(
        request, "journeys.html", {"viewer": viewer, "journeys": overview, "statuses": list(RunStatus)}
    )


@router.get("/journeys/{journeyId}")
async def journey_page(
    request: Request,
    viewer: SignedIn,
    resources: Deps,
    journey_id: Annotated[str, Path(alias="journeyId")],
    version: Annotated[int | None, integer_query(ge=1, le=INT32_MAX)] = None,
) -> Response:
    await viewer.require(Scope.JOURNEYS_READ)
    known_id = existing_id(journey_id, "journeyId")
    stored, latest = await journey_version(resources, viewer.principal, known_id, version)
    counts = await version_counts(resources, viewer.principal, known_id, stored.version)
    context = {
        "viewer": viewer,
        "journey": stored,
        "latest": latest,
        "graph": layout(stored.definition),
        "counts": counts,
        "statuses": list(RunStatus),
    }
    return page(request, "journey.html", context)


@router.get("/runs")
async def runs_page(
    request: Request,
    viewer: SignedIn,
    resources: Deps,
    journey_id: Annotated[StoredText | None, Query(alias="journeyId")] = None,
    status: Annotated[RunStatus | None, Query()] = None,
    cursor: Annotated[StoredText | None, Query()] = None,
) -> Response:
    """Runs filtered by journey and status (in the URL: neither is patient data)."""
    fields = {
        "journey_id": journey_id or "",
        "status": status.value if status else "",
        "cursor": cursor or "",
    }
    return await _runs(request, viewer, resources, fields)


@router.post("/runs")
async def runs_search(request: Request, form: Form, resources: Deps) -> Response:
    """Runs filtered by a form that may name a patient: the patient id travels in the body, never a URL."""
    viewer, fields = form
    return await _runs(request, viewer, resources, fields)


async def _runs(request: Request, viewer: Viewer, resources: Resources, fields: dict[str, str]) -> Response:
    await viewer.require(Scope.RUNS_READ)
    chosen = {name: fields.get(name, "").strip() or None for name in ("journey_id", "status", "patient_id")}
    try:
        search = RunSearchIn.model_validate(
            {**chosen, "cursor": fields.get("cursor") or None, "limit": RUNS_PER_PAGE}
        )
    except ValidationError:
        raise BadRequest("A filter is not valid: pick a journey and a status from the lists.") from None
    found = await search_runs(resources, viewer.principal, search)
    names = await journey_names(resources, viewer.principal)
    runs: list[dict[str, Any]] = [
        {
            "run": run,
            "journey": names.get(run.journey_id, ""),
            **masked_patient(run.patient_context, run.erased),
        }
        for run in found.runs
    ]
    context = {
        "viewer": viewer,
        "runs": runs,
        "filters": chosen,
        "journeys": names,
        "statuses": list(RunStatus),
        "next_cursor": found.next_cursor,
    }
    return page(request, "runs.html", context)


@router.get("/runs/{runId}")
async def run_page(
    request: Request, viewer: SignedIn, resources: Deps, run_id: Annotated[str, Path(alias="runId")]
) -> Response:
    return await run_page_of(request, viewer, resources, existing_id(run_id, "runId"), reveal=False)


async def run_page_of(
    request: Request, viewer: Viewer, resources: Resources, run_id: UUID, *, reveal: bool
) -> Response:
    """One run's page, its patient data masked unless `reveal`; its audit log for keys that may read it."""
    await viewer.require(Scope.RUNS_READ)
    view = await run_view(resources, viewer.principal, run_id, reveal=reveal)
    audit = await run_audit(resources, viewer.principal, run_id) if viewer.may(Scope.AUDIT_READ) else None
    return page(request, "run.html", {"viewer": viewer, "view": view, "audit": audit})
