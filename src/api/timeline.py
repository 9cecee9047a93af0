"""A run's timeline entries as the API shows them."""

from __future__ import annotations

from api.schemas import RunEventOut
from projections.run_timeline import TimelineEntry


def timeline_entry(entry: TimelineEntry) -> RunEventOut:
    return RunEventOut(
        type=entry.type,
        version=entry.version,
        recorded_at=entry.recorded_at,
        node_id=entry.node_id,
        data=entry.data,
    )
