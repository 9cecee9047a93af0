"""The projections that run inside every append transaction, in order."""

from __future__ import annotations

from events.store import InlineProjection
from projections import delays, deliveries, run_status

INLINE_PROJECTIONS: tuple[InlineProjection, ...] = (run_status.apply, delays.apply, deliveries.apply)
