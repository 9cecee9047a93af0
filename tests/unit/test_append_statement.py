"""The append's one statement: writes alongside `append_events` keep their own parameters, renumbered."""

from __future__ import annotations

import pytest

from events.append_statement import AlongsideWrite, append_statement

APPEND_ARGS = list(range(14))  # append_events takes fourteen arguments


def test_an_append_without_writes_is_the_bare_function_call() -> None:
    statement, args = append_statement(APPEND_ARGS, [])

    assert statement.startswith("SELECT * FROM append_events(")
    assert args == APPEND_ARGS


def test_each_write_keeps_its_own_parameters_after_the_appends_and_the_writes_before_it() -> None:
    first = AlongsideWrite("INSERT INTO a SELECT $1, $2 FROM written_runs", ("a1", "a2"))
    second = AlongsideWrite(
        "INSERT INTO b SELECT $2, $1, $10, $3, $4, $5, $6, $7, $8, $9 FROM written_runs",
        tuple(f"b{n}" for n in range(1, 11)),
    )

    statement, args = append_statement(APPEND_ARGS, [first, second])

    assert "INSERT INTO a SELECT $15, $16 FROM written_runs" in statement
    assert "INSERT INTO b SELECT $18, $17, $26, $19," in statement
    assert args == [*APPEND_ARGS, "a1", "a2", *(f"b{n}" for n in range(1, 11))]
    assert args[17 - 1] == "b1" and args[26 - 1] == "b10"  # $17 is b's $1, $26 its $10
    assert statement.endswith("SELECT * FROM appended")


@pytest.mark.parametrize(
    ("sql", "args"),
    [
        ("INSERT INTO a SELECT $1, $2 FROM written_runs", ("one",)),  # a parameter with no value
        ("INSERT INTO a SELECT $1 FROM written_runs", ("one", "two")),  # a value with no parameter
        ("INSERT INTO a SELECT $2 FROM written_runs", ("one", "two")),  # $1 missing
    ],
)
def test_a_write_whose_parameters_do_not_match_its_values_is_refused(sql: str, args: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="parameters"):
        append_statement(APPEND_ARGS, [AlongsideWrite(sql, args)])
