"""What a signed-in caller can do to one run from its page: reveal its patient data, cancel it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse, Response

from api.api_keys import Scope
from api.inputs import existing_id
from api.resources import Resources, get_resources
from api.runs import cancel
from api.ui.pages import run_page_of
from api.ui.signin import Form

router = APIRouter(prefix="/ui", include_in_schema=False)

Deps = Annotated[Resources, Depends(get_resources)]
RunIdPath = Annotated[str, Path(alias="runId")]


@router.post("/runs/{runId}/reveal")
async def reveal(request: Request, form: Form, resources: Deps, run_id: RunIdPath) -> Response:
    """The run page with the patient's data in clear, this once; the audit log records who looked."""
    viewer, _ = form
    return await run_page_of(request, viewer, resources, existing_id(run_id, "runId"), reveal=True)


@router.post("/runs/{runId}/cancel")
async def cancel_from_page(form: Form, resources: Deps, run_id: RunIdPath) -> Response:
    """Cancel as POST /journeys/runs/{runId}/cancel does (same refusals, same audit), then back to the run."""
    viewer, fields = form
    await viewer.require(Scope.RUNS_CANCEL)
    if fields.get("confirm") != "yes":
        return RedirectResponse(f"/ui/runs/{existing_id(run_id, 'runId')}", status_code=303)
    cancelled = await cancel(run_id, resources, viewer.principal)
    return RedirectResponse(f"/ui/runs/{cancelled.run_id}?cancelled=1", status_code=303)
