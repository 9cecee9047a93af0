"""The run-events topic's AsyncAPI document, served beside the OpenAPI one and as open as it is."""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from api.resources import get_resources
from events.asyncapi import RunEventsTopic, asyncapi_document, document_yaml

router = APIRouter()


@cache
def _document(topic: RunEventsTopic) -> dict[str, Any]:
    return asyncapi_document(topic)


@router.get("/asyncapi.json", include_in_schema=False)
async def asyncapi_json(request: Request) -> JSONResponse:
    return JSONResponse(_document((await get_resources(request)).run_events))


@router.get("/asyncapi.yaml", include_in_schema=False)
async def asyncapi_yaml(request: Request) -> Response:
    text = document_yaml(_document((await get_resources(request)).run_events))
    return Response(text, media_type="application/yaml")
