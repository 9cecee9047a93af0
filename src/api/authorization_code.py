"""Signing in with the clinic's identity provider: OAuth 2.0's authorization code flow with PKCE (RFC 6749
section 4.1, RFC 7636), as a confidential client when it has a secret, a public one otherwise.

The browser is sent to the provider with a random `state` and a code challenge; the state and the
challenge's verifier wait in a short-lived cookie of that browser. The provider sends the browser back
with a code, which is exchanged here, server to server, for an access token; `api.bearer_tokens` then
verifies that token as it verifies any other.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote_plus, urlencode

import aiohttp
import orjson

from api.provider_http import bounded_body
from api.token_policy import SignInClient

EXCHANGE_TIMEOUT_SECONDS: Final = 10.0
CLOCK_SKEW_SECONDS: Final = 60
MAX_ANSWER_BYTES: Final = 1 << 20
_PROVIDER_ERROR = re.compile(r"[a-z_]{1,64}")  # RFC 6749's error codes; anything else is not repeated


@dataclass(frozen=True)
class PendingSignIn:
    """A sign-in sent to the provider and not back yet: its state, its PKCE verifier, when it began."""

    state: str
    verifier: str
    started_at: int  # Unix time, whole seconds

    @classmethod
    def new(cls, now: float) -> PendingSignIn:
        return cls(secrets.token_urlsafe(32), secrets.token_urlsafe(48), int(now))

    @classmethod
    def from_cookie(cls, value: str | None) -> PendingSignIn | None:
        parts = (value or "").split(".")
        started_at = parts[-1]
        if len(parts) != 3 or not all(parts) or not (started_at.isascii() and started_at.isdigit()):
            return None
        return cls(parts[0], parts[1], int(started_at[:12]))

    def cookie(self) -> str:
        return f"{self.state}.{self.verifier}.{self.started_at}"

    def fresh(self, now: float, within_seconds: int) -> bool:
        """Whether it began no longer than `within_seconds` ago (the browser's cookie expiry aside). A start
        up to a minute ahead is allowed for: the API processes' clocks may differ that much."""
        return -CLOCK_SKEW_SECONDS <= now - self.started_at <= within_seconds

    def challenge(self) -> str:
        digest = hashlib.sha256(self.verifier.encode()).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorization_redirect(client: SignInClient, pending: PendingSignIn) -> str:
    """The provider's URL the browser is sent to."""
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_url,
        "scope": client.scope,
        "state": pending.state,
        "code_challenge": pending.challenge(),
        "code_challenge_method": "S256",
    }
    separator = "&" if "?" in client.authorization_url else "?"
    return f"{client.authorization_url}{separator}{urlencode(query)}"


class CodeRefused(Exception):
    """The provider would not give a token for the code; the message says why, in its own error code."""


def provider_error(code: object) -> str:
    """A provider's error code fit to show (OAuth's form: lowercase letters and underscores), or a general
    word when it is not one."""
    return code if isinstance(code, str) and _PROVIDER_ERROR.fullmatch(code) else "unspecified"


async def exchange_code(client: SignInClient, code: str, pending: PendingSignIn) -> str:
    """The access token the provider gives for `code`. `CodeRefused` when it answers with an error;
    an exception of aiohttp or `ValueError` when it cannot be reached or answers nonsense."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": client.redirect_url,
        "client_id": client.client_id,
        "code_verifier": pending.verifier,
    }
    headers = (
        {"Authorization": _basic_auth(client.client_id, client.client_secret)} if client.client_secret else {}
    )
    timeout = aiohttp.ClientTimeout(total=EXCHANGE_TIMEOUT_SECONDS)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.post(client.token_url, data=form, headers=headers, allow_redirects=False) as response,
    ):
        answer = await _json_answer(response)
    if response.status != 200:
        raise CodeRefused(provider_error(answer.get("error")))
    token = answer.get("access_token")
    if not isinstance(token, str) or not token:
        raise ValueError("the provider's answer holds no access token")
    return token


def _basic_auth(client_id: str, secret: str) -> str:
    """HTTP Basic as RFC 6749 section 2.3.1 has it: id and secret form-encoded first."""
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return f"Basic {base64.b64encode(pair).decode()}"


async def _json_answer(response: aiohttp.ClientResponse) -> dict[str, Any]:
    body = await bounded_body(response, MAX_ANSWER_BYTES)
    parsed: Any = orjson.loads(body) if body else {}
    return parsed if isinstance(parsed, dict) else {}
