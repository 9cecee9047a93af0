"""The methods a path takes, as the API documents them: what a 405's `Allow` header names."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import compile_path

_HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def allowed_methods(request: Request, starlettes: str) -> str:
    """Every method the API documents at this path: Starlette's 405 names only the first route's (POST of
    `POST /journeys`, though `GET /journeys` is another route), and HEAD wherever GET is (api.head_requests
    answers it). Paths outside the document (the run explorer's) keep Starlette's, with HEAD likewise."""
    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        if compile_path(template)[0].match(request.url.path):
            methods.update(method.upper() for method in operations if method.upper() in _HTTP_METHODS)
    if not methods:
        methods = {method.strip().upper() for method in starlettes.split(",") if method.strip()}
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))
