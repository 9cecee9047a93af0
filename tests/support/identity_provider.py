"""A stand-in for a clinic's identity provider: keys the test generates, published as a JWKS document by a
real HTTP server on 127.0.0.1, and access tokens signed with them."""

from __future__ import annotations

import json
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from jwt.warnings import InsecureKeyLengthWarning

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


@contextmanager
def identity_provider(*keys: SigningKey) -> Iterator[IdentityProvider]:
    provider = IdentityProvider(list(keys))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
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

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serving(Handler) as base_url:
        provider.jwks_url = f"{base_url}/.well-known/jwks.json"
        yield provider
