"""A run's timeline entries as the API shows them, patient data opened for the authorised reader.

RunStarted's context and MessageRequested's rendered text are sealed in the store; both are opened in
memory here, and read as null once the patient was erased.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from api.schemas import RunEventOut
from events.catalogue import Sealed
from events.patient_vault import PatientVault, stored_context
from projections.run_timeline import TimelineEntry


async def timeline_entries(entries: Sequence[TimelineEntry], vault: PatientVault) -> list[RunEventOut]:
    """Entries with RunStarted's context and each message's text opened in memory."""
    stored = {
        i: stored_context(entry.data.get("patient_context"))
        for i, entry in enumerate(entries)
        if entry.type == "RunStarted"
    }
    opened = await vault.open_contexts(stored)
    texts = await vault.open_texts(
        {
            i: _text(entry.data.get("message"))
            for i, entry in enumerate(entries)
            if entry.type == "MessageRequested"
        }
    )
    return [
        RunEventOut(
            type=entry.type,
            version=entry.version,
            recorded_at=entry.recorded_at,
            node_id=entry.node_id,
            data=_opened(entry.data, opened.get(i), i in opened, texts.get(i), i in texts),
        )
        for i, entry in enumerate(entries)
    ]


def _text(raw: object) -> Sealed | str | None:
    if isinstance(raw, dict):
        return Sealed.model_validate(raw)
    return raw if isinstance(raw, str) else None


def _opened(
    data: dict[str, Any], context: object, has_context: bool, text: str | None, has_text: bool
) -> dict[str, Any]:
    if has_context:
        return {**data, "patient_context": context}
    if has_text:
        return {**data, "message": text}
    return data
