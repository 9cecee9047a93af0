"""/ready's stall warnings from the facts: which role, which instance, what figure, what to look at."""

from __future__ import annotations

from api.pipeline_health import PipelineHealth, RelayBacklog, TimerBacklog
from api.stall_warnings import stall_warnings
from events.heartbeats import Heartbeat

STALL = 30.0


def beat(
    role: str, pid: int, silent: float, behind: int | None = None, since: float | None = None
) -> Heartbeat:
    group = f"pjs-{role}" if behind is not None else None
    return Heartbeat(role, "node-a", pid, role, group, silent, behind, since)


def warnings(
    *beats: Heartbeat, timer: TimerBacklog | None = None, relay: RelayBacklog | None = None
) -> list[str]:
    return stall_warnings(PipelineHealth(list(beats), timer, relay, []), STALL)


def test_every_role_heard_from_and_keeping_up_gives_no_warning() -> None:
    assert warnings(beat("engine", 1, 2.0, behind=40, since=1.0), beat("timer", 2, 4.0)) == []


def test_a_role_none_of_whose_instances_is_heard_from_names_the_last_one_heard() -> None:
    assert warnings(beat("engine", 7, 95.4), beat("engine", 8, 300.0)) == [
        "engine: no instance heard from for 95 s (last: node-a pid 7); runs wait for it; see whether its "
        "process runs, and its log"
    ]


def test_one_silent_instance_among_several_is_named_beside_those_still_heard() -> None:
    assert warnings(beat("delivery", 7, 1.0), beat("delivery", 8, 1.2), beat("delivery", 9, 64.0)) == [
        "delivery: instance node-a pid 9 (delivery) not heard from for 64 s; 2 other instance(s) heard "
        "from; see whether its process runs, and its log"
    ]


def test_a_member_behind_without_progress_is_named_but_not_one_that_is_idle_or_getting_on() -> None:
    assert warnings(
        beat("projector", 1, 1.0, behind=0, since=500.0),
        beat("projector", 2, 1.0, behind=9, since=2.0),
        beat("projector", 3, 1.0, behind=12, since=41.0),
    ) == [
        "projector: group pjs-projector on node-a pid 3 is 12 record(s) behind and has made no progress for "
        "41 s; run status and stats fall behind; see that process's log (a batch retried, a lock, a slow "
        "dependency)"
    ]


def test_a_timer_backlog_past_the_cap_says_so_and_one_due_just_now_is_not_a_backlog() -> None:
    assert warnings(timer=TimerBacklog(late_seconds=29.0, overdue=0)) == []
    assert warnings(timer=TimerBacklog(late_seconds=-5.0, overdue=0)) == []
    (late,) = warnings(timer=TimerBacklog(late_seconds=3600.0, overdue=10_000))
    assert late.startswith(
        "timer: 10000+ delay(s) due more than 30 s ago not fired (the oldest due 3600 s ago)"
    )


def test_a_check_that_could_not_run_is_named_rather_than_passed_over() -> None:
    health = PipelineHealth(None, None, RelayBacklog(None, 0), ["role heartbeats (TimeoutError)"])
    assert stall_warnings(health, STALL) == ["pipeline check unavailable: role heartbeats (TimeoutError)"]


def stopped(role: str, pid: int, seconds_ago: float) -> Heartbeat:
    return Heartbeat(role, "node-a", pid, role, None, seconds_ago, None, None, stopped_seconds=seconds_ago)


def test_a_role_stopped_as_asked_and_not_running_since_is_named_once_past_the_threshold() -> None:
    assert warnings(stopped("engine", 7, 12.0)) == []  # a restart under way
    assert warnings(stopped("engine", 7, 95.2), stopped("engine", 8, 400.0)) == [
        "engine: stopped as asked 95 s ago (node-a pid 7) and not running since; runs wait for it; start it "
        "(`pjs run engine`), or, retired for good, its rows go within an hour"
    ]


def test_an_instance_stopped_as_asked_beside_running_ones_is_a_scale_down_not_a_stall() -> None:
    assert warnings(stopped("engine", 7, 95.0), beat("engine", 8, 1.0)) == []
    assert warnings(stopped("engine", 7, 95.0), beat("engine", 8, 64.0)) == [
        "engine: no instance heard from for 64 s (last: node-a pid 8); runs wait for it; see whether its "
        "process runs, and its log"
    ]
