"""HMAC-SHA256 signatures of HTTP bodies: on what we send to providers, and on the receipts they send us."""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

SIGNATURE_HEADER: Final = "X-Pjs-Signature"
_PREFIX: Final = "sha256="


def sign(secret: str, body: bytes) -> str:
    """The header value signing `body`: "sha256=" and the hex HMAC-SHA256 of the exact bytes."""
    return _PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    """True when `header` is the signature of `body` with `secret` (compared in constant time)."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)
