"""Bulk fast path for patient keys: each patient's data key made and wrapped as the key store makes it.

`events.patient_keys.PostgresPatientKeys.live_key` makes one data key per patient (AES-256, wrapped by the
master key ring, filed under the patient's keyed pseudonym) and `events.patient_vault.PatientVault` seals
the RunStarted context with it. Here the same is done in memory, for a `patient_keys` row to COPY with the
runs, so bulk-loaded runs carry contexts sealed exactly as a trigger seals them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import uuid4

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from events.catalogue import Sealed
from events.key_ring import KeyRing
from events.patient_vault import PATIENT_CONTEXT
from events.sealing import seal

PATIENT_KEYS_COLUMNS = ("key_id", "patient_ref", "wrapped_key", "master_key_id", "created_at")


@dataclass(frozen=True)
class SealedPatient:
    """A patient's context sealed with a fresh data key, and the key store's row for that key."""

    context: Sealed
    key_row: tuple[Any, ...]


def sealed_patient(ring: KeyRing, context: Mapping[str, Any], created_at: datetime) -> SealedPatient:
    """The patient's first run: a new live data key, wrapped by the ring's current master key."""
    key_id, secret = uuid4(), AESGCM.generate_key(256)
    row = (key_id, ring.patient_ref(str(context["id"])), ring.wrap(key_id, secret), ring.current, created_at)
    return SealedPatient(seal(dict(context), key_id, secret, PATIENT_CONTEXT), row)
