"""Refused requests, for an auditor: a 403 is an audit entry in the caller's tenant (the API's and the run
explorer's, a form's CSRF token among them); a 401 a WARNING line; a 404 answered to a caller an audit entry
at most once a minute per key and route, with its count.

Accepted requests pass none of this: each hook runs only on its refusal. Entries and lines name the route's
template (`/journeys/runs/{runId}`), never the path, whose ids may be a patient's. An entry that cannot be
written leaves the refusal's answer as it is: it is a log line and `pjs_refusal_entries_unwritten_total`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from fastapi import Request
from prometheus_client import Counter

from api.api_keys import Principal, parse_key
from api.bearer_tokens import looks_like_a_token
from api.head_requests import sent_method
from api.http_metrics import route_template
from api.rate_limit import KeyRateLimiter, RateLimit
from events.retry import TRANSIENT_ERRORS

if TYPE_CHECKING:  # api.errors imports this module, and api.resources (through api.limits) imports it
    from api.resources import Resources

log = logging.getLogger(__name__)
unwritten = logging.getLogger(f"{__name__}.unwritten")  # pjs.logs quiets its repeats

REFUSAL_ACTIONS: Final = ("AccessRefused", "NotFoundAnswered")
UNWRITTEN_CAUSES: Final = ("store_unavailable", "error")
REFUSAL_ENTRIES_UNWRITTEN = Counter(
    "pjs_refusal_entries_unwritten",
    "Refusals' audit entries the API could not write (the refusal was answered all the same), by action "
    "and cause: store_unavailable (down, busy, raced) or error (a privilege, a constraint, a bug).",
    ["action", "cause"],
)
for _action in REFUSAL_ACTIONS:  # exported at 0, so an alert on its increase sees the first one
    for _cause in UNWRITTEN_CAUSES:
        REFUSAL_ENTRIES_UNWRITTEN.labels(action=_action, cause=_cause)

_UNWRITTEN: Final = "a refusal's audit entry (%s) not written: %s"
_UNWRITTEN_IN_OUTAGE: Final = "a refusal's audit entry (%s) not written, store unavailable: %s"

ONE_A_MINUTE: Final = RateLimit(per_second=1 / 60, burst=1)
LINES_A_MINUTE: Final = RateLimit(per_second=1, burst=60)
"""At most about 60 lines a minute in all (some 90,000 a day, ~15 MB): a flood of bad keys cannot fill
the disk, and one key's flood cannot crowd out the others' lines (each credential has one a minute)."""
_ALL: Final = "all"


def _route(request: Request) -> str:
    return f"{sent_method(request.scope)} {route_template(request.scope.get('route'))}"


async def audit_forbidden(request: Request, resources: Resources, principal: Principal, scope: str) -> None:
    """An `AccessRefused` entry in the caller's tenant naming its key, the route and the scope it lacked,
    committed before the 403 is answered. One per refusal: the key's rate limit, counted before the scope
    is checked, bounds them as it bounds the entries of the reads it may make."""
    details = {"status": 403, "route": _route(request), "scopeNeeded": scope}
    await _write_entry(resources, principal, "AccessRefused", details)


async def audit_forged_form(request: Request, resources: Resources, principal: Principal) -> None:
    """An `AccessRefused` entry for a run explorer form posted without its session's CSRF token (`"reason":
    "csrfToken"`): a page of an earlier session, or a forged form from a page of the same site (another
    site's post carries no session cookie: it is SameSite=Strict)."""
    details = {"status": 403, "route": _route(request), "reason": "csrfToken"}
    await _write_entry(resources, principal, "AccessRefused", details)


async def _write_entry(
    resources: Resources, principal: Principal, action: str, details: dict[str, object]
) -> bool:
    """Write a refusal's entry in the caller's tenant; whether it was written. A failure never changes the
    refusal's answer (a 4xx is never made a 5xx by its bookkeeping): it is counted, and logged by its
    class alone, at ERROR unless the store is down or busy (then WARNING, as the requests it fails are)."""
    try:
        async with resources.for_tenant(principal) as bound:
            await bound.audit(principal, action, resources.clock(), details=details)
    except Exception as error:
        transient = isinstance(error, TRANSIENT_ERRORS)  # PoolExhausted among them
        cause = "store_unavailable" if transient else "error"
        REFUSAL_ENTRIES_UNWRITTEN.labels(action=action, cause=cause).inc()
        # Two templates: repeats are held back by template (pjs.logs.QuietRepeats), and an ERROR must not
        # be held back as a repeat of an outage's WARNINGs.
        if transient:
            unwritten.warning(_UNWRITTEN_IN_OUTAGE, action, type(error).__name__)
        else:
            unwritten.error(_UNWRITTEN, action, type(error).__name__)
        return False
    return True


@dataclass
class RefusalLog:
    """Counts refusals too many to record each: 401 lines, and 404 entries by key and route."""

    _overall: KeyRateLimiter = field(default_factory=lambda: KeyRateLimiter(LINES_A_MINUTE))
    _per_credential: KeyRateLimiter = field(default_factory=lambda: KeyRateLimiter(ONE_A_MINUTE))
    _lines_held_back: int = 0
    _per_caller_route: KeyRateLimiter = field(default_factory=lambda: KeyRateLimiter(ONE_A_MINUTE))
    _not_found_held_back: dict[str, int] = field(default_factory=dict)

    async def unauthenticated(self, request: Request, reason: str) -> None:
        """A WARNING line for a 401: the route, the client's address, which credential (`key:<key id>` when
        the presented key parses, never its secret; else `token`, `unparsed` or `none`) and why."""
        credential = _credential(request.headers.get("authorization"))
        # Test the overall allowance before counting per credential, so a flood of made-up key ids adds
        # no more than the allowance's worth of entries to the per-credential counts.
        if not await self._overall.allows(_ALL) or await self._per_credential.hit(credential) is not None:
            self._lines_held_back += 1
            return
        await self._overall.hit(_ALL)
        held_back, self._lines_held_back = self._lines_held_back, 0
        client = request.client.host if request.client is not None else "-"
        log.warning(
            "refused=401 route=%r client=%s credential=%s reason=%r held_back=%d",
            _route(request), client, credential, reason, held_back,
        )  # fmt: skip

    async def not_found(self, request: Request, resources: Resources, principal: Principal) -> None:
        """A `NotFoundAnswered` entry in the caller's tenant, at most once a minute per key and route (per
        API process), whose `count` is this key's 404s on the route since the previous one: any caller can
        ask for ids that are not there (its own typos, or another clinic's runs, which look the same)."""
        route = _route(request)
        pair = f"{principal.actor} {route}"
        count = self._not_found_held_back.pop(pair, 0) + 1
        if await self._per_caller_route.hit(pair) is not None:
            self._not_found_held_back[pair] = count
            return
        details = {"status": 404, "route": route, "count": count}
        if not await _write_entry(resources, principal, "NotFoundAnswered", details):
            held_back = self._not_found_held_back
            held_back[pair] = held_back.get(pair, 0) + count  # the next entry counts them


def _credential(header: str | None) -> str:
    if header is None:
        return "none"
    credential = header.partition(" ")[2].strip()
    presented = parse_key(credential)
    if presented is not None:
        return f"key:{presented.key_id}"
    return "token" if looks_like_a_token(credential) else "unparsed"


def refusal_log(request: Request) -> RefusalLog:
    found: RefusalLog = request.app.state.refusal_log
    return found
