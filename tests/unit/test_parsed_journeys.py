"""Parsed journeys: a stored text is validated once while it fits the budget, an invalid one every time
it is read, and the budget counts the text kept, oldest use out first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import orjson
import pytest

from engine.journey_repository import ParsedJourneys, StoredJourneyInvalid


def row(name: str, *, valid: bool = True, version: int = 1) -> dict[str, Any]:
    """A journeys row as the repository selects it (`definition::text`)."""
    nodes = [{"id": "hello", "type": "MESSAGE", "message": f"Hello from {name}.", "next_node_id": None}]
    definition = {"name": name, "start_node_id": "hello" if valid else "missing", "nodes": nodes}
    return {
        "journey_id": uuid4(),
        "version": version,
        "definition": orjson.dumps(definition).decode(),
        "created_at": datetime.now(UTC),
    }


def test_a_text_read_again_is_not_validated_again() -> None:
    parsed = ParsedJourneys()
    first = row("Reminder")
    same_text_elsewhere = {**row("Reminder"), "definition": first["definition"], "version": 3}

    (a, digest), (b, same_digest) = parsed.parse(first), parsed.parse(same_text_elsewhere)

    assert a is b and digest == same_digest
    assert parsed.definition(digest) is a


def test_a_stored_journey_that_no_longer_validates_is_refused_on_every_read() -> None:
    parsed = ParsedJourneys()
    invalid = row("Broken", valid=False)
    for _ in range(2):
        with pytest.raises(StoredJourneyInvalid):
            parsed.parse(invalid)


def test_the_budget_counts_text_and_drops_the_least_recently_read_first() -> None:
    one, two, six = row("One"), row("Two"), row("Six")  # texts of one length
    parsed = ParsedJourneys(max_text_bytes=2 * len(one["definition"]) + 1)  # room for two of them
    (kept_one, one_digest), (_, two_digest) = parsed.parse(one), parsed.parse(two)

    assert parsed.definition(one_digest) is kept_one  # read last: two is now the oldest use
    parsed.parse(six)

    assert parsed.definition(one_digest) is kept_one
    assert parsed.definition(two_digest) is None  # dropped: its next read validates it anew
