"""Who is calling: every route but /health needs `Authorization: Bearer <API key or access token>` carrying
its scope (access tokens only where an identity provider is configured: api/bearer_tokens.py).

`requires(scope)` is the dependency a route declares; it answers the route's `Principal` and leaves it in
`request.state.principal`. Order: authenticate (401), count against the key's rate limit (429), then
check the scope (403). Messages never repeat the key. A 401 is logged and a 403 audited (api/refusals.py).
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Final

from fastapi import Depends, Request, Security
from fastapi.security import HTTPBearer, SecurityScopes

from api.api_keys import Principal, Scope, parse_key
from api.bearer_tokens import TokenRefused, looks_like_a_token
from api.errors import Forbidden, TooManyRequests, Unauthorized, Unavailable
from api.jwks import KeySetUnavailable
from api.rate_limit import KeyRateLimiter
from api.refusals import audit_forbidden, refusal_log
from api.resources import Resources, get_resources

SECURITY_SCHEME: Final = "apiKey"
REALM: Final = "pjs"

# Only documents the scheme in OpenAPI (Swagger UI's Authorize button); the header is parsed below, so a
# missing header and a malformed one get their own answers.
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name=SECURITY_SCHEME,
    bearerFormat="pjs_live_<keyId>_<secret>, or a JWT",
    description="An API key from `pjs keys create` (or `.pjs/dev-api-key` under `pjs dev`), or an access "
    "token (a signed JWT) from the identity provider configured with PJS_OIDC_ISSUER.",
)


def requires(scope: Scope) -> Any:
    """The dependency (for `Annotated[Principal, requires(...)]`) admitting keys that carry `scope`."""
    return Security(_authorized, scopes=[scope.value])


async def _authorized(
    request: Request,
    security_scopes: SecurityScopes,
    resources: Annotated[Resources, Depends(get_resources)],
    _documented: Annotated[object, Depends(_bearer)],
) -> Principal:
    principal = await authenticate(request, resources)
    missing = [scope for scope in security_scopes.scopes if scope not in principal.scopes]
    if missing:
        await audit_forbidden(request, resources, principal, missing[0])
        raise _lacks(principal, missing[0])
    return principal


def _lacks(principal: Principal, scope: str) -> Forbidden:
    credential = "API key" if principal.kind == "key" else "access token"
    return Forbidden(f"This {credential} lacks the scope this operation needs: {scope}.")


async def loopback_or_admin(
    request: Request,
    resources: Annotated[Resources, Depends(get_resources)],
    _documented: Annotated[object, Depends(_bearer)],
) -> Principal | None:
    """The ops probes: open to loopback clients (a local agent, the supervisor) unless
    PJS_PROBES_OPEN_FROM_LOOPBACK is off, else `admin` keys."""
    local = request.client is not None and is_loopback(request.client.host)
    if local and resources.probes_open_from_loopback:
        return None
    principal = await authenticate(request, resources)
    if Scope.ADMIN not in principal.scopes:
        await audit_forbidden(request, resources, principal, Scope.ADMIN.value)
        raise _lacks(principal, Scope.ADMIN.value)
    return principal


async def authenticate(request: Request, resources: Resources) -> Principal:
    """The caller behind the request's bearer key or token, counted against its rate limit; 401, 429 or
    503 (the identity provider's keys unavailable) otherwise. A 401 is logged (api/refusals.py)."""
    try:
        principal = await _authenticated(request, resources)
    except Unauthorized as refused:
        await refusal_log(request).unauthenticated(request, refused.message)
        raise
    await count_request(request, principal)
    request.state.principal = principal
    return principal


async def _authenticated(request: Request, resources: Resources) -> Principal:
    header = request.headers.get("authorization")
    if header is None:
        raise Unauthorized(
            "Authentication required: send `Authorization: Bearer <API key or access token>`.",
            headers={"WWW-Authenticate": f'Bearer realm="{REALM}"'},
        )
    scheme, _, credential = header.partition(" ")
    principal = await _principal_for(resources, credential.strip()) if scheme.lower() == "bearer" else None
    if principal is None:
        raise _invalid("The API key is not valid: malformed, unknown or revoked.")
    return principal


async def _principal_for(resources: Resources, credential: str) -> Principal | None:
    presented = parse_key(credential)
    if presented is not None:
        return await resources.keys.principal_for(resources.pool, presented)
    if resources.tokens is None or not looks_like_a_token(credential):
        return None
    try:
        return await resources.tokens.principal_for(resources.pool, credential)
    except TokenRefused as refused:
        raise _invalid(f"The access token is not accepted: {refused}.") from None
    except KeySetUnavailable:
        raise Unavailable(
            "The identity provider's signing keys could not be fetched; retry later.",
            headers={"Retry-After": "30"},
        ) from None


def _invalid(message: str) -> Unauthorized:
    return Unauthorized(
        message, headers={"WWW-Authenticate": f'Bearer realm="{REALM}", error="invalid_token"'}
    )


async def count_request(request: Request, principal: Principal) -> None:
    """Count the request against its key's rate limit (a run explorer session's too); 429 when over."""
    retry_after = await _rate_limiter(request).hit(principal.actor)
    if retry_after is not None:
        raise TooManyRequests(
            "Too many requests from this API key or token subject (PJS_RATE_LIMIT_PER_SECOND); retry later.",
            headers={"Retry-After": str(retry_after)},
        )


def _rate_limiter(request: Request) -> KeyRateLimiter:
    limiter: KeyRateLimiter = request.app.state.rate_limiter
    return limiter


def is_loopback(host: str) -> bool:
    """Whether `host` is a loopback address (a name is not)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # not an address (a test client's name, a unix socket): not loopback
        return False
