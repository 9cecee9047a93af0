"""Start one run in a test: `engine.batch_trigger.trigger_runs` with one item."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from engine.batch_trigger import BatchItem, ContextsSealer, ItemOutcome, trigger_runs
from engine.commands import JourneyNotFound, LatestJourneys
from engine.ports import RunAppends, RunHeads


async def trigger_run(
    store: RunAppends,
    heads: RunHeads,
    journeys: LatestJourneys,
    *,
    run_id: UUID,
    journey_id: UUID,
    patient_context: dict[str, Any],
    now: datetime,
    sealer: ContextsSealer,
) -> ItemOutcome | JourneyNotFound:
    """Start run `run_id` on the journey's latest version, or find it already started by an earlier try."""
    outcomes = await trigger_runs(
        store, heads, journeys,
        journey_id=journey_id, items=[BatchItem(run_id, patient_context)], now=now, sealer=sealer,
    )  # fmt: skip
    return outcomes if isinstance(outcomes, JourneyNotFound) else outcomes[0]
