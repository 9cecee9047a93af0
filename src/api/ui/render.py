"""The run explorer's templates and static files, and the headers every page is sent with."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from domain.display_text import made_visible

_HERE = Path(__file__).parent


def _shown(value: Any) -> Any:
    """Every value a page prints, with hidden characters written out (`domain.display_text.made_visible`);
    markup is the templates' own output, its values already shown this way."""
    return made_visible(value) if isinstance(value, str) and not isinstance(value, Markup) else value


TEMPLATES: Final = Jinja2Templates(
    env=Environment(loader=FileSystemLoader(_HERE / "templates"), autoescape=True, finalize=_shown)
)

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
