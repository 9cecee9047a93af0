"""Which errors are the store's (every caller's, a 503) and which are one request's values (a 400)."""

from __future__ import annotations

import asyncpg

from api.errors import item_failure, store_failure
from engine.commands import RunContended


def test_a_value_a_column_cannot_hold_is_the_requests_own_fault_not_the_stores() -> None:
    # asyncpg raises its client-side DataError, an InterfaceError, for an argument out of a column's range
    unstorable = asyncpg.exceptions._base.DataError("invalid input for query argument $1: 10**30")
    assert isinstance(unstorable, asyncpg.InterfaceError)

    assert not store_failure(unstorable)
    assert not store_failure(asyncpg.DataError("value out of range"))


def test_a_lost_or_contended_store_is_every_callers_failure() -> None:
    assert store_failure(asyncpg.InterfaceError("connection is closed"))
    assert store_failure(ConnectionResetError())
    assert store_failure(RunContended("the run kept changing"))


def test_a_batch_item_whose_value_cannot_be_stored_gets_the_400_a_single_trigger_gets() -> None:
    answer = item_failure(
        asyncpg.exceptions._base.DataError("out of range"), "POST /journeys/{id}/trigger-batch"
    )

    assert answer.status_code == 400
    assert "cannot be stored" in answer.message
