"""The run explorer's templates and static files, and the headers every page is sent with."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

_HERE = Path(__file__).parent
TEMPLATES: Final = Jinja2Templates(directory=_HERE / "templates")

PAGE_HEADERS: Final = {
    # Only this service's own script and stylesheet run; no page may frame these.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        " form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Cache-Control": "no-store",  # pages can show patient data: never kept by the browser or a proxy
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def static_files() -> StaticFiles:
    return StaticFiles(directory=_HERE / "static")


def page(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    """A page rendered from `template` with the security headers."""
    response = TEMPLATES.TemplateResponse(request, template, context, status_code=status_code)
    response.headers.update(PAGE_HEADERS)
    return response
