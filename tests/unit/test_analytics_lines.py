"""The analytics day files mix every clinic's runs; each line names its clinic, so a file can be split."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import orjson

from events.catalogue import RecordedEvent
from events.tenancy import DEFAULT_TENANT_ID
from subscribers.analytics import DailyFiles
from support.runs import delay, envelopes, run_started


def recorded_run(tenant_id: UUID | None) -> list[RecordedEvent]:
    run_id = uuid.uuid4()
    return [
        RecordedEvent(**dict(new), position=position, tenant_id=tenant_id)
        for position, new in enumerate(envelopes(run_id, 0, [run_started(), delay()]), start=1)
    ]


async def test_each_line_names_its_clinic_so_a_day_file_splits_into_one_per_clinic(tmp_path: Path) -> None:
    north, south = uuid.uuid4(), uuid.uuid4()
    runs = {north: recorded_run(north), south: recorded_run(south), DEFAULT_TENANT_ID: recorded_run(None)}
    files = DailyFiles(tmp_path, b"s" * 32, retention_days=30, clock=lambda: datetime(2026, 1, 2, tzinfo=UTC))

    await files.write([event for events in runs.values() for event in events])

    per_clinic: dict[str, set[str]] = defaultdict(set)
    for line in files.path_for("2026-01-01").read_bytes().splitlines():
        row = orjson.loads(line)
        per_clinic[row["tenant"]].add(row["event"])
    assert per_clinic == {
        str(tenant): {files.pseudonym("event", event.event_id) for event in events}
        for tenant, events in runs.items()
    }
