"""The OpenAPI document: request bodies read as raw JSON are described here, and served at two URLs; and
its readers, Swagger UI at /api and ReDoc at /api/redoc, their assets from an installed package (no CDN)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.staticfiles import StaticFiles

from api.schemas import ErrorOut

_REF = "#/components/schemas/{model}"


def json_request(model: type[BaseModel], examples: dict[str, Any]) -> dict[str, Any]:
    """`openapi_extra` for a route that reads its body itself: the body's schema (by name) and examples."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": _REF.format(model=model.__name__)},
                    "examples": examples,
                }
            },
        }
    }


def error_responses(*status_codes: int) -> dict[int | str, dict[str, Any]]:
    """The `responses` entry documenting the error shape for these status codes, and 503 (every route
    here reads the store, which can be briefly unavailable)."""
    descriptions = {
        400: "Invalid input: every problem is listed",
        401: "Not signed (or wrongly) with the providers' secret",
        404: "Not found",
        409: "Conflict with the run's state",
        413: "Too large: a body over a limit (PJS_MAX_*_BYTES), or an event over PJS_MAX_EVENT_BYTES",
        415: "The body is not sent as JSON (Content-Type: application/json)",
        422: "Idempotency-Key reused with a different body",
        503: "Briefly unavailable; retry",
    }
    return {code: {"model": ErrorOut, "description": descriptions[code]} for code in (*status_codes, 503)}


def located(status_code: int, what: str) -> dict[int | str, dict[str, Any]]:
    """The `responses` entry documenting the `Location` header of a 201 or 202 that points at `what`."""
    header = {"description": f"The URL of {what}.", "schema": {"type": "string"}}
    return {status_code: {"description": f"`Location` names {what}.", "headers": {"Location": header}}}


def _bad_requests_are_400(document: dict[str, Any]) -> None:
    """FastAPI documents a 422 for invalid parameters; this API answers those with a 400 (api/errors.py)."""
    fastapi_422 = "#/components/schemas/HTTPValidationError"
    bad_request = {"$ref": "#/components/schemas/ErrorOut"}
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            refusal = responses.get("422", {}).get("content", {}).get("application/json", {})
            if refusal.get("schema", {}).get("$ref") == fastapi_422:
                del responses["422"]
                responses.setdefault(
                    "400",
                    {
                        "description": "Invalid input: every problem is listed",
                        "content": {"application/json": {"schema": bad_request}},
                    },
                )
    schemas = document.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)


_ACCESS_ERRORS = {
    401: (
        "No valid API key or access token (missing, malformed, unknown, revoked or expired)",
        "WWW-Authenticate",
    ),
    403: ("The API key or access token lacks this operation's scope", None),
    429: (
        "Too many requests from this API key or token subject; retry after `Retry-After` seconds",
        "Retry-After",
    ),
}

OPEN_FROM_LOOPBACK = {"x-open-from-loopback": True}
"""`openapi_extra` of the ops probes: no key needed from loopback, else the `admin` scope."""


def _document_access(document: dict[str, Any]) -> None:
    """Each secured operation names its scope (`x-scopes`, its description) and the 401/403/429 it can
    answer; the ops probes also list the empty requirement (open from loopback)."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            requirements = operation.get("security")
            if not requirements:
                continue
            scopes = sorted(
                {scope for requirement in requirements for names in requirement.values() for scope in names}
            )
            if operation.pop("x-open-from-loopback", False):
                scopes = ["admin"]
                requirements = [{}, *({name: scopes for name in r} for r in requirements)]
                note = "Open to loopback clients; from elsewhere it needs an API key with scope `admin`."
            else:
                note = f"Requires an API key with scope `{'`, `'.join(scopes)}`."
            operation["security"] = requirements
            operation["x-scopes"] = scopes
            operation["description"] = f"{note}\n\n{operation.get('description', '')}".strip()
            responses = operation.setdefault("responses", {})
            for code, (description, header) in _ACCESS_ERRORS.items():
                response: dict[str, Any] = {
                    "description": description,
                    "content": {"application/json": {"schema": {"$ref": _REF.format(model="ErrorOut")}}},
                }
                if header:
                    response["headers"] = {header: {"schema": {"type": "string"}}}
                responses.setdefault(str(code), response)


_TIMED_OUT = (
    "The request's headers (PJS_API_HEADER_TIMEOUT_SECONDS) or its body (PJS_API_REQUEST_SECONDS) did not "
    "arrive in time; the connection is closed"
)


def _document_timeouts(document: dict[str, Any]) -> None:
    """Every operation can answer 408: a client too slow with its request (api/header_deadline.py before
    any route, api/deadline.py for the body)."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            operation.setdefault("responses", {})["408"] = {
                "description": _TIMED_OUT,
                "headers": {"Connection": {"schema": {"type": "string", "const": "close"}}},
                "content": {"application/json": {"schema": {"$ref": _REF.format(model="ErrorOut")}}},
            }


def install_openapi(app: FastAPI, request_models: list[type[BaseModel]]) -> None:
    """Add the request models' schemas to the document, and serve it at /openapi.json and /api-json."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        _, definitions = models_json_schema(
            [(model, "validation") for model in request_models], ref_template=_REF
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for name, schema in definitions.get("$defs", {}).items():
            schemas.setdefault(name, schema)
        _bad_requests_are_400(document)
        _document_access(document)
        _document_timeouts(document)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/api-json", include_in_schema=False)
    async def openapi_json() -> JSONResponse:
        return JSONResponse(app.openapi())


DOCS_ASSETS = "/api/assets"
# fastapi-offline ships Swagger UI 5 and ReDoc 2, which read OpenAPI 3.1 (swagger-ui-bundle's 4.15 cannot).
_ASSET_DIR = Path(fastapi_offline.__file__).parent / "static"


DOCS_PAGE_HEADERS: Final = {
    # "Try it out" sends the key typed into Authorize: no other site may frame the page to click it.
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def install_docs(app: FastAPI) -> None:
    """Swagger UI at /api and ReDoc at /api/redoc, working on a network without internet access."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=_ASSET_DIR), name="docs-assets")
    title = f"{app.title} API"

    @app.get("/api", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=title,
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
        )
        page.headers.update(DOCS_PAGE_HEADERS)
        return page

    @app.get("/api/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url="/openapi.json",
            title=title,
            redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png",
            with_google_fonts=False,
        )
        page.headers.update(DOCS_PAGE_HEADERS)
        return page
