"""The small JSON the run explorer's pages poll every few seconds to update without a reload."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from api.api_keys import Scope
from api.inputs import existing_id
from api.limits import INT32_MAX
from api.query_params import integer_path, integer_query
from api.resources import Resources, get_resources
from api.ui.signin import SignedIn
from api.ui.views import journey_version, run_progress, version_counts
from domain.display_text import made_visible

router = APIRouter(prefix="/ui/live", include_in_schema=False)

Deps = Annotated[Resources, Depends(get_resources)]
_NO_STORE = {"Cache-Control": "no-store"}


def shown(node_id: str | None) -> str | None:
    """A node id as the pages print it (`api.ui.render`), so the script finds its node in the graph."""
    return None if node_id is None else made_visible(node_id)


@router.get("/runs/{runId}")
async def run_live(
    viewer: SignedIn,
    resources: Deps,
    run_id: Annotated[str, Path(alias="runId")],
    after: Annotated[int, integer_query(ge=0, le=INT32_MAX)] = 0,
) -> JSONResponse:
    """The run's status, node and resumeAt, and its timeline events after version `after` (masked)."""
    await viewer.require(Scope.RUNS_READ)
    state, rows = await run_progress(resources, viewer.principal, existing_id(run_id, "runId"), after)
    status = state.status.value if state.status else None
    content: dict[str, Any] = {
        "status": status,
        "currentNodeId": shown(state.current_node_id),
        "resumeAt": state.resume_at,
        "version": state.version,
        "events": [
            {
                "type": r.type,
                "version": r.version,
                "recordedAt": r.recorded_at,
                "nodeId": shown(r.node_id),
                "data": r.data,
            }
            for r in rows
        ],
    }
    return JSONResponse(jsonable_encoder(content), headers=_NO_STORE)


@router.get("/journeys/{journeyId}/versions/{version}")
async def counts_live(
    viewer: SignedIn,
    resources: Deps,
    journey_id: Annotated[str, Path(alias="journeyId")],
    version: Annotated[int, integer_path(ge=1, le=INT32_MAX)],
) -> JSONResponse:
    """One journey version's node counters and runs per status."""
    await viewer.require(Scope.JOURNEYS_READ)
    known_id = existing_id(journey_id, "journeyId")
    await journey_version(resources, viewer.principal, known_id, version)  # 404 unless the tenant's own
    counts = await version_counts(resources, viewer.principal, known_id, version)
    return JSONResponse(jsonable_encoder(counts), headers=_NO_STORE)
