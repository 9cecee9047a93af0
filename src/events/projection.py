"""What a projection is to the projector and to replay: its name, its tables, how it applies events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from events.catalogue import RecordedEvent
from events.pg import Connection

TableNames = Mapping[str, str]
"""Base table name -> the table to write: itself when live, a fresh copy during a rebuild."""

ApplyEvents = Callable[[Connection, Sequence[RecordedEvent], TableNames], Awaitable[None]]


@dataclass(frozen=True)
class Projection:
    """A table set built from run events; idempotent by (run id, version), so replay can rebuild it."""

    name: str
    tables: tuple[str, ...]
    apply: ApplyEvents
    inline: bool  # True: written in the append transaction; False: fed by the projector group

    def live_tables(self) -> TableNames:
        return {table: table for table in self.tables}
