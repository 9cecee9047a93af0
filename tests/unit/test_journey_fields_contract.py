"""The lists of fields a posted journey may hold (domain.journey_fields) are the request models' fields
(api.schemas, what the OpenAPI document shows) and what a journey reads back as: a field added to one and
not the others would be refused when posted, undocumented, or lost on the way back."""

from __future__ import annotations

from datetime import time

import pytest
from pydantic import BaseModel

from api import schemas
from domain.journey import (
    Condition,
    ConditionalNode,
    DelayNode,
    JourneyDefinition,
    MessageNode,
    NodeType,
)
from domain.journey_fields import CONDITION_FIELDS, JOURNEY_FIELDS, NODE_FIELDS, QUIET_HOURS_FIELDS
from domain.local_clock import QuietHours
from domain.validation import validate_journey


def fields_of(model: type[BaseModel]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


@pytest.mark.parametrize(
    ("model", "listed"),
    [
        (schemas.JourneyIn, JOURNEY_FIELDS),
        (schemas.QuietHours, QUIET_HOURS_FIELDS),
        (schemas.Condition, CONDITION_FIELDS),
        (schemas.MessageNode, NODE_FIELDS[NodeType.MESSAGE]),
        (schemas.DelayNode, NODE_FIELDS[NodeType.DELAY]),
        (schemas.ConditionalNode, NODE_FIELDS[NodeType.CONDITIONAL]),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else "",
)
def test_the_documented_request_model_has_exactly_the_fields_a_posted_journey_may_hold(
    model: type[BaseModel], listed: tuple[str, ...]
) -> None:
    assert fields_of(model) == set(listed)


def test_a_journey_using_every_field_reads_back_as_a_journey_that_can_be_posted_again() -> None:
    everything = JourneyDefinition(
        name="Every field",
        start_node_id="hello",
        timezone="Europe/Madrid",
        quiet_hours=QuietHours(start=time(21, 0), end=time(8, 0)),
        nodes=(
            MessageNode("hello", "Hi", "later", translations=(("es", "Hola"),), channel="log"),
            DelayNode(
                "later",
                next_node_id="check",
                until_field="patient.appointment_at",
                offset_seconds=-86400,
                at_local_time=time(9, 0),
            ),
            ConditionalNode("check", Condition("age", "gt", 65), "bye", None),
            MessageNode("bye", "Bye"),
        ),
    )

    assert validate_journey(everything.to_json_dict()) == everything
