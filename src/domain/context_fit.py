"""What a patient context must hold for a journey, checked when a run is triggered: the addresses its
channels send to, the dates its waits count from, and the kinds of value its conditions compare."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, NamedTuple

from domain.conditions import compared_kinds, is_missing, resolve
from domain.journey import ConditionalNode, DelayNode, JourneyDefinition, MessageNode
from domain.json_values import describe
from domain.local_clock import patient_zone
from domain.validation import Problem
from domain.waits import FieldUnfit, field_resume_at

# Matched against the whole value (fullmatch): `$` would let a trailing newline through; ASCII digits
# only, as `\d` takes any script's digits.
_E164: Final = re.compile(r"\+[1-9][0-9]{6,14}")
_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
ADDRESS_FIELDS: Final = {"sms": "phone", "email": "email"}


class _Compared(NamedTuple):
    """A field the journey's conditions compare, the kinds of value they compare it with, and where."""

    field: str
    kinds: frozenset[str]
    node_ids: tuple[str, ...]


@dataclass(frozen=True)
class ContextFit:
    """What one journey asks of every patient context, gathered once (`context_fit`) for all its triggers."""

    timezone: str | None
    channels: tuple[str, ...]
    waits: tuple[DelayNode, ...]  # the `until_field` DELAYs
    compared: tuple[_Compared, ...]

    def problems(self, context: Mapping[str, Any], now: datetime) -> list[Problem]:
        """Everything the context lacks at `now`, one problem per field (the first found). A message never
        names the field's value, only its kind: the context is the patient's data."""
        found: dict[str, Problem] = {}
        for problem in (*self._address_problems(context), *self._wait_problems(context, now)):
            found.setdefault(problem.path, problem)
        for problem in self._kind_problems(context):
            found.setdefault(problem.path, problem)
        return list(found.values())

    def _address_problems(self, context: Mapping[str, Any]) -> list[Problem]:
        problems = []
        for channel in self.channels:
            field = ADDRESS_FIELDS[channel]
            value = context.get(field)
            pattern = _E164 if field == "phone" else _EMAIL
            if not isinstance(value, str) or pattern.fullmatch(value) is None:
                kind = "a phone number in E.164 (+15551234567)" if field == "phone" else "an email address"
                problems.append(Problem(field, f"This journey sends by {channel}: {field} must be {kind}."))
        return problems

    def _wait_problems(self, context: Mapping[str, Any], now: datetime) -> list[Problem]:
        if not self.waits:
            return []
        zone = patient_zone(context, self.timezone)
        problems = []
        for node in self.waits:
            assert node.until_field is not None
            unfit = field_resume_at(node, context, zone, now)
            if unfit is FieldUnfit.NOT_A_DATE:
                message = "This journey waits for this field: an ISO 8601 date or datetime."
            elif unfit is FieldUnfit.OUT_OF_RANGE:
                message = (
                    f"This journey waits for this field (node {node.id}): with the node's offset it must "
                    "fall within 100 years of now, the bound of every DELAY."
                )
            else:
                continue
            problems.append(Problem(node.until_field.removeprefix("patient."), message))
        return problems

    def _kind_problems(self, context: Mapping[str, Any]) -> list[Problem]:
        """A field held as another kind than its conditions compare it with (text against a number, say):
        every such comparison would be false, and the run would take the false branch with no one told. A
        missing or null field is not a problem: the false branch is its meaning."""
        problems = []
        for compared in self.compared:
            actual = resolve(compared.field, context)
            if is_missing(actual) or actual is None or describe(actual) in compared.kinds:
                continue
            expected = " or ".join(sorted(compared.kinds))
            nodes = ", ".join(compared.node_ids)
            message = (
                f"This journey compares this field with {expected} (node {nodes}), so it must be {expected}, "
                f"not {describe(actual)}."
            )
            problems.append(Problem(compared.field.removeprefix("patient."), message))
        return problems


def context_fit(journey: JourneyDefinition) -> ContextFit:
    """What `journey` asks of a patient context."""
    channels: dict[str, None] = {}
    waits: list[DelayNode] = []
    kinds: dict[str, set[str]] = {}
    node_ids: dict[str, list[str]] = {}
    for node in journey.nodes:
        if isinstance(node, MessageNode) and node.channel in ADDRESS_FIELDS:
            channels[node.channel] = None
        elif isinstance(node, DelayNode) and node.until_field is not None:
            waits.append(node)
        elif isinstance(node, ConditionalNode) and (compared := compared_kinds(node.condition)):
            kinds.setdefault(node.condition.field, set()).update(compared)
            node_ids.setdefault(node.condition.field, []).append(node.id)
    compared_fields = (_Compared(field, frozenset(kinds[field]), tuple(node_ids[field])) for field in kinds)
    return ContextFit(journey.timezone, tuple(channels), tuple(waits), tuple(compared_fields))
