"""What a signed-in caller can do to one run from its page: reveal its patient data, cancel it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse, Response

from api.api_keys import Scope
from api.inputs import existing_id
from api.resources import Resources, get_resources
from api.runs import cancel
from api.ui.render import page
from api.ui.signin import Form
from api.ui.views import run_view

router = APIRouter(prefix="/ui", include_in_schema=False)

Deps = Annotated[Resources, Depends(get_resources)]
RunIdPath = Annotated[str, Path(alias="runId")]


@router.post("/runs/{runId}/reveal")
async def reveal(request: Request, form: Form, resources: Deps, run_id: RunIdPath) -> Response:
    """The run page with the patient's data in clear, this once; the audit log records who looked."""
    viewer, _ = form
    viewer.require(Scope.RUNS_READ)
    view = await run_view(resources, viewer.principal, existing_id(run_id, "Run"), reveal=True)
    return page(request, "run.html", {"viewer": viewer, "view": view})


@router.post("/runs/{runId}/cancel")
async def cancel_from_page(form: Form, resources: Deps, run_id: RunIdPath) -> Response:
    """Cancel as POST /journeys/runs/{runId}/cancel does (same refusals, same audit), then back to the run."""
    viewer, fields = form
    viewer.require(Scope.RUNS_CANCEL)
    if fields.get("confirm") != "yes":
        return RedirectResponse(f"/ui/runs/{existing_id(run_id, 'Run')}", status_code=303)
    cancelled = await cancel(run_id, resources, viewer.principal)
    return RedirectResponse(f"/ui/runs/{cancelled.run_id}?cancelled=1", status_code=303)
