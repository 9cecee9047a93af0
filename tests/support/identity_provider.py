"""A stand-in for a clinic's identity provider: keys the test generates, published as a JWKS document by a
real HTTP server on 127.0.0.1, and access tokens signed with them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from support.loopback_server import serving

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


@dataclass
class IdentityProvider:
    """Publishes `published` at `jwks_url`; counts how often the document was fetched."""

    published: list[SigningKey]
    jwks_url: str = ""
    fetches: int = 0
    available: bool = True
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def document(self) -> bytes | None:
        with self._lock:
            self.fetches += 1
            if not self.available:
                return None
            return json.dumps({"keys": [key.public_jwk() for key in self.published]}).encode()

    def token(self, signed_with: SigningKey | None = None, **overrides: Any) -> str:
        """An access token of tenant `overrides['pjs_tenant']`, valid for five minutes unless overridden."""
        key = signed_with or self.published[0]
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "nurse-4711", "iat": now, "exp": now + 300}
        claims.update(overrides)
        claims = {name: value for name, value in claims.items() if value is not None}
        return jwt.encode(claims, key.private, algorithm=key.algorithm, headers={"kid": key.key_id})  # type: ignore[arg-type]


@contextmanager
def identity_provider(*keys: SigningKey) -> Iterator[IdentityProvider]:
    provider = IdentityProvider(list(keys))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = provider.document()
            self.send_response(200 if body is not None else 503)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body or b"{}")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serving(Handler) as base_url:
        provider.jwks_url = f"{base_url}/.well-known/jwks.json"
        yield provider
