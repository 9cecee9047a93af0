"""Which batches write their run_status rows in the append's own statement: only those whose every
request says its run's state before it (a new run's is empty; a running run's is the caller's read)."""

from __future__ import annotations

import uuid

from domain.run_state import fold
from engine.run_status import folded_alongside
from events.catalogue import RunCancelled
from events.store import AppendRequest
from support.runs import envelopes, run_started

CANCEL = RunCancelled(node_id=None, reason="test")


def started(run: uuid.UUID) -> AppendRequest:
    return AppendRequest(run, 0, envelopes(run, 0, [run_started()]))


def test_a_batch_of_new_runs_is_written_alongside() -> None:
    write = folded_alongside([started(uuid.uuid4()), started(uuid.uuid4())])

    assert write is not None
    assert len(write.args[0]) == 2  # a row per run


def test_a_running_run_with_the_state_read_at_the_expected_version_is_written_alongside() -> None:
    run = uuid.uuid4()
    read = fold(run, started(run).events)

    write = folded_alongside([AppendRequest(run, 1, envelopes(run, 1, [CANCEL]), prior=read)])

    assert write is not None
    assert write.args[1] == [2] and write.args[2] == ["cancelled"]  # versions, statuses


def test_a_batch_with_a_running_run_and_no_state_for_it_is_left_to_the_projection_after_the_append() -> None:
    run = uuid.uuid4()

    assert (
        folded_alongside([started(uuid.uuid4()), AppendRequest(run, 1, envelopes(run, 1, [CANCEL]))]) is None
    )


def test_a_state_at_another_version_than_the_request_expects_is_not_trusted() -> None:
    run = uuid.uuid4()
    read = fold(run, started(run).events)  # version 1

    assert folded_alongside([AppendRequest(run, 2, envelopes(run, 2, [CANCEL]), prior=read)]) is None


def test_a_batch_naming_a_run_twice_is_left_to_the_projection_after_the_append() -> None:
    run = uuid.uuid4()

    assert folded_alongside([started(run), started(run)]) is None
