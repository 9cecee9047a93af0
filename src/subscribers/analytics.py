"""The analytics subscriber: de-identified run events, one newline-delimited JSON file per day.

Each line is one run event: {"event", "run", "tenant", "type", "node_id", "version", "hour", ...}. One day's
file holds every clinic's lines: `tenant` (the clinic's tenant id, as `ce_pjstenantid` says; not patient
data) lets it be split per clinic before any of it is shared. `run` and `event` are keyed pseudonyms
(HMAC-SHA256 with the analytics secret, PJS_ANALYTICS_PSEUDONYM_KEY_FILE), never the ids the API knows;
RunStarted lines add `patient` (a pseudonym of the patient's data key, so runs of one patient can be
counted together), journey_id and journey_version: join other lines to them on `run`.
Times are coarsened to the hour, durations too (`"format": 2`; lines without `format` held exact
durations, which with `hour` gave back a date a wait counted to).
No patient context, message text, condition result or free-text reason is
written: analysts count journeys and nodes, not people. Files are the owner's only (0600) and deleted after
PJS_ANALYTICS_RETENTION_DAYS. Delivery is at least once; dedupe on `event`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import orjson

from events.catalogue import RecordedEvent, RunStarted, Sealed, node_of
from events.consumer_group import GroupLoop
from events.dead_letters import DeadLetterStore
from events.group_config import GroupConfig
from events.tenancy import DEFAULT_TENANT_ID

# Payload fields that say nothing about the patient; everything else is left out.
_KEPT_FIELDS: Final = ("journey_id", "journey_version", "attempts", "duration_seconds", "channel")
LINE_FORMAT: Final = 2  # 2: duration_seconds rounded to whole hours
_HOUR_SECONDS: Final = 3600
Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


_DAY_FILE: Final = re.compile(r"run-events-(\d{4}-\d{2}-\d{2})\.ndjson")


class DailyFiles:
    """Appends de-identified lines to <directory>/run-events-YYYY-MM-DD.ndjson by UTC day, fsynced."""

    def __init__(self, directory: Path, secret: bytes, retention_days: int, clock: Clock = _now) -> None:
        self._directory = directory
        self._secret = secret
        self._retention = timedelta(days=retention_days)
        self._clock = clock

    async def write(self, events: Sequence[RecordedEvent]) -> None:
        lines: dict[str, list[bytes]] = defaultdict(list)
        for event in events:
            lines[event.recorded_at.date().isoformat()].append(self._line(event))
        await asyncio.to_thread(self._append, lines, self._clock())

    def path_for(self, day: str) -> Path:
        return self._directory / f"run-events-{day}.ndjson"

    def pseudonym(self, kind: str, value: object) -> str:
        return hmac.new(self._secret, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:32]

    def _line(self, event: RecordedEvent) -> bytes:
        payload: dict[str, Any] = event.event.model_dump(mode="json", include=set(_KEPT_FIELDS))
        if payload.get("duration_seconds") is not None:
            payload["duration_seconds"] = round(payload["duration_seconds"] / _HOUR_SECONDS) * _HOUR_SECONDS
        row = {
            "format": LINE_FORMAT,
            "event": self.pseudonym("event", event.event_id),
            "run": self.pseudonym("run", event.run_id),
            "tenant": str(event.tenant_id or DEFAULT_TENANT_ID),
            "type": event.event.type,
            "node_id": node_of(event.event),
            "version": event.version,
            "hour": _hour(event.recorded_at),
            **payload,
        }
        if isinstance(event.event, RunStarted) and isinstance(event.event.patient_context, Sealed):
            row["patient"] = self.pseudonym("patient", event.event.patient_context.key_id)
        return orjson.dumps(row) + b"\n"

    def _append(self, lines: dict[str, list[bytes]], now: datetime) -> None:
        self._directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        for day, day_lines in sorted(lines.items()):
            descriptor = os.open(self.path_for(day), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(descriptor, "ab") as file:
                file.write(b"".join(day_lines))
                file.flush()
                os.fsync(file.fileno())
        self.remove_expired(now)

    def remove_expired(self, now: datetime) -> list[Path]:
        """Delete the day files older than the retention period; the ones removed."""
        oldest_kept = (now - self._retention).date()
        removed = []
        for path in self._directory.glob("run-events-*.ndjson"):
            match = _DAY_FILE.fullmatch(path.name)
            if match and date.fromisoformat(match.group(1)) < oldest_kept:
                path.unlink(missing_ok=True)
                removed.append(path)
        return removed


def _hour(moment: datetime) -> str:
    return moment.replace(minute=0, second=0, microsecond=0).isoformat()


async def run_analytics(
    config: GroupConfig, files: DailyFiles, dead_letters: DeadLetterStore, stop: asyncio.Event
) -> None:
    """The analytics role: its own consumer group; offsets are committed after the lines are fsynced."""
    await GroupLoop(config, files.write, dead_letters).run(stop)
