"""The asynchronous read models the projector group keeps (and replay can rebuild)."""

from __future__ import annotations

from events.projection import Projection
from projections import journey_stats, run_timeline

READ_MODELS: tuple[Projection, ...] = (
    Projection("run_timeline", run_timeline.TABLES, run_timeline.apply, inline=False),
    Projection("journey_stats", journey_stats.TABLES, journey_stats.apply, inline=False),
)
