"""Signing in to the run explorer with an API key, signing out, and the checks every page and form makes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from api.api_keys import Principal, Scope, parse_key
from api.auth import count_request, is_loopback
from api.errors import Forbidden, SignInRequired, UnsupportedMediaType
from api.key_store import principal_for
from api.refusals import audit_forbidden, audit_forged_form
from api.resources import Resources, get_resources
from api.ui.render import page
from api.ui.sessions import (
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    close_session,
    csrf_token_of,
    new_session_id,
    open_session,
    session_principal,
    tokens_match,
)

router = APIRouter(prefix="/ui", include_in_schema=False)

Deps = Annotated[Resources, Depends(get_resources)]
_FORGED = "The form's CSRF token is missing or wrong; reload the page and try again."


@dataclass(frozen=True)
class Viewer:
    """The signed-in caller of a page, the CSRF token its forms carry, and the request it made."""

    principal: Principal
    csrf_token: str
    request: Request
    resources: Resources

    def may(self, scope: Scope) -> bool:
        return scope in self.principal.scopes

    async def require(self, scope: Scope) -> None:
        """A 403 unless the caller holds `scope`, audited first as the API's are (`AccessRefused`, naming the
        session's key or subject and the route: api/refusals.py)."""
        if not self.may(scope):
            await audit_forbidden(self.request, self.resources, self.principal, scope.value)
            signed_in_with = "API key" if self.principal.kind == "key" else "sign-in"
            raise Forbidden(f"This {signed_in_with} lacks the scope this needs: {scope.value}.")


async def viewer(request: Request, resources: Deps) -> Viewer:
    """The page's caller from its session cookie; without a live session, off to the sign-in page. Left in
    `request.state.principal`, so a 404 answered to it is sampled into its tenant's audit log as the API's
    are (`NotFoundAnswered`: api/errors.py, api/refusals.py)."""
    session_id = request.cookies.get(SESSION_COOKIE)
    principal = None if not session_id else await session_principal(resources.pool, session_id)
    if principal is not None and principal.kind == "token":  # as the provider's settings admit it now
        principal = (
            None if resources.tokens is None else await resources.tokens.admits(resources.pool, principal)
        )
    if session_id is None or principal is None:
        raise SignInRequired()
    await count_request(request, principal)
    request.state.principal = principal
    return Viewer(principal, csrf_token_of(session_id), request, resources)


SignedIn = Annotated[Viewer, Depends(viewer)]


async def form_fields(request: Request, csrf_token: str | None) -> dict[str, str]:
    """A urlencoded form's fields, refused (403) unless it carries the expected CSRF token. Not audited:
    before a session (the sign-in form) no tenant is known to audit it in; `checked_form` audits the rest."""
    fields = await _posted_fields(request)
    if not _carries_token(fields, csrf_token):
        raise Forbidden(_FORGED)
    return fields


async def _posted_fields(request: Request) -> dict[str, str]:
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise UnsupportedMediaType("Send this form from the run explorer's page.")
    raw = (await request.body()).decode("utf-8", errors="replace")
    return {name: values[0] for name, values in parse_qs(raw, keep_blank_values=True).items()}


def _carries_token(fields: dict[str, str], csrf_token: str | None) -> bool:
    return csrf_token is not None and tokens_match(csrf_token, fields.get("csrf_token"))


async def checked_form(request: Request, signed_in: SignedIn) -> tuple[Viewer, dict[str, str]]:
    """The dependency of every POST behind sign-in: the caller, and its form with a valid CSRF token. A
    missing or wrong token is a 403 audited as the scope refusals are (`AccessRefused`, reason
    `csrfToken`): a page of an earlier session, or a forged form of a page of the same site."""
    fields = await _posted_fields(request)
    if not _carries_token(fields, signed_in.csrf_token):
        await audit_forged_form(request, signed_in.resources, signed_in.principal)
        raise Forbidden(_FORGED)
    return signed_in, fields


Form = Annotated[tuple[Viewer, dict[str, str]], Depends(checked_form)]


def secure_cookies(request: Request) -> bool:
    """Cookies are Secure except over plain http to a loopback client (a laptop's own `pjs dev`)."""
    client = request.client.host if request.client else ""
    return not (request.url.scheme == "http" and is_loopback(client))


def set_cookie(
    response: Response,
    request: Request,
    name: str,
    value: str,
    path: str,
    same_site: Literal["strict", "lax"] = "strict",
    max_age: int | None = None,
) -> None:
    secure = secure_cookies(request)
    response.set_cookie(
        name, value, path=path, httponly=True, samesite=same_site, secure=secure, max_age=max_age
    )


def delete_cookie(
    response: Response, request: Request, name: str, path: str, same_site: Literal["strict", "lax"] = "strict"
) -> None:
    """Delete a cookie with the attributes it was set with: a browser ignores a `__Host-` or `__Secure-`
    cookie's deletion that is not itself Secure."""
    secure = secure_cookies(request)
    response.delete_cookie(name, path=path, httponly=True, samesite=same_site, secure=secure)


def login_page(
    request: Request, resources: Resources, problem: str | None = None, status_code: int = 200
) -> Response:
    """The sign-in page (with `problem` said on it), its form's CSRF token fresh in its cookie."""
    token = new_session_id()
    context = {"csrf_token": token, "problem": problem, "provider_sign_in": resources.sign_in is not None}
    response = page(request, "login.html", context, status_code=status_code)
    set_cookie(response, request, SIGN_IN_COOKIE, token, "/ui/login")
    return response


async def start_session(
    request: Request, resources: Resources, principal: Principal, lifetime: timedelta
) -> str:
    """Open a session of the principal (closing this browser's last one), audited; its id."""
    if (previous := request.cookies.get(SESSION_COOKIE)) is not None:
        await close_session(resources.pool, previous)  # one browser, one live session
    session_id = new_session_id()
    await open_session(resources.pool, principal, session_id, lifetime)
    async with resources.for_tenant(principal) as scope:
        await scope.audit(principal, "UiSignedIn", resources.clock())
    return session_id


@router.get("/login")
async def sign_in_form(request: Request, resources: Deps) -> Response:
    return login_page(request, resources)


@router.post("/login")
async def sign_in(request: Request, resources: Deps) -> Response:
    fields = await form_fields(request, request.cookies.get(SIGN_IN_COOKIE))
    presented = parse_key(fields.get("api_key", "").strip())
    principal = None if presented is None else await principal_for(resources.pool, presented)
    if principal is None:
        return login_page(
            request, resources, "That API key is not valid: malformed, unknown or revoked.", 401
        )
    await count_request(request, principal)
    session_id = await start_session(
        request, resources, principal, timedelta(seconds=resources.ui_session_seconds)
    )
    response = RedirectResponse("/ui/journeys", status_code=303)
    set_cookie(response, request, SESSION_COOKIE, session_id, "/ui")
    delete_cookie(response, request, SIGN_IN_COOKIE, "/ui/login")
    return response


@router.post("/logout")
async def sign_out(request: Request, form: Form, resources: Deps) -> Response:
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id is not None:
        await close_session(resources.pool, session_id)
    response = RedirectResponse("/ui/login", status_code=303)
    delete_cookie(response, request, SESSION_COOKIE, "/ui")
    return response


@router.get("")
async def explorer_home() -> Response:
    return RedirectResponse("/ui/journeys", status_code=303)
