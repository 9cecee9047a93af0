"""Seals a patient context before it is appended and opens stored ones in memory, for the few that must read.

Only the trigger (seal), the engine (conditions, templates), delivery (the addresses a channel needs) and
the API's authorised reads open contexts. A context whose key was destroyed opens as None: erased.
Rendered messages name the patient: the engine seals them with the same key (`seal_texts_many`); delivery and
the timeline open them (`open_texts`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Final, NamedTuple, TypeVar
from uuid import UUID

from pydantic import TypeAdapter

from events.catalogue import PatientContext, Sealed
from events.key_ring_file import MasterKeys
from events.patient_keys import KeysReadOnce, PatientKeys, PatientRefs
from events.sealing import open_sealed, seal

K = TypeVar("K")

PATIENT_CONTEXT: Final = "patient_context"
MESSAGE_TEXT: Final = "message"

StoredContext = Sealed | Mapping[str, Any] | None
"""A context as stored: sealed, legacy clear (appended before sealing), or None once scrubbed."""


_stored_context: TypeAdapter[Sealed | dict[str, Any]] = TypeAdapter(PatientContext)


def stored_context(raw: object) -> StoredContext:
    """A context read back as JSON (a row, a timeline entry): sealed, legacy clear, or None."""
    return None if raw is None else _stored_context.validate_python(raw)


class TextsToSeal(NamedTuple):
    """One run's rendered texts, to seal with the key of its context (`key_id`) or its patient's live key."""

    context: Mapping[str, Any]
    key_id: UUID | None
    texts: Sequence[str]


class SealedContexts(NamedTuple):
    """Contexts sealed in order, and the ids of the data keys made to seal them (their patients' first)."""

    contexts: list[Sealed]
    made_keys: frozenset[UUID]


class PatientVault:
    """The patient keys and the key ring, behind the two operations the service needs."""

    def __init__(self, keys: PatientKeys, master_keys: MasterKeys) -> None:
        self.keys = keys
        self._master_keys = master_keys

    def for_batch(self) -> PatientVault:
        """This vault for one batch's work: each data key is read from the store once (`KeysReadOnce`)."""
        return PatientVault(KeysReadOnce(self.keys), self._master_keys)

    def patient_ref(self, patient_id: str) -> str:
        """The patient's keyed pseudonym: the key store files their keys under it, scoped to the tenant."""
        return self._master_keys.ring().patient_ref(patient_id)

    def patient(self, tenant_id: UUID, patient_id: str) -> PatientRefs:
        """Every reference the tenant's patient's keys, live or destroyed, may be found by."""
        ring = self._master_keys.ring()
        return PatientRefs(
            ring.patient_ref(patient_id), ring.erasure_refs(tenant_id, patient_id), ring.current
        )

    async def seal_context(self, context: Mapping[str, Any]) -> Sealed:
        """The context sealed with its patient's live data key (made on the patient's first run)."""
        return (await self.seal_contexts([context])).contexts[0]

    async def seal_contexts(self, contexts: Sequence[Mapping[str, Any]]) -> SealedContexts:
        """`seal_context` for many contexts, with one key-store round trip for all their patients."""
        refs = [self.patient_ref(str(context.get("id", ""))) for context in contexts]
        keys = await self.keys.live_keys(refs)
        sealed = [
            seal(dict(context), keys[ref].key_id, keys[ref].secret, PATIENT_CONTEXT)
            for context, ref in zip(contexts, refs, strict=True)
        ]
        return SealedContexts(sealed, frozenset(key.key_id for key in keys.values() if key.made))

    async def discard_made_keys(self, key_ids: Collection[UUID]) -> None:
        """Delete keys `seal_contexts` made in this transaction whose contexts are not kept (`PatientKeys.
        discard_made`): the patient is not filed under a key that seals nothing."""
        await self.keys.discard_made(key_ids)

    async def open_contexts(self, stored: Mapping[K, StoredContext]) -> dict[K, dict[str, Any] | None]:
        """Each context in clear, with one key-store read for all; None where the key was destroyed."""
        sealed = {k: v for k, v in stored.items() if isinstance(v, Sealed)}
        keys = await self.keys.data_keys({value.key_id for value in sealed.values()})
        opened: dict[K, dict[str, Any] | None] = {}
        for k, value in stored.items():
            if isinstance(value, Sealed):
                key = keys.get(value.key_id)
                opened[k] = None if key is None else open_sealed(value, key.secret, PATIENT_CONTEXT)
            else:
                opened[k] = None if value is None else dict(value)
        return opened

    async def open_context(self, stored: StoredContext) -> dict[str, Any] | None:
        return (await self.open_contexts({0: stored}))[0]

    async def seal_texts_many(self, batch: Sequence[TextsToSeal]) -> list[list[Sealed] | None]:
        """Each run's rendered texts sealed with the key of its context (`key_id`), or for a legacy clear
        context (no `key_id`) its patient's live key; one key-store read for all the runs' keys.

        None for a run whose context's key was destroyed after the context was opened (the patient was
        erased meanwhile): its texts are not sealed at all, since a new key made for them would file the
        erased patient again."""
        wanted = {item.key_id for item in batch if item.texts and item.key_id is not None}
        keys = await self.keys.data_keys(wanted)
        sealed: list[list[Sealed] | None] = []
        for context, key_id, texts in batch:
            if not texts:
                sealed.append([])
                continue
            key = keys.get(key_id) if key_id is not None else None
            if key is None and key_id is None:
                key = await self.keys.live_key(self.patient_ref(str(context.get("id", ""))))
            sealed.append(
                None if key is None else [seal(t, key.key_id, key.secret, MESSAGE_TEXT) for t in texts]
            )
        return sealed

    async def open_texts(self, stored: Mapping[K, Sealed | str | None]) -> dict[K, str | None]:
        """Each message text in clear (a legacy clear one as it is); None where the key was destroyed."""
        sealed = {k: v for k, v in stored.items() if isinstance(v, Sealed)}
        keys = await self.keys.data_keys({value.key_id for value in sealed.values()})
        opened: dict[K, str | None] = {}
        for k, value in stored.items():
            if isinstance(value, Sealed):
                key = keys.get(value.key_id)
                opened[k] = None if key is None else str(open_sealed(value, key.secret, MESSAGE_TEXT))
            else:
                opened[k] = value
        return opened
