"""Field-level encryption of patient data: JSON values sealed with a patient's data key (AES-256-GCM)."""

from __future__ import annotations

import base64
import secrets
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from events.catalogue import Sealed

_NONCE_BYTES = 12


class UnreadableSealedValue(Exception):
    """A sealed value that does not open with its key (tampered with, or sealed for another purpose)."""


def seal(value: Any, key_id: Any, data_key: bytes, purpose: str) -> Sealed:
    """`value` as JSON, encrypted; `purpose` (e.g. "patient_context") is authenticated, not stored."""
    nonce = secrets.token_bytes(_NONCE_BYTES)
    ciphertext = AESGCM(data_key).encrypt(nonce, orjson.dumps(value), purpose.encode())
    return Sealed(key_id=key_id, ciphertext=base64.b64encode(nonce + ciphertext).decode())


def open_sealed(sealed: Sealed, data_key: bytes, purpose: str) -> Any:
    """The value `seal` sealed; a wrong key, purpose or altered ciphertext is `UnreadableSealedValue`."""
    try:
        raw = base64.b64decode(sealed.ciphertext, validate=True)
        plain = AESGCM(data_key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], purpose.encode())
    except (ValueError, InvalidTag):
        raise UnreadableSealedValue(f"sealed {purpose} with key {sealed.key_id} does not open") from None
    return orjson.loads(plain)
