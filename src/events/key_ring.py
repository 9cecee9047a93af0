"""The master key file: the keys that wrap every patient's data key, and the secret of patient pseudonyms.

The file (PJS_MASTER_KEY_FILE, mode 0600) is JSON: {"current": id, "master_keys": {id: base64},
"pseudonym_secret": base64}. Rotation adds a new current master key and keeps the old ones until every data
key has been re-wrapped; only then are they dropped. The pseudonym secret never rotates: live keys are filed
under patient references computed with it (scoped to the tenant by the key store). A destroyed key keeps
only an erasure reference, keyed by the master key current at the erasure, so the rotation that drops
that master key unlinks it for good.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_NONCE_BYTES = 12
_ERASURE_INFO = b"pjs patient erasure reference"


class KeyRingError(Exception):
    """The master key file is missing, unreadable, or does not hold the key a data key was wrapped with."""


@dataclass(frozen=True)
class KeyRing:
    """Master keys by id (`current` wraps new data keys) and the pseudonym secret."""

    current: str
    master_keys: dict[str, bytes]
    pseudonym_secret: bytes = field(repr=False)
    # Each master key's cipher, made at its first use: making one costs more than the wrap it serves.
    _ciphers: dict[str, AESGCM] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __repr__(self) -> str:
        return f"KeyRing(current={self.current!r}, master_keys={sorted(self.master_keys)})"

    def patient_ref(self, patient_id: str) -> str:
        """The keyed pseudonym the key store files a patient's keys under (HMAC-SHA256, hex)."""
        return hmac.new(self.pseudonym_secret, patient_id.encode(), hashlib.sha256).hexdigest()

    def erasure_refs(self, tenant_id: UUID, patient_id: str) -> dict[str, str]:
        """The patient's erasure reference under each master key the ring holds, by master key id: an
        HMAC-SHA256 of tenant and patient id keyed by that master key (HKDF), computable while it exists."""
        message = f"{tenant_id}:{patient_id}".encode()
        return {
            master_key_id: hmac.new(_erasure_key(master), message, hashlib.sha256).hexdigest()
            for master_key_id, master in self.master_keys.items()
        }

    def wrap(self, key_id: UUID, data_key: bytes) -> bytes:
        """The data key encrypted under the current master key, bound to its key id."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return nonce + self._cipher(self.current).encrypt(nonce, data_key, key_id.bytes)

    def unwrap(self, master_key_id: str, key_id: UUID, wrapped: bytes) -> bytes:
        nonce, sealed = wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:]
        return self._cipher(master_key_id).decrypt(nonce, sealed, key_id.bytes)

    def _cipher(self, master_key_id: str) -> AESGCM:
        cipher = self._ciphers.get(master_key_id)
        if cipher is None:
            master = self.master_keys.get(master_key_id)
            if master is None:
                raise KeyRingError(f"master key {master_key_id} is not in the master key file")
            cipher = self._ciphers[master_key_id] = AESGCM(master)
        return cipher

    def rotated(self) -> KeyRing:
        """A ring with a new current master key, the old ones kept for unwrapping."""
        new_id = _new_key_id()
        return KeyRing(new_id, {**self.master_keys, new_id: AESGCM.generate_key(256)}, self.pseudonym_secret)

    def ring(self) -> KeyRing:
        """A ring is its own fixed source of keys (`events.key_ring_file.MasterKeys`)."""
        return self

    def ring_with(self, master_key_id: str) -> KeyRing:
        return self

    def only_current(self) -> KeyRing:
        return KeyRing(self.current, {self.current: self.master_keys[self.current]}, self.pseudonym_secret)


def _erasure_key(master: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_ERASURE_INFO).derive(master)


def _new_key_id() -> str:
    return f"mk-{secrets.token_hex(8)}"


def new_key_ring() -> KeyRing:
    key_id = _new_key_id()
    return KeyRing(key_id, {key_id: AESGCM.generate_key(256)}, secrets.token_bytes(32))


def load_key_ring(path: Path) -> KeyRing:
    try:
        raw = orjson.loads(path.read_bytes())
        keys = {key_id: base64.b64decode(value) for key_id, value in raw["master_keys"].items()}
        ring = KeyRing(raw["current"], keys, base64.b64decode(raw["pseudonym_secret"]))
    except FileNotFoundError:
        raise KeyRingError(
            f"no master key file at {path} (PJS_MASTER_KEY_FILE): restore it from where it is kept (your "
            "backup or secret store). Do not create a new one unless this is a new development setup: a new "
            "key cannot open the patient data sealed with the old one"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise KeyRingError(f"the master key file {path} cannot be read ({type(error).__name__})") from None
    if ring.current not in ring.master_keys:
        raise KeyRingError(f"the master key file {path} lacks its current key")
    return ring


def save_key_ring(path: Path, ring: KeyRing) -> None:
    """Write the ring atomically (a temporary file renamed over the old one), readable by the owner only."""
    document = {
        "current": ring.current,
        "master_keys": {key_id: base64.b64encode(key).decode() for key_id, key in ring.master_keys.items()},
        "pseudonym_secret": base64.b64encode(ring.pseudonym_secret).decode(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(orjson.dumps(document))
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def ensure_key_ring(path: Path) -> KeyRing:
    """The ring at `path`, created (mode 0600) if there is none: for development and tests only."""
    if not path.exists():
        save_key_ring(path, new_key_ring())
    return load_key_ring(path)


def ensure_secret(path: Path) -> bytes:
    """A 32-byte secret kept in `path` (mode 0600), made on first use; a concurrent maker's file wins."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return base64.b64decode(path.read_bytes())
    with os.fdopen(descriptor, "wb") as file:
        secret = secrets.token_bytes(32)
        file.write(base64.b64encode(secret))
        file.flush()
        os.fsync(file.fileno())
    return secret
