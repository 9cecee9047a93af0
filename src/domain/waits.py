"""When a run waits: a DELAY's resume instant in each form, and quiet hours before a MESSAGE.

Pure: every instant is computed from `now` and the patient's clock (domain.local_clock).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final
from zoneinfo import ZoneInfo

from domain.conditions import resolve
from domain.journey import MAX_DELAY_SECONDS, DelayNode, JourneyDefinition, MessageNode
from domain.local_clock import field_instant, next_local_time, parse_moment, patient_zone, quiet_until
from events.catalogue import DelayStarted, RunEvent, RunFailed

# Why a run waits, as DelayStarted.reason (None: a plain duration_seconds).
UNTIL_LOCAL_TIME: Final = "until_local_time"
UNTIL_FIELD: Final = "until_field"
MOMENT_PASSED: Final = "moment_already_past"
QUIET_HOURS: Final = "quiet_hours"


def start_delay(
    node: DelayNode, journey: JourneyDefinition, context: Mapping[str, Any], now: datetime
) -> RunEvent:
    """The DelayStarted for `node` at `now`, or RunFailed when its instant cannot be had."""
    zone = patient_zone(context, journey.timezone)
    try:
        if node.until_local_time is not None:
            resume_at = next_local_time(now, node.until_local_time, zone)
            return _wait(node.id, now, resume_at, UNTIL_LOCAL_TIME)
        if node.until_field is not None:
            moment = field_resume_at(node, context, zone, now)
            if isinstance(moment, FieldUnfit):
                return RunFailed(node_id=node.id, reason=_unfit_reason(node.until_field, moment))
            if moment <= now:
                return _wait(node.id, now, now, MOMENT_PASSED)
            return _wait(node.id, now, moment, UNTIL_FIELD)
        resume_at = now + timedelta(seconds=node.duration_seconds)
    except OverflowError:
        return RunFailed(node_id=node.id, reason="The delay ends beyond year 9999.")
    return DelayStarted(node_id=node.id, duration_seconds=node.duration_seconds, resume_at=resume_at)


class FieldUnfit(StrEnum):
    """Why an `until_field` DELAY cannot wait for what the context holds."""

    NOT_A_DATE = "not_a_date"  # missing, or not an ISO 8601 date or datetime
    OUT_OF_RANGE = "out_of_range"  # with the node's offset, more than MAX_DELAY_SECONDS from now


def field_resume_at(
    node: DelayNode, context: Mapping[str, Any], zone: ZoneInfo, now: datetime
) -> datetime | FieldUnfit:
    """The instant an `until_field` DELAY waits until, or why there is none.

    Held to the bound of every DELAY on either side of `now`: a date further ahead would park the run for
    centuries, one further back is a placeholder (0001-01-01), not an appointment; both may lie where the
    calendar ends once shifted into the patient's zone or by the offset.
    """
    assert node.until_field is not None
    try:
        moment = parse_moment(resolve(node.until_field, context), zone)
        if moment is None:
            return FieldUnfit.NOT_A_DATE
        resume_at = field_instant(moment, node.offset_seconds, node.at_local_time, zone)
    except OverflowError:
        return FieldUnfit.OUT_OF_RANGE
    if abs((resume_at - now).total_seconds()) > MAX_DELAY_SECONDS:
        return FieldUnfit.OUT_OF_RANGE
    return resume_at


def _unfit_reason(field: str, unfit: FieldUnfit) -> str:
    """RunFailed's reason: the field's path, never its value."""
    if unfit is FieldUnfit.NOT_A_DATE:
        return f"until_field {field} is missing or not an ISO 8601 date or datetime."
    return f"until_field {field} is more than 100 years from now (the bound of every DELAY)."


def quiet_wait(
    node: MessageNode, journey: JourneyDefinition, context: Mapping[str, Any], now: datetime
) -> DelayStarted | None:
    """A wait until the journey's quiet hours end, when `now` falls inside them on the patient's clock."""
    if journey.quiet_hours is None:
        return None
    until = quiet_until(now, journey.quiet_hours, patient_zone(context, journey.timezone))
    return None if until is None else _wait(node.id, now, until, QUIET_HOURS)


def _wait(node_id: str, now: datetime, resume_at: datetime, reason: str) -> DelayStarted:
    seconds = max((resume_at - now).total_seconds(), 0.0)
    return DelayStarted(node_id=node_id, duration_seconds=seconds, resume_at=resume_at, reason=reason)
