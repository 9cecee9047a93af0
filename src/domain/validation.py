"""Validate a journey posted by a clinic, collecting every problem, into a JourneyDefinition."""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from domain.condition_validation import parse_condition, posted_condition_problems
from domain.journey import (
    MAX_DELAY_SECONDS,
    ConditionalNode,
    DelayNode,
    JourneyDefinition,
    JourneyNode,
    MessageNode,
    NodeType,
)
from domain.journey_fields import posted_field_problems
from domain.journey_paths import loop_problems, oversized_steps
from domain.json_values import describe, is_number
from domain.message_validation import (
    Problems,
    delay_form,
    journey_clock,
    message_extras,
    posted_message_problems,
)

# Each way round a loop must wait this long, so a looping run sends at most one round of messages a minute.
DEFAULT_MIN_LOOP_DELAY_SECONDS: Final = 60.0
_VALID_TYPES: Final = ", ".join(node_type.value for node_type in NodeType)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with client input: where (`path`, "" for the whole body) and what, in plain English."""

    path: str
    message: str


def validate_journey(
    raw: object,
    *,
    min_loop_delay_seconds: float = DEFAULT_MIN_LOOP_DELAY_SECONDS,
    max_events_per_decision: int | None = None,
    unsendable_channels: Mapping[str, str] | None = None,
) -> JourneyDefinition | list[Problem]:
    """The journey a clinic sends, or every problem with it (never just the first).

    Every loop must pass a DELAY of at least `min_loop_delay_seconds`; given the runs' cap
    `max_events_per_decision`, no way a run walks in one step may write more (domain.journey_paths); a
    field the contract does not have is a problem (domain.journey_fields), never dropped in silence; no
    MESSAGE may name a channel of `unsendable_channels` (channel -> the setting that would configure it).
    """
    unsendable = unsendable_channels or {}
    return _parse(raw, min_loop_delay_seconds, max_events_per_decision, posted=True, unsendable=unsendable)


def validate_stored_journey(raw: object) -> JourneyDefinition | list[Problem]:
    """A stored journey, read again: any DELAY breaks a loop and the checks only a sender has to pass are
    skipped, so a rule added or tightened since it was saved never strands the runs already on it."""
    return _parse(raw, 0, None, posted=False, unsendable={})


def _parse(
    raw: object,
    min_loop_delay_seconds: float,
    max_events: int | None,
    *,
    posted: bool,
    unsendable: Mapping[str, str],
) -> JourneyDefinition | list[Problem]:
    if not isinstance(raw, dict):
        return [Problem("", f"The journey must be a JSON object, got {describe(raw)}.")]
    problems: list[Problem] = []
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(Problem("name", "The journey needs a name: a non-empty string."))

    raw_nodes = raw.get("nodes")
    nodes = _parse_nodes(raw_nodes, problems, unsendable)
    known_ids = _check_ids(raw_nodes if isinstance(raw_nodes, list) else [], problems)

    start_node_id = raw.get("start_node_id")
    if not isinstance(start_node_id, str) or not start_node_id:
        problems.append(
            Problem("start_node_id", "The journey needs a start_node_id: the id of its first node.")
        )
    elif start_node_id not in known_ids:
        problems.append(Problem("start_node_id", f"The start node {start_node_id!r} is not among the nodes."))

    for index, node in nodes:
        for key, target in _pointers(node):
            if target not in known_ids:
                problems.append(
                    Problem(f"nodes[{index}].{key}", f"Points to node {target!r}, which does not exist.")
                )
    graph_problems = loop_problems((node for _, node in nodes), min_loop_delay_seconds)
    if max_events is not None and isinstance(start_node_id, str):
        graph_problems += oversized_steps([node for _, node in nodes], start_node_id, max_events)
    problems.extend(Problem(path, message) for path, message in graph_problems)
    clock_problems: Problems = []
    timezone, quiet_hours = journey_clock(raw, clock_problems)
    problems.extend(Problem(path, message) for path, message in clock_problems)
    if posted:
        problems.extend(Problem(path, message) for path, message in posted_field_problems(raw))
        problems.extend(Problem(path, message) for path, message in posted_message_problems(raw))
        problems.extend(Problem(path, message) for path, message in posted_condition_problems(raw))

    if problems:
        return problems
    assert isinstance(name, str) and isinstance(start_node_id, str)
    return JourneyDefinition(
        name=name,
        start_node_id=start_node_id,
        nodes=tuple(node for _, node in nodes),
        timezone=timezone,
        quiet_hours=quiet_hours,
    )


def _parse_nodes(
    raw_nodes: object, problems: list[Problem], unsendable: Mapping[str, str]
) -> list[tuple[int, JourneyNode]]:
    """Each node that has an id, with its index; every node's problems noted."""
    if not isinstance(raw_nodes, list) or not raw_nodes:
        problems.append(Problem("nodes", "The journey needs a non-empty list of nodes."))
        return []
    nodes: list[tuple[int, JourneyNode]] = []
    for index, raw_node in enumerate(raw_nodes):
        node = _parse_node(index, raw_node, problems, unsendable)
        if node is not None:
            nodes.append((index, node))
    return nodes


def _check_ids(raw_nodes: list[Any], problems: list[Problem]) -> set[str]:
    first_index: dict[str, int] = {}
    for index, raw_node in enumerate(raw_nodes):
        node_id = raw_node.get("id") if isinstance(raw_node, dict) else None
        if not isinstance(node_id, str) or not node_id:
            continue
        if node_id in first_index:
            problems.append(
                Problem(
                    f"nodes[{index}].id",
                    f"Node id {node_id!r} is already used by nodes[{first_index[node_id]}]; "
                    "node ids must be unique.",
                )
            )
        else:
            first_index[node_id] = index
    return set(first_index)


def _parse_node(
    index: int, raw: object, problems: list[Problem], unsendable: Mapping[str, str]
) -> JourneyNode | None:
    at = f"nodes[{index}]"
    if not isinstance(raw, dict):
        problems.append(Problem(at, f"Each node must be a JSON object, got {describe(raw)}."))
        return None
    node_id = raw.get("id")
    has_id = isinstance(node_id, str) and bool(node_id)
    if not has_id:
        problems.append(Problem(f"{at}.id", "Each node needs an id: a non-empty string."))
    node_type = raw.get("type")
    node: JourneyNode | None = None
    if node_type == NodeType.MESSAGE:
        node = _message(at, str(node_id), raw, problems, unsendable)
    elif node_type == NodeType.DELAY:
        node = _delay(at, str(node_id), raw, problems)
    elif node_type == NodeType.CONDITIONAL:
        node = _conditional(at, str(node_id), raw, problems)
    else:
        problems.append(
            Problem(f"{at}.type", f"Unknown node type {node_type!r}; valid types are {_VALID_TYPES}.")
        )
    # A node with other problems still takes part in the dangling-pointer and cycle checks.
    return node if has_id else None


def _next_id(at: str, key: str, raw: dict[str, Any], problems: list[Problem]) -> str | None:
    value = raw.get(key)
    if value is None or (isinstance(value, str) and value):
        return value
    problems.append(
        Problem(f"{at}.{key}", f"Must be a node id (a non-empty string) or null, got {describe(value)}.")
    )
    return None


def _message(
    at: str, node_id: str, raw: dict[str, Any], problems: list[Problem], unsendable: Mapping[str, str]
) -> MessageNode:
    message = raw.get("message")
    if not isinstance(message, str):
        problems.append(Problem(f"{at}.message", "A MESSAGE node needs a message: a string."))
    extra_problems: Problems = []
    translations, channel = message_extras(at, raw, extra_problems, unsendable)
    problems.extend(Problem(path, text) for path, text in extra_problems)
    return MessageNode(
        id=node_id,
        message=str(message),
        next_node_id=_next_id(at, "next_node_id", raw, problems),
        translations=translations,
        channel=channel,
    )


def _delay(at: str, node_id: str, raw: dict[str, Any], problems: list[Problem]) -> DelayNode:
    form_problems: Problems = []
    other_form = delay_form(at, node_id, raw, form_problems)
    problems.extend(Problem(path, text) for path, text in form_problems)
    if other_form is not None:
        return replace(other_form, next_node_id=_next_id(at, "next_node_id", raw, problems))
    duration = raw.get("duration_seconds")
    problem = (
        _duration_problem(duration)
        if "duration_seconds" in raw
        else "A DELAY node needs duration_seconds, until_local_time or until_field."
    )
    if problem is not None:
        problems.append(Problem(f"{at}.duration_seconds", problem))
    next_node_id = _next_id(at, "next_node_id", raw, problems)
    seconds = float(duration) if problem is None and isinstance(duration, int | float) else 0.0
    return DelayNode(id=node_id, duration_seconds=seconds, next_node_id=next_node_id)


def _duration_problem(duration: object) -> str | None:
    if not isinstance(duration, int | float) or not is_number(duration):
        return f"duration_seconds must be a finite number of seconds, got {describe(duration)}."
    if duration < 0:
        return "duration_seconds cannot be negative."
    if duration > MAX_DELAY_SECONDS:
        return f"duration_seconds cannot exceed {MAX_DELAY_SECONDS} (100 years)."
    return None


def _conditional(at: str, node_id: str, raw: dict[str, Any], problems: list[Problem]) -> ConditionalNode:
    condition_problems: Problems = []
    condition = parse_condition(f"{at}.condition", raw, condition_problems)
    problems.extend(Problem(path, message) for path, message in condition_problems)
    return ConditionalNode(
        id=node_id,
        condition=condition,
        on_true_next_node_id=_next_id(at, "on_true_next_node_id", raw, problems),
        on_false_next_node_id=_next_id(at, "on_false_next_node_id", raw, problems),
    )


def _pointers(node: JourneyNode) -> Iterator[tuple[str, str]]:
    match node:
        case ConditionalNode():
            if node.on_true_next_node_id is not None:
                yield "on_true_next_node_id", node.on_true_next_node_id
            if node.on_false_next_node_id is not None:
                yield "on_false_next_node_id", node.on_false_next_node_id
        case MessageNode() | DelayNode():
            if node.next_node_id is not None:
                yield "next_node_id", node.next_node_id
