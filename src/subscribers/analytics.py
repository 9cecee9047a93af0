"""The analytics subscriber: one newline-delimited JSON file per day, ready for a notebook.

Each line is one run event: {"event_id", "run_id", "type", "node_id", "version", "recorded_at", ...its
payload fields}. RunStarted lines carry journey_id and journey_version: join other lines to them on run_id.
No patient context is written: analysts count journeys and nodes, not people.
Delivery is at least once; a line can repeat after a crash, so dedupe on event_id
(`pandas.read_json(path, lines=True).drop_duplicates("event_id")`).
"""

from __future__ import annotations

import asyncio
import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import orjson

from events.catalogue import RecordedEvent, node_of
from events.codec import payload_dict
from events.consumer_group import GroupConfig, GroupLoop
from events.dead_letters import DeadLetterStore


class DailyFiles:
    """Appends events to <directory>/run-events-YYYY-MM-DD.ndjson by recorded day (UTC), fsynced per batch."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    async def write(self, events: Sequence[RecordedEvent]) -> None:
        lines: dict[str, list[bytes]] = defaultdict(list)
        for event in events:
            lines[event.recorded_at.date().isoformat()].append(self._line(event))
        await asyncio.to_thread(self._append, lines)

    def path_for(self, day: str) -> Path:
        return self._directory / f"run-events-{day}.ndjson"

    @staticmethod
    def _line(event: RecordedEvent) -> bytes:
        payload = payload_dict(event.event)
        payload.pop("patient_context", None)
        row = {
            "event_id": str(event.event_id),
            "run_id": str(event.run_id),
            "type": event.event.type,
            "node_id": node_of(event.event),
            "version": event.version,
            "recorded_at": event.recorded_at.isoformat(),
            **payload,
        }
        return orjson.dumps(row) + b"\n"

    def _append(self, lines: dict[str, list[bytes]]) -> None:
        self._directory.mkdir(parents=True, exist_ok=True)
        for day, day_lines in sorted(lines.items()):
            with self.path_for(day).open("ab") as file:
                file.write(b"".join(day_lines))
                file.flush()
                os.fsync(file.fileno())


async def run_analytics(
    config: GroupConfig, directory: Path, dead_letters: DeadLetterStore, stop: asyncio.Event
) -> None:
    """The analytics role: its own consumer group; offsets are committed after the lines are fsynced."""
    await GroupLoop(config, DailyFiles(directory).write, dead_letters).run(stop)
