"""The write-side tables the workers decide from, written inside every append transaction.

`run_status` (each run's head state) and `delays` can be rebuilt by replay; `message_deliveries` holds
operational state (claims, leases) and is not rebuilt.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine import delays, message_deliveries, run_status
from events.catalogue import RecordedEvent
from events.pg import Connection
from events.projection import Projection, TableNames
from events.store import InlineProjection

INLINE_PROJECTIONS: tuple[InlineProjection, ...] = (
    run_status.RunStatusProjection(),
    delays.apply,
    message_deliveries.apply,
)
"""Run inside every append transaction, in this order."""


async def _run_status(connection: Connection, events: Sequence[RecordedEvent], names: TableNames) -> None:
    await run_status.apply(connection, events, names[run_status.TABLE])


async def _delays(connection: Connection, events: Sequence[RecordedEvent], names: TableNames) -> None:
    await delays.apply(connection, events, names[delays.TABLE], notify=False)


WRITE_MODELS: tuple[Projection, ...] = (
    Projection("run_status", (run_status.TABLE,), _run_status, inline=True),
    Projection("delays", (delays.TABLE,), _delays, inline=True),
)
"""The inline tables replay can rebuild."""
