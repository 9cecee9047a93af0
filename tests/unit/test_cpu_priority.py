"""Processes without the api lower their CPU priority; the api's keeps the one it was started with; a process
of the read side alone yields by default.

Each case runs in a child process: a process cannot raise its own priority back without privileges.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pjs.cpu_priority import in_own_cpu_group
from pjs.settings import Settings


def _niceness_after(
    roles: list[str], worker_niceness: int, started_at: int = 0, read_side_niceness: int = 0
) -> tuple[int, int]:
    """(what `yield_cpu_to_api` answered, the child's niceness after it), in a child started at
    `started_at` above this process's niceness."""
    script = (
        "import os\n"
        "from pjs.cpu_priority import yield_cpu_to_api\n"
        f"answered = yield_cpu_to_api({roles!r}, {worker_niceness}, {read_side_niceness})\n"
        "print(answered, os.getpriority(os.PRIO_PROCESS, 0))\n"
    )
    command = ["nice", "-n", str(started_at), sys.executable, "-c", script]
    same_modules = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}  # the code under test, not another
    answer = subprocess.run(command, capture_output=True, text=True, check=True, env=same_modules)
    output = answer.stdout.split()
    return int(output[0]), int(output[1])


def _own_niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, 0)


def test_a_worker_process_runs_at_the_worker_niceness() -> None:
    expected = max(_own_niceness(), 5)
    assert _niceness_after(["engine"], 5) == (expected, expected)
    assert _niceness_after(["relay", "engine", "delivery", "timer"], 7) == (max(_own_niceness(), 7),) * 2


def test_the_api_process_keeps_the_priority_it_was_started_with() -> None:
    assert _niceness_after(["api"], 5) == (_own_niceness(), _own_niceness())


def test_a_process_started_nicer_than_the_setting_stays_as_nice() -> None:
    started = min(_own_niceness() + 10, 19)
    assert _niceness_after(["engine"], 5, started_at=10) == (started, started)


def test_by_default_workers_run_as_started() -> None:
    workers, read_side = Settings().worker_niceness, Settings().read_side_niceness
    after = _niceness_after(["engine"], workers, read_side_niceness=read_side)
    assert after == (_own_niceness(), _own_niceness())


def test_by_default_a_process_of_the_read_side_alone_yields_the_cpu() -> None:
    workers, read_side = Settings().worker_niceness, Settings().read_side_niceness
    expected = max(_own_niceness(), 10)

    for roles in (["projector"], ["audit"], ["analytics"], ["projector", "audit", "analytics"]):
        after = _niceness_after(roles, workers, read_side_niceness=read_side)
        assert after == (expected, expected)


def test_a_process_with_a_role_on_the_runs_path_does_not_take_the_read_sides_niceness() -> None:
    together = ["relay", "engine", "delivery", "timer", "projector", "audit", "analytics"]
    assert _niceness_after(together, 0, read_side_niceness=10) == (_own_niceness(), _own_niceness())
    assert _niceness_after(["api", "projector"], 5, read_side_niceness=10) == (_own_niceness(),) * 2


def test_the_read_side_takes_the_worker_niceness_when_that_is_higher() -> None:
    expected = max(_own_niceness(), 12)
    assert _niceness_after(["audit"], 12, read_side_niceness=10) == (expected, expected)


@pytest.mark.parametrize("niceness", ["-1", "20"])
def test_a_niceness_outside_0_to_19_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, niceness: str
) -> None:
    monkeypatch.setenv("PJS_WORKER_NICENESS", niceness)
    with pytest.raises(ValueError, match="worker_niceness"):
        Settings()


@pytest.mark.parametrize(
    ("roles", "setting", "own_group"),
    [
        (["api"], True, True),
        (["api"], False, False),
        (["relay", "engine", "delivery", "timer"], True, False),
        (["projector"], True, False),
    ],
)
def test_only_the_apis_process_gets_a_cpu_group_of_its_own_and_only_when_asked(
    roles: list[str], setting: bool, own_group: bool
) -> None:
    assert in_own_cpu_group(roles, setting) is own_group


def test_by_default_the_api_shares_the_supervisors_cpu_group() -> None:
    assert Settings().api_own_cpu_group is False
