"""Signing in to the run explorer the way a browser does: read the form's CSRF token, post the key."""

from __future__ import annotations

import re

import httpx

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(page: str) -> str:
    """The CSRF token of the first form on a page."""
    found = _CSRF.search(page)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, key: str) -> httpx.Response:
    """Sign in with `key` (the client keeps the session cookie); the answer to the sign-in POST."""
    form = await client.get("/ui/login")
    return await client.post("/ui/login", data={"csrf_token": csrf_token(form.text), "api_key": key})
