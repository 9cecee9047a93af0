"""A stand-in for a clinic's identity provider: keys the test generates, published as a JWKS document by a
real HTTP server on 127.0.0.1, and access tokens signed with them."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from jwt.warnings import InsecureKeyLengthWarning

from pjs.settings import Settings
from support.loopback_server import StandInHandler, serving

ISSUER = "https://login.clinic.example/"
AUDIENCE = "pjs-api"


@dataclass
class SigningKey:
    key_id: str
    private: PrivateKeyTypes
    algorithm: str

    def public_jwk(self) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.algorithm)
        jwk: dict[str, Any] = json.loads(algorithm.to_jwk(self.private.public_key()))
        return {**jwk, "kid": self.key_id, "use": "sig", "alg": self.algorithm}


def rsa_key(key_id: str) -> SigningKey:
    return SigningKey(key_id, rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256")


def ec_key(key_id: str) -> SigningKey:
    return SigningKey(key_id, ec.generate_private_key(ec.SECP256R1()), "ES256")


CLIENT_ID = "pjs-run-explorer"


@dataclass(frozen=True)
class Grant:
    """A code the provider handed out at /authorize: for whom, and what its token will say."""

    redirect_uri: str
    challenge: str
    claims: dict[str, Any]


@dataclass
class IdentityProvider:
    """Publishes `published` at `jwks_url`; counts how often the document was fetched. Signs users in
    at `authorize_url` (at once, as `signed_in_claims` say) and exchanges their codes at `token_url`."""

    published: list[SigningKey]
    jwks_url: str = ""
    authorize_url: str = ""
    token_url: str = ""
    signed_in_claims: dict[str, Any] = field(default_factory=dict)
    client_secret: str | None = None
    token_error: Any = None  # set: the token endpoint answers 400 with this as its `error`
    asks_user: bool = False  # True: /authorize shows a page whose button the user clicks to go back
    grants: dict[str, Grant] = field(default_factory=dict)
    exchanges: list[dict[str, str]] = field(default_factory=list)
    fetches: int = 0
    available: bool = True
    padding_bytes: int = 0  # an entry of this size added to the document (one this service skips)
    in_pieces: int = 1  # >1: the document goes out in that many writes, 50 ms apart, as a slow network would
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def document(self) -> bytes | None:
        with self._lock:
            self.fetches += 1
            if not self.available:
                return None
            keys = [key.public_jwk() for key in self.published]
            if self.padding_bytes:
                keys.append({"kty": "oct", "kid": "padding", "k": "A" * self.padding_bytes})
            return json.dumps({"keys": keys}).encode()

    def authorize(self, query: dict[str, str]) -> str:
        """Where the browser goes next: back to the client with a fresh code (the user signed in)."""
        code = secrets.token_urlsafe(16)
        with self._lock:
            self.grants[code] = Grant(
                query["redirect_uri"], query["code_challenge"], dict(self.signed_in_claims)
            )
        return f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"

    def exchange(self, form: dict[str, str], authorization: str | None) -> tuple[int, dict[str, Any]]:
        """The token endpoint: a token for a code it handed out, to the client that asked for it."""
        with self._lock:
            self.exchanges.append(form)
            grant = self.grants.pop(form.get("code", ""), None)
        verifier = form.get("code_verifier", "").encode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
        if self.client_secret is not None and _basic_credentials(authorization) != (
            CLIENT_ID,
            self.client_secret,
        ):
            return 401, {"error": "invalid_client"}
        if self.token_error is not None:
            return 400, {"error": self.token_error}
        if grant is None or grant.challenge != challenge or grant.redirect_uri != form.get("redirect_uri"):
            return 400, {"error": "invalid_grant"}
        return 200, {"access_token": self.token(**grant.claims), "token_type": "Bearer", "expires_in": 300}

    def token(
        self, signed_with: SigningKey | None = None, *, with_key_id: bool = True, **overrides: Any
    ) -> str:
        """An access token of tenant `overrides['pjs_tenant']`, valid for five minutes unless overridden."""
        key = signed_with or self.published[0]
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "nurse-4711", "iat": now, "exp": now + 300}
        claims.update(overrides)
        claims = {name: value for name, value in claims.items() if value is not None}
        headers = {"kid": key.key_id} if with_key_id else None
        with warnings.catch_warnings():  # a test may sign with a key too short on purpose
            warnings.simplefilter("ignore", InsecureKeyLengthWarning)
            return jwt.encode(claims, key.private, algorithm=key.algorithm, headers=headers)  # type: ignore[arg-type]


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """Client id and secret from HTTP Basic as RFC 6749 section 2.3.1 has it (each form-encoded first)."""
    if authorization is None or not authorization.startswith("Basic "):
        return None
    client_id, _, secret = base64.b64decode(authorization.removeprefix("Basic ")).decode().partition(":")
    return unquote_plus(client_id), unquote_plus(secret)


def _approval_page(next_url: str) -> bytes:
    link = f'<a id="continue" href="{html.escape(next_url)}">Continue</a>'
    return f"<!doctype html><title>Sign in</title>{link}".encode()


@contextmanager
def identity_provider(*keys: SigningKey) -> Iterator[IdentityProvider]:
    provider = IdentityProvider(list(keys))

    class Handler(StandInHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if self.path.startswith("/authorize"):
                query = {name: values[0] for name, values in parse_qs(urlsplit(self.path).query).items()}
                back = provider.authorize(query)
                page = _approval_page(back) if provider.asks_user else b""
                self.send_response(200 if provider.asks_user else 302)
                self.send_header("Location", back)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)
                return
            body = provider.document() or b"{}"
            self.send_response(200 if provider.available else 503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.end_headers()
            size = -(-len(body) // provider.in_pieces)
            for start in range(0, len(body), size):
                piece = body[start : start + size]
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                self.wfile.flush()
                if provider.in_pieces > 1:
                    time.sleep(0.05)
            self.wfile.write(b"0\r\n\r\n")

        def do_POST(self) -> None:
            form = {name: values[0] for name, values in parse_qs(self.request_body().decode()).items()}
            self.answer_json(*provider.exchange(form, self.headers.get("Authorization")))

    with serving(Handler) as base_url:
        provider.jwks_url = f"{base_url}/.well-known/jwks.json"
        provider.authorize_url = f"{base_url}/authorize"
        provider.token_url = f"{base_url}/token"
        yield provider


def signing_in_with(
    provider: IdentityProvider, settings: Settings, redirect_url: str, **more: Any
) -> Settings:
    """`settings` with `provider` trusted for the tenant st-mary and the run explorer its client, coming
    back to `redirect_url`; `more` overrides any of it."""
    return settings.model_copy(
        update={
            "oidc_issuer": ISSUER,
            "oidc_audience": AUDIENCE,
            "oidc_jwks_url": provider.jwks_url,
            "oidc_tenants": ["st-mary"],
            "oidc_client_id": CLIENT_ID,
            "oidc_authorization_url": provider.authorize_url,
            "oidc_token_url": provider.token_url,
            "oidc_redirect_url": redirect_url,
            **more,
        }
    )
