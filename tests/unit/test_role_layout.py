"""Which roles a process runs: `pjs run` takes one role or several; `pjs dev --together` groups workers."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from pjs.cli import app
from pjs.dev import process_layout
from pjs.role_metrics import serves_own_metrics
from pjs.roles import ROLES, event_loop_factory, process_name, roles_problem
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
        (list(ROLES), None),
        (["engine", "nope"], "unknown role 'nope'"),
        ([], "unknown role"),
        (["timer", "engine", "timer"], "role 'timer' named more than once"),
    ],
)
def test_a_list_of_roles_is_checked_before_anything_starts(roles: list[str], problem: str | None) -> None:
    found = roles_problem(roles)
    assert found == problem if problem is None else found is not None and found.startswith(problem)


@pytest.mark.parametrize("arguments", [["nope"], ["engine", "engine"], []])
def test_pjs_run_refuses_an_unknown_or_repeated_role_with_exit_code_2(arguments: list[str]) -> None:
    result = CliRunner().invoke(app, ["run", *arguments])

    assert result.exit_code == 2
    assert "role" in result.output.lower()


def test_a_process_with_the_api_runs_on_uvloop_and_serves_no_metrics_port_of_its_own() -> None:
    with_port = Settings(role_metrics_port=9300)

    assert event_loop_factory(["api", "engine"]) is not None
    assert event_loop_factory(["relay", "engine"]) is None
    assert not serves_own_metrics(["api", "engine"], with_port)
    assert serves_own_metrics(["relay", "engine"], with_port)
