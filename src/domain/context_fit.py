"""What a patient context must hold for a journey, checked when a run is triggered: the addresses its
channels send to, the dates its waits count from, and the kinds of value its conditions compare."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

from domain.conditions import compared_kinds, is_missing, resolve
from domain.journey import ConditionalNode, DelayNode, JourneyDefinition, MessageNode
from domain.json_values import describe
from domain.local_clock import parse_moment, patient_zone
from domain.validation import Problem

# Matched against the whole value (fullmatch): `$` would let a trailing newline through; ASCII digits
# only, as `\d` takes any script's digits.
_E164: Final = re.compile(r"\+[1-9][0-9]{6,14}")
_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
ADDRESS_FIELDS: Final = {"sms": "phone", "email": "email"}


def context_problems(journey: JourneyDefinition, context: Mapping[str, Any]) -> list[Problem]:
    """Everything the context lacks for this journey, one problem per field (the first found).

    A message never names the field's value, only its kind: the context is the patient's data.
    """
    problems: dict[str, Problem] = {}
    found = (*_address_problems(journey, context), *_wait_problems(journey, context))
    for problem in (*found, *_condition_problems(journey, context)):
        problems.setdefault(problem.path, problem)
    return list(problems.values())


def _address_problems(journey: JourneyDefinition, context: Mapping[str, Any]) -> Iterator[Problem]:
    for node in journey.nodes:
        if isinstance(node, MessageNode) and node.channel in ADDRESS_FIELDS:
            field = ADDRESS_FIELDS[node.channel]
            value = context.get(field)
            pattern = _E164 if field == "phone" else _EMAIL
            if not isinstance(value, str) or pattern.fullmatch(value) is None:
                kind = "a phone number in E.164 (+15551234567)" if field == "phone" else "an email address"
                yield Problem(field, f"This journey sends by {node.channel}: {field} must be {kind}.")


def _wait_problems(journey: JourneyDefinition, context: Mapping[str, Any]) -> Iterator[Problem]:
    zone = patient_zone(context, journey.timezone)
    for node in journey.nodes:
        waits_for = node.until_field if isinstance(node, DelayNode) else None
        if waits_for is not None and parse_moment(resolve(waits_for, context), zone) is None:
            path = waits_for.removeprefix("patient.")
            yield Problem(path, "This journey waits for this field: an ISO 8601 date or datetime.")


def _condition_problems(journey: JourneyDefinition, context: Mapping[str, Any]) -> Iterator[Problem]:
    """A field the journey's conditions compare with one kind of value (a number, say) that the context
    holds as another (text): every such comparison would be false, and the run would take the false
    branch with no one told. A missing or null field is not a problem: the false branch is its meaning."""
    kinds_by_field: dict[str, set[str]] = {}
    nodes_by_field: dict[str, list[str]] = {}
    for node in journey.nodes:
        if isinstance(node, ConditionalNode) and compared_kinds(node.condition):
            field = node.condition.field
            kinds_by_field.setdefault(field, set()).update(compared_kinds(node.condition))
            nodes_by_field.setdefault(field, []).append(node.id)
    for field, kinds in kinds_by_field.items():
        actual = resolve(field, context)
        if is_missing(actual) or actual is None or describe(actual) in kinds:
            continue
        expected = " or ".join(sorted(kinds))
        nodes = ", ".join(nodes_by_field[field])
        yield Problem(
            field.removeprefix("patient."),
            f"This journey compares this field with {expected} (node {nodes}), so it must be {expected}, "
            f"not {describe(actual)}.",
        )
