"""The patient's clock: IANA zones, local times of day, quiet hours and daylight saving, as pure functions.

Daylight saving rules: a local time that does not exist (spring forward) moves to the first valid instant
after it, the moment the clocks jump; an ambiguous one (fall back) takes its first occurrence.

Instants lie within years 1 to 9999 (Python's calendar): these functions raise OverflowError when a value,
or what they compute from it, would fall beyond them; the caller refuses it (`waits.field_resume_at`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_LOCAL_TIME: Final = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_DAY: Final = timedelta(days=1)


@dataclass(frozen=True)
class QuietHours:
    """Local times between which no message is sent: [start, end), across midnight when end <= start."""

    start: time
    end: time


@lru_cache(maxsize=512)
def zone_named(name: str) -> ZoneInfo | None:
    """The IANA zone of this name, or None when there is none (or the name is not a plain zone key)."""
    if not name or name.startswith(("/", ".")) or ".." in name or "\\" in name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def parse_local_time(text: object) -> time | None:
    """ "HH:MM" (24-hour) as a time of day, or None when it is not one."""
    if not isinstance(text, str):
        return None
    found = _LOCAL_TIME.match(text)
    return None if found is None else time(int(found.group(1)), int(found.group(2)))


def format_local_time(at: time) -> str:
    return f"{at.hour:02d}:{at.minute:02d}"


def patient_zone(context: Mapping[str, Any], journey_timezone: str | None) -> ZoneInfo:
    """The patient's `timezone`, else the journey's, else UTC (names were checked at trigger and save)."""
    for name in (context.get("timezone"), journey_timezone):
        zone = zone_named(name) if isinstance(name, str) else None
        if zone is not None:
            return zone
    return ZoneInfo("UTC")


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock `at` on `day` in `zone`, by the daylight saving rules above."""
    naive = datetime.combine(day, at)
    first = naive.replace(tzinfo=zone, fold=0)
    if _exists(first):
        return first.astimezone(UTC)
    # In a gap the wall time is skipped: fold=0 reads it with the offset before the jump, which lands after
    # the jump; the first valid instant after the skipped time is the transition itself.
    return _transition_before(first.astimezone(UTC), zone)


def next_local_time(after: datetime, at: time, zone: ZoneInfo) -> datetime:
    """The first instant strictly after `after` at which the patient's clock reads `at` (or would, by DST)."""
    day = after.astimezone(zone).date() - _DAY
    while True:
        candidate = local_instant(day, at, zone)
        if candidate > after:
            return candidate
        day += _DAY


def quiet_until(moment: datetime, quiet: QuietHours, zone: ZoneInfo) -> datetime | None:
    """When quiet hours that hold at `moment` end (UTC), or None when `moment` is outside them."""
    if quiet.start == quiet.end:
        return None
    local = moment.astimezone(zone)
    today = local.date()
    for start_day in (today - _DAY, today):
        start = local_instant(start_day, quiet.start, zone)
        end_day = start_day if quiet.end > quiet.start else start_day + _DAY
        end = local_instant(end_day, quiet.end, zone)
        if start <= moment < end:
            return end
    return None


def parse_moment(value: object, zone: ZoneInfo) -> datetime | None:
    """An ISO 8601 date or datetime from the context as a UTC instant; a date or naive time is local.
    None when it is not one; OverflowError when its instant lies beyond years 1 to 9999
    ("9999-12-31T23:59-14:00")."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is not None:
            return parsed.astimezone(UTC)
        return local_instant(parsed.date(), parsed.time(), zone)
    except ValueError:
        return None


def field_instant(
    moment: datetime, offset_seconds: float, at_local_time: time | None, zone: ZoneInfo
) -> datetime:
    """`moment` shifted by `offset_seconds`, then (if given) set to `at_local_time` on that local day.

    Whole days of the offset move the patient's calendar date and keep the wall-clock time, so -86400 is
    "the day before" even across a daylight saving change (a day of 23 or 25 hours); the rest of the offset
    (under a day, same sign) is then added as elapsed time: -90000 is an hour before that. Raises
    OverflowError when the result lies beyond year 9999 (or before year 1)."""
    days = int(offset_seconds / _DAY.total_seconds())  # toward zero: -1.5 days is a day, then 12 hours
    shifted = moment
    if days:
        local = moment.astimezone(zone)
        shifted = local_instant(local.date() + timedelta(days=days), local.time(), zone)
    shifted += timedelta(seconds=offset_seconds) - days * _DAY
    if at_local_time is None:
        return shifted
    return local_instant(shifted.astimezone(zone).date(), at_local_time, zone)


def _exists(local: datetime) -> bool:
    """True when the wall time survives a round trip through UTC (it is not in a spring-forward gap)."""
    back = local.astimezone(UTC).astimezone(local.tzinfo)
    return back.replace(tzinfo=None) == local.replace(tzinfo=None)


def _transition_before(instant: datetime, zone: ZoneInfo) -> datetime:
    """The last change of `zone`'s UTC offset at or before `instant`, searched within a day, to the second."""
    offset = instant.astimezone(zone).utcoffset()
    low, high = instant - _DAY, instant
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == offset:
            high = middle
        else:
            low = middle
    # Offsets change on whole seconds: the change is the one whole second in (low, high].
    return low.replace(microsecond=0) + timedelta(seconds=1)
