"""Which roles a process runs: `pjs run` takes one role or several; `pjs dev --together` groups workers."""

from __future__ import annotations

import asyncio

import pytest
from typer.testing import CliRunner

from pjs import process
from pjs.cli import app
from pjs.dev import process_layout
from pjs.process import process_name, roles_problem
from pjs.role_metrics import serves_own_metrics
from pjs.roles import ROLES, event_loop_factory, group_config
from pjs.settings import Settings

WORKERS = [role for role in ROLES if role != "api"]


def test_each_role_runs_in_its_own_process_by_default() -> None:
    assert process_layout(list(ROLES), together=False) == [[role] for role in ROLES]


def test_together_the_api_runs_alone_and_every_worker_shares_one_process() -> None:
    assert process_layout(list(ROLES), together=True) == [["api"], WORKERS]
    assert process_layout(["relay", "engine"], together=True) == [["relay", "engine"]]
    assert process_layout(["api"], together=True) == [["api"]]


def test_a_process_is_named_after_its_roles() -> None:
    assert process_name(["engine"]) == "engine"
    assert process_name(["relay", "engine", "timer"]) == "relay+engine+timer"


@pytest.mark.parametrize(
    ("roles", "problem"),
    [
        (["engine"], None),
        (WORKERS, None),
        (["engine", "nope"], "unknown role 'nope'"),
        ([], "unknown role"),
        (["timer", "engine", "timer"], "role 'timer' named more than once"),
        (["api", "engine"], "the api runs in a process of its own"),
    ],
)
def test_a_list_of_roles_is_checked_before_anything_starts(roles: list[str], problem: str | None) -> None:
    found = roles_problem(roles)
    assert found == problem if problem is None else found is not None and found.startswith(problem)


@pytest.mark.parametrize("arguments", [["nope"], ["engine", "engine"], [], ["api", "relay"]])
def test_pjs_run_refuses_an_unknown_or_repeated_role_with_exit_code_2(arguments: list[str]) -> None:
    result = CliRunner().invoke(app, ["run", *arguments])

    assert result.exit_code == 2
    assert "role" in result.output.lower() or "api" in result.output


def test_the_api_runs_on_uvloop_and_serves_no_metrics_port_of_its_own_unlike_workers_together() -> None:
    with_port = Settings(role_metrics_port=9300)

    assert event_loop_factory(["api"]) is not None
    assert event_loop_factory(["relay", "engine"]) is None
    assert not serves_own_metrics(["api"], with_port)
    assert serves_own_metrics(["relay", "engine"], with_port)


class _Roles:
    """Stand-in roles for the process's stop semantics: each records whether it saw the stop."""

    def __init__(self) -> None:
        self.stopped: set[str] = set()

    async def obedient(self, _settings: Settings, stop: asyncio.Event) -> None:
        await stop.wait()
        self.stopped.add("obedient")

    async def failing(self, _settings: Settings, _stop: asyncio.Event) -> None:
        await asyncio.sleep(0.01)
        raise ValueError("broken at start")

    async def stubborn(self, _settings: Settings, _stop: asyncio.Event) -> None:
        await asyncio.sleep(3600)

    async def cancelled_unasked(self, _settings: Settings, _stop: asyncio.Event) -> None:
        await asyncio.sleep(0.01)
        raise asyncio.CancelledError


@pytest.fixture
def fake_roles(monkeypatch: pytest.MonkeyPatch) -> _Roles:
    roles = _Roles()
    for name in ("obedient", "failing", "stubborn", "cancelled_unasked"):
        monkeypatch.setitem(process.ROLES, name, getattr(roles, name))
    return roles


SHORT = Settings(shutdown_seconds=0.2)


async def test_a_failing_role_stops_its_process_mate_and_its_failure_is_raised(fake_roles: _Roles) -> None:
    with pytest.raises(ValueError, match="broken at start"):
        await process.run_until_stopped(["obedient", "failing"], SHORT, asyncio.Event())

    assert fake_roles.stopped == {"obedient"}


async def test_a_stop_stops_every_role_and_a_stubborn_one_is_abandoned_at_the_bound(
    fake_roles: _Roles,
) -> None:
    stop = asyncio.Event()
    stop.set()

    assert await process.run_until_stopped(["obedient"], SHORT, stop) is True
    assert (
        await process.run_until_stopped(["obedient", "stubborn"], SHORT, stop) is False
    )  # abandoned, no error


async def test_a_role_cancelled_by_something_else_is_a_failure_not_a_clean_stop(fake_roles: _Roles) -> None:
    with pytest.raises(RuntimeError, match="role cancelled_unasked was cancelled"):
        await process.run_until_stopped(["obedient", "cancelled_unasked"], SHORT, asyncio.Event())

    assert fake_roles.stopped == {"obedient"}


def test_the_read_side_groups_wait_longer_per_fetch_than_the_groups_on_a_runs_path() -> None:
    settings = Settings(
        kafka_bootstrap="127.0.0.1:1", consumer_fetch_max_wait_ms=40, consumer_read_side_fetch_max_wait_ms=300
    )

    on_the_path = group_config(settings, "engine", 500)
    read_side = group_config(settings, "audit", 1000, read_side=True)

    assert (on_the_path.fetch_max_wait_ms, read_side.fetch_max_wait_ms) == (40, 300)
    assert read_side.fetch_min_bytes == on_the_path.fetch_min_bytes == settings.consumer_fetch_min_bytes


def test_a_read_side_fetch_wait_beyond_half_a_second_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PJS_CONSUMER_READ_SIDE_FETCH_MAX_WAIT_MS", "5000")
    with pytest.raises(ValueError, match="consumer_read_side_fetch_max_wait_ms"):
        Settings()
