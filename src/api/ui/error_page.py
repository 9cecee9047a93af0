"""The run explorer's error pages: an API error answered as HTML to a person, not JSON to a program."""

from __future__ import annotations

import html
from collections.abc import Sequence

from starlette.requests import Request

from domain.validation import Problem


def is_ui_page(request: Request) -> bool:
    """The run explorer's pages answer errors as a page a person reads; its live JSON stays JSON."""
    path = request.url.path
    return (path == "/ui" or path.startswith("/ui/")) and not path.startswith("/ui/live/")


def error_page(status_code: int, text: str, listed: Sequence[Problem]) -> str:
    """An error as a page a person reads: the status, the message and the problems, escaped."""
    message = html.escape(text)
    problems = "".join(
        f"<li><code>{html.escape(p.path or '(request)')}</code>: {html.escape(p.message)}</li>"
        for p in listed
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Run explorer</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="stylesheet" href="/ui/static/ui.css"></head><body><main id="main">'
        f'<h1>{status_code}</h1><p role="alert">{message}</p>'
        + (f"<ul>{problems}</ul>" if problems else "")
        + '<p><a href="/ui/journeys">Back to journeys</a></p></main></body></html>'
    )
