"""/ready's warnings about a stalled pipeline: a role unheard, a consumer group stuck, the timer or the relay
behind. Each names the role and the figure and says what to look at; none names a run or a patient."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

from api.pipeline_health import OVERDUE_COUNT_CAP, PipelineHealth, RelayBacklog, TimerBacklog
from events.heartbeats import Heartbeat

WHAT_WAITS = {
    "api": "requests sent to it fail",
    "relay": "committed events are not published",
    "engine": "runs wait for it",
    "delivery": "messages are not sent",
    "timer": "due delays do not fire",
    "projector": "run status and stats fall behind",
    "audit": "the audit log falls behind",
    "analytics": "analytics files fall behind",
}
LOOK = "see whether its process runs, and its log"


def stall_warnings(health: PipelineHealth, stall_seconds: float) -> list[str]:
    """Every warning the facts call for, role by role, then the timer's and the relay's backlogs."""
    warnings: list[str] = []
    for role, rows in groupby(health.heartbeats or [], key=lambda row: row.role):
        warnings += _role_warnings(role, list(rows), stall_seconds)
    if health.timer is not None:
        warnings += _timer_warnings(health.timer, stall_seconds)
    if health.relay is not None:
        warnings += _relay_warnings(health.relay, stall_seconds)
    warnings += [f"pipeline check unavailable: {what}" for what in health.unavailable]
    return warnings


def live(rows: Sequence[Heartbeat], stall_seconds: float) -> list[Heartbeat]:
    """The instances heard from within the threshold."""
    return [row for row in rows if row.silent_seconds <= stall_seconds]


def running(rows: Sequence[Heartbeat]) -> list[Heartbeat]:
    """The instances not stopped as asked; all of them when every one was (the role then runs nowhere)."""
    return [row for row in rows if row.stopped_seconds is None] or list(rows)


def _role_warnings(role: str, rows: list[Heartbeat], stall_seconds: float) -> list[str]:
    """`rows`: the role's instances, the most recently heard first. Instances stopped as asked count only
    when no other is left: a role scaled down is fine, one stopped and never started again is not."""
    waits = WHAT_WAITS.get(role, "its work waits")
    rows = running(rows)
    if all(row.stopped_seconds is not None for row in rows):
        return _stopped_warnings(role, rows, stall_seconds, waits)
    heard = live(rows, stall_seconds)
    if not heard:
        last = rows[0]
        return [
            f"{role}: no instance heard from for {last.silent_seconds:.0f} s (last: {last.instance}); "
            f"{waits}; {LOOK}"
        ]
    warnings = [
        f"{role}: instance {row.instance} ({row.process_roles}) not heard from for "
        f"{row.silent_seconds:.0f} s; {len(heard)} other instance(s) heard from; {LOOK}"
        for row in rows
        if row not in heard
    ]
    for row in heard:
        behind, since = row.records_behind or 0, row.seconds_since_progress
        if behind > 0 and since is not None and since > stall_seconds:
            warnings.append(
                f"{role}: group {row.consumer_group} on {row.instance} is {behind} record(s) behind and "
                f"has made no progress for {since:.0f} s; {waits}; see that process's log (a batch "
                "retried, a lock, a slow dependency)"
            )
    return warnings


def _stopped_warnings(role: str, rows: list[Heartbeat], stall_seconds: float, waits: str) -> list[str]:
    last = min(rows, key=lambda row: row.stopped_seconds or 0.0)
    since = last.stopped_seconds or 0.0
    if since <= stall_seconds:
        return []  # a restart under way: the next process will beat
    return [
        f"{role}: stopped as asked {since:.0f} s ago ({last.instance}) and not running since; {waits}; "
        f"start it (`pjs run {role}`), or, retired for good, its rows go within an hour"
    ]


def _timer_warnings(timer: TimerBacklog, stall_seconds: float) -> list[str]:
    if timer.late_seconds is None or timer.late_seconds <= stall_seconds:
        return []
    count = f"{timer.overdue}{'+' if timer.overdue >= OVERDUE_COUNT_CAP else ''}"
    return [
        f"timer: {count} delay(s) due more than {stall_seconds:g} s ago not fired (the oldest due "
        f"{timer.late_seconds:.0f} s ago); runs sleep past their time; see whether a timer runs "
        "(`pjs run timer`), and its log"
    ]


def _relay_warnings(relay: RelayBacklog, stall_seconds: float) -> list[str]:
    if relay.waited_seconds is None or relay.waited_seconds <= stall_seconds:
        return []
    return [
        f"relay: committed events not published for {relay.waited_seconds:.0f} s (up to {relay.events} "
        "event(s)); runs wait for them; see whether a relay runs (`pjs run relay`) and leads, its log, "
        "and whether Kafka accepts its records"
    ]
