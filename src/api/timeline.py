"""A run's timeline entries as the API shows them, the patient context opened for the authorised reader."""

from __future__ import annotations

from collections.abc import Sequence

from api.schemas import RunEventOut
from events.patient_vault import PatientVault, stored_context
from projections.run_timeline import TimelineEntry


async def timeline_entries(entries: Sequence[TimelineEntry], vault: PatientVault) -> list[RunEventOut]:
    """Entries with RunStarted's context opened in memory; null once the patient was erased."""
    stored = {
        i: stored_context(entry.data.get("patient_context"))
        for i, entry in enumerate(entries)
        if entry.type == "RunStarted"
    }
    opened = await vault.open_contexts(stored)
    return [
        RunEventOut(
            type=entry.type,
            version=entry.version,
            recorded_at=entry.recorded_at,
            node_id=entry.node_id,
            data={**entry.data, "patient_context": opened[i]} if i in opened else entry.data,
        )
        for i, entry in enumerate(entries)
    ]
