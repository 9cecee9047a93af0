"""Signing in to the run explorer with the clinic's identity provider (api/authorization_code.py says how).

`GET /ui/login/provider` sends the browser to the provider; the provider sends it back to
`/ui/login/provider/callback`, where the code becomes an access token, the token is verified as the API
verifies any (tenant, scopes), and a session opens that ends no later than the token.

The way back is a navigation that starts on the provider's site (the user's click there), on which a
browser sends no `SameSite=Strict` cookie. So the pending sign-in's cookie is `Lax` (sent on such a
top-level GET), and the callback answers with a page of this site that moves on to the explorer: the
next request is this site's own and carries the session's `Strict` cookie.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Final

import aiohttp
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.authorization_code import (
    CodeRefused,
    PendingSignIn,
    authorization_redirect,
    exchange_code,
    provider_error,
)
from api.bearer_tokens import TokenRefused
from api.errors import NotFound
from api.jwks import KeySetUnavailable
from api.resources import Resources
from api.token_policy import SignInClient
from api.ui.render import page
from api.ui.sessions import SESSION_COOKIE, close_session, tokens_match
from api.ui.signin import Deps, delete_cookie, login_page, secure_cookies, set_cookie, start_session

log = logging.getLogger(__name__)

router = APIRouter(prefix="/ui/login/provider", include_in_schema=False)

PENDING_COOKIE: Final = "pjs_ui_provider_sign_in"
PENDING_SECONDS: Final = 600
_PENDING_PATH: Final = "/ui/login/provider"
_NOT_THIS_BROWSERS: Final = "That sign-in did not start in this browser or took too long; sign in again."


class SignInFailed(Exception):
    """A sign-in that did not work out; `problem` is said on the sign-in page."""

    def __init__(self, problem: str, status_code: int) -> None:
        super().__init__(problem)
        self.problem = problem
        self.status_code = status_code


def pending_cookie(request: Request) -> tuple[str, str]:
    """The pending sign-in's cookie name and path. Where cookies are Secure it is a `__Host-` cookie
    (Secure, this host only, path `/`), so that neither a sibling subdomain nor a page of plain http can
    plant one of its own; a laptop's plain http to loopback keeps the plain name and a narrow path."""
    if secure_cookies(request):
        return f"__Host-{PENDING_COOKIE}", "/"
    return PENDING_COOKIE, _PENDING_PATH


@router.get("")
async def sign_in_with_provider(request: Request, resources: Deps) -> Response:
    client = _client(resources)
    pending = PendingSignIn.new(resources.clock().timestamp())
    response = RedirectResponse(authorization_redirect(client, pending), status_code=303)
    name, path = pending_cookie(request)
    set_cookie(response, request, name, pending.cookie(), path, "lax", PENDING_SECONDS)
    if (previous := request.cookies.get(SESSION_COOKIE)) is not None:
        # Closed here, on a click on this site's page (a link from another site carries no Strict session
        # cookie, so it cannot sign anyone out): the way back from the provider may not carry it either,
        # and one browser holds one live session.
        await close_session(resources.pool, previous)
        delete_cookie(response, request, SESSION_COOKIE, "/ui")
    return response


@router.get("/callback")
async def back_from_provider(
    request: Request,
    resources: Deps,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
) -> Response:
    client = _client(resources)
    name, path = pending_cookie(request)
    pending = PendingSignIn.from_cookie(request.cookies.get(name))
    try:
        fresh = pending is not None and pending.fresh(resources.clock().timestamp(), PENDING_SECONDS)
        if pending is None or not fresh or state is None or not tokens_match(pending.state, state):
            raise SignInFailed(_NOT_THIS_BROWSERS, 400)
        if error is not None or code is None:
            raise SignInFailed(f"The identity provider did not sign you in ({provider_error(error)}).", 401)
        session_id = await _session_for_code(request, resources, client, code, pending)
    except SignInFailed as failed:
        response = login_page(request, resources, failed.problem, failed.status_code)
    else:
        response = page(request, "signed_in.html", {}, status_code=200)
        set_cookie(response, request, SESSION_COOKIE, session_id, "/ui")
    delete_cookie(response, request, name, path, "lax")
    return response


async def _session_for_code(
    request: Request, resources: Resources, client: SignInClient, code: str, pending: PendingSignIn
) -> str:
    tokens = resources.tokens
    assert tokens is not None  # `_client` answered: a provider is configured
    try:
        token = await exchange_code(client, code, pending)
        principal, token_expires = await tokens.caller_until(resources.pool, token)
    except CodeRefused as refused:
        raise SignInFailed(f"The identity provider refused the sign-in ({refused}).", 401) from None
    except TokenRefused as refused:
        raise SignInFailed(f"The identity provider's token is not accepted: {refused}.", 401) from None
    except (KeySetUnavailable, aiohttp.ClientError, OSError, ValueError) as failure:  # OSError: timeouts too
        log.warning("signing in with the identity provider failed: %s", failure.__class__.__name__)
        raise SignInFailed("The identity provider could not be reached; try again shortly.", 503) from None
    lifetime = min(timedelta(seconds=resources.ui_session_seconds), token_expires - resources.clock())
    if lifetime <= timedelta(0):
        raise SignInFailed("The identity provider's token has expired already; sign in again.", 401)
    return await start_session(request, resources, principal, lifetime)


def _client(resources: Resources) -> SignInClient:
    if resources.sign_in is None or resources.tokens is None:
        raise NotFound("Signing in with an identity provider is not set up here.")
    return resources.sign_in
