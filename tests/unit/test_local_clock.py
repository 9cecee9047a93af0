"""The patient's clock: daylight saving resolved the documented way, over many zones and dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.local_clock import (
    QuietHours,
    field_instant,
    local_instant,
    next_local_time,
    parse_moment,
    quiet_until,
    zone_named,
)

ZONES = [
    "America/New_York",
    "Europe/Madrid",
    "Australia/Sydney",
    "Asia/Tokyo",
    "America/Santiago",
    "Australia/Lord_Howe",  # a 30-minute DST shift
    "Pacific/Chatham",
    "UTC",
]
zones = st.sampled_from(ZONES).map(ZoneInfo)
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31))
times = st.times().map(lambda t: t.replace(second=0, microsecond=0, tzinfo=None))
moments = st.datetimes(
    min_value=datetime(2000, 1, 2), max_value=datetime(2040, 12, 30), timezones=st.just(UTC)
)
NY = ZoneInfo("America/New_York")
MADRID = ZoneInfo("Europe/Madrid")
# Local midnight and the hour around it are where adding 24 h across a DST change lands on another date.
wall_times = st.one_of(times, st.sampled_from([time(0, 0), time(0, 30), time(23, 30)]))
whole_days = st.integers(min_value=-400, max_value=400)


@given(zones, days, times)
def test_a_local_time_that_exists_reads_back_as_itself_taking_the_first_of_two(
    zone: ZoneInfo, day: date, at: time
) -> None:
    instant = local_instant(day, at, zone)
    local = instant.astimezone(zone)
    wall = datetime.combine(day, at)
    if local.replace(tzinfo=None) == wall:
        # Ambiguous times take the first occurrence: an hour (or the shift) earlier reads differently.
        later = datetime.combine(day, at, tzinfo=zone).replace(fold=1).astimezone(UTC)
        assert instant <= later
    else:
        # A skipped time moves to the moment the clocks jump: just before it the wall clock read earlier.
        assert local.replace(tzinfo=None) > wall
        before = (instant - timedelta(seconds=1)).astimezone(zone).replace(tzinfo=None)
        assert before < wall


@given(zones, moments, times)
def test_the_next_local_time_is_strictly_after_now_and_within_a_day(
    zone: ZoneInfo, now: datetime, at: time
) -> None:
    resume = next_local_time(now, at, zone)
    assert now < resume <= now + timedelta(hours=26)
    local = resume.astimezone(zone)
    assert local.time().replace(tzinfo=None) == at or local.replace(tzinfo=None) > datetime.combine(
        local.date(), at
    )


@given(zones, moments, times, times)
def test_quiet_hours_end_outside_them_and_later(
    zone: ZoneInfo, now: datetime, start: time, end: time
) -> None:
    quiet = QuietHours(start, end)
    until = quiet_until(now, quiet, zone)
    if until is not None:
        assert until > now
        assert quiet_until(until, quiet, zone) is None


def test_spring_forward_and_fall_back_in_new_york() -> None:
    assert local_instant(date(2026, 3, 8), time(2, 30), NY) == datetime(
        2026, 3, 8, 7, 0, tzinfo=UTC
    )  # 03:00 EDT
    assert local_instant(date(2026, 11, 1), time(1, 30), NY) == datetime(
        2026, 11, 1, 5, 30, tzinfo=UTC
    )  # EDT


def test_eleven_at_night_waits_until_eight_and_noon_does_not_wait() -> None:
    quiet = QuietHours(time(21), time(8))
    assert quiet_until(datetime(2026, 3, 2, 4, 0, tzinfo=UTC), quiet, NY) == datetime(
        2026, 3, 2, 13, 0, tzinfo=UTC
    )
    assert quiet_until(datetime(2026, 3, 2, 17, 0, tzinfo=UTC), quiet, NY) is None


def test_the_day_before_an_appointment_at_nine_crosses_the_dst_change() -> None:
    appointment = parse_moment("2026-03-09T10:00:00", NY)
    assert appointment is not None
    assert field_instant(appointment, -86400, time(9), NY) == datetime(2026, 3, 8, 13, 0, tzinfo=UTC)
    assert parse_moment("2026-03-09", NY) == datetime(2026, 3, 9, 4, 0, tzinfo=UTC)
    assert parse_moment("2026-03-09T10:00:00+00:00", NY) == datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
    assert parse_moment("next tuesday", NY) is None


def test_unknown_and_path_like_zone_names_are_not_zones() -> None:
    assert zone_named("Mars/Olympus") is None and zone_named("../../etc/passwd") is None
    assert zone_named("Asia/Tokyo") is not None


@given(zones, days, wall_times, whole_days, times)
def test_an_offset_of_whole_days_moves_the_local_date_by_that_many_days(
    zone: ZoneInfo, day: date, at: time, offset_days: int, at_local_time: time
) -> None:
    moment = local_instant(day, at, zone)
    start = moment.astimezone(zone)

    resume = field_instant(moment, offset_days * 86400, at_local_time, zone).astimezone(zone)
    same_time = field_instant(moment, offset_days * 86400, None, zone).astimezone(zone)

    assert resume.date() == start.date() + timedelta(days=offset_days)
    assert same_time.date() == start.date() + timedelta(days=offset_days)
    # The wall-clock time is kept, unless the clocks skip it on that date (then the moment they jump).
    assert same_time.time() == start.time() or same_time.time() > start.time()


@given(zones, moments, st.floats(min_value=-86399, max_value=86399))
def test_an_offset_under_a_day_is_elapsed_time(zone: ZoneInfo, moment: datetime, seconds: float) -> None:
    assert field_instant(moment, seconds, None, zone) == moment + timedelta(seconds=seconds)


def test_an_offset_of_a_day_and_an_hour_is_an_hour_before_the_same_time_the_day_before() -> None:
    appointment = parse_moment("2027-03-28T10:00", MADRID)  # summer time since 02:00 that day
    assert appointment is not None
    # 10:00 winter time on the 27th, then an hour before: 25 hours back would be 07:00Z.
    assert field_instant(appointment, -90000, None, MADRID) == datetime(2027, 3, 27, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("appointment", "offset", "expected"),
    [
        ("2027-03-29", -86400, datetime(2027, 3, 28, 7, 0, tzinfo=UTC)),  # 09:00 CEST, the 28th
        ("2027-03-29T00:30", -86400, datetime(2027, 3, 28, 7, 0, tzinfo=UTC)),
        ("2027-03-29T10:00", -86400, datetime(2027, 3, 28, 7, 0, tzinfo=UTC)),
        ("2027-10-31", 86400, datetime(2027, 11, 1, 8, 0, tzinfo=UTC)),  # 09:00 CET, the 1st
        ("2027-10-30", 86400, datetime(2027, 10, 31, 8, 0, tzinfo=UTC)),  # 09:00 CET, the 31st
    ],
)
def test_the_docs_day_before_at_nine_in_madrid_lands_on_the_day_before_across_dst(
    appointment: str, offset: int, expected: datetime
) -> None:
    moment = parse_moment(appointment, MADRID)
    assert moment is not None
    assert field_instant(moment, offset, time(9), MADRID) == expected


@pytest.mark.parametrize(
    ("value", "zone"),
    [
        ("9999-12-31T23:59:59-14:00", NY),
        ("0001-01-01T00:00:00+01:00", NY),
        ("9999-12-31T23:59", NY),  # local: 04:59 UTC in the year 10000
        ("0001-01-01", ZoneInfo("Asia/Tokyo")),  # local midnight: 15:00 UTC in the year 0
    ],
)
def test_a_moment_beyond_the_calendar_raises_overflow_for_the_caller_to_refuse(
    value: str, zone: ZoneInfo
) -> None:
    with pytest.raises(OverflowError):
        parse_moment(value, zone)


def test_a_wait_computed_beyond_the_calendar_raises_overflow_for_the_caller_to_refuse() -> None:
    last_day = parse_moment("9999-12-31T12:00:00+00:00", NY)
    assert last_day is not None
    with pytest.raises(OverflowError):
        field_instant(last_day, 86400, None, NY)
    with pytest.raises(OverflowError):
        field_instant(last_day, 0, time(9), ZoneInfo("Pacific/Kiritimati"))  # already the 10000th year there
