"""Every projection the system keeps, with its tables, so the projector and replay treat them alike."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from events.catalogue import RecordedEvent
from events.pg import Connection
from projections import delays, journey_stats, run_status, run_timeline

TableNames = Mapping[str, str]
"""Base table name -> the table to write: itself when live, a fresh copy during a rebuild."""

Apply = Callable[[Connection, Sequence[RecordedEvent], TableNames], Awaitable[None]]


@dataclass(frozen=True)
class Projection:
    name: str
    tables: tuple[str, ...]
    apply: Apply
    inline: bool  # True: written in the append transaction; False: fed by the projector group


async def _run_status(connection: Connection, events: Sequence[RecordedEvent], names: TableNames) -> None:
    await run_status.apply(connection, events, names[run_status.TABLE])


async def _delays(connection: Connection, events: Sequence[RecordedEvent], names: TableNames) -> None:
    await delays.apply(connection, events, names[delays.TABLE], notify=False)


PROJECTIONS: dict[str, Projection] = {
    projection.name: projection
    for projection in (
        Projection("run_status", (run_status.TABLE,), _run_status, inline=True),
        Projection("delays", (delays.TABLE,), _delays, inline=True),
        Projection("run_timeline", run_timeline.TABLES, run_timeline.apply, inline=False),
        Projection("journey_stats", journey_stats.TABLES, journey_stats.apply, inline=False),
    )
}

PROJECTED_BY_GROUP = tuple(p for p in PROJECTIONS.values() if not p.inline)
