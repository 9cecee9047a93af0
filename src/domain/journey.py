"""The journey graph a clinic defines: MESSAGE, DELAY and CONDITIONAL nodes, as immutable values."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import time
from enum import StrEnum
from typing import Any, Final

from domain.local_clock import QuietHours, format_local_time

# Successive waits at one `until_local_time` DELAY are at least a day apart, less a DST hour.
LOCAL_TIME_LOOP_WAIT_SECONDS: Final = 23 * 3600
# The longest wait of any DELAY: `duration_seconds` at save, an `until_field` instant at trigger and when
# the wait starts. Keeps `now + wait` far inside datetime's range (year 9999) and allows any real follow-up.
MAX_DELAY_SECONDS: Final = 100 * 366 * 24 * 3600


class NodeType(StrEnum):
    """The node types of the HTTP contract."""

    MESSAGE = "MESSAGE"
    DELAY = "DELAY"
    CONDITIONAL = "CONDITIONAL"


@dataclass(frozen=True)
class Condition:
    """A test on the patient context: `field` (dotted path) `operator` `value`."""

    field: str
    operator: str
    value: Any


@dataclass(frozen=True)
class MessageNode:
    """Send `message` to the patient, then go on at once to `next_node_id` (None: the run completes).

    `message` and each of `translations` (BCP 47 tag, text) are templates over the patient context;
    `channel` None means the service's default channel.
    """

    id: str
    message: str
    next_node_id: str | None = None
    translations: tuple[tuple[str, str], ...] = ()
    channel: str | None = None


@dataclass(frozen=True)
class DelayNode:
    """Wait, then go on to `next_node_id` (None: the run completes after waiting).

    One of three forms: `duration_seconds`; `until_local_time` (the next such time on the patient's clock);
    `until_field` (a date or datetime of the context, shifted by `offset_seconds`, set to `at_local_time`).
    """

    id: str
    duration_seconds: float = 0.0
    next_node_id: str | None = None
    until_local_time: time | None = None
    until_field: str | None = None
    offset_seconds: float = 0.0
    at_local_time: time | None = None

    def waits_at_least(self, seconds: float) -> bool:
        """True when every way round a loop through this node waits `seconds` or more here.

        `until_local_time` waits less than a day on the first visit but about a day on each later one, so
        a loop through it goes round at most once a day (less a DST hour). `until_field` counts as no wait:
        on the second round its moment has passed and the run continues at once.
        """
        if self.until_local_time is not None:
            return seconds <= LOCAL_TIME_LOOP_WAIT_SECONDS
        if self.until_field is not None:
            return seconds <= 0
        return self.duration_seconds >= seconds


@dataclass(frozen=True)
class ConditionalNode:
    """Branch on `condition`; a None branch completes the run."""

    id: str
    condition: Condition
    on_true_next_node_id: str | None = None
    on_false_next_node_id: str | None = None


JourneyNode = MessageNode | DelayNode | ConditionalNode


def successors(node: JourneyNode) -> tuple[str, ...]:
    """The node ids a node can lead to (its non-null next pointers)."""
    match node:
        case ConditionalNode():
            candidates: tuple[str | None, ...] = (node.on_true_next_node_id, node.on_false_next_node_id)
        case MessageNode() | DelayNode():
            candidates = (node.next_node_id,)
    return tuple(node_id for node_id in candidates if node_id is not None)


@dataclass(frozen=True)
class JourneyDefinition:
    """A validated journey: build one with `domain.validation.validate_journey`."""

    name: str
    start_node_id: str
    nodes: tuple[JourneyNode, ...]
    timezone: str | None = None
    quiet_hours: QuietHours | None = None
    _by_id: dict[str, JourneyNode] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {node.id: node for node in self.nodes})

    def node(self, node_id: str) -> JourneyNode | None:
        """The node with this id, or None."""
        return self._by_id.get(node_id)

    def to_json_dict(self) -> dict[str, Any]:
        """The journey in the HTTP contract's shape (snake_case JSON)."""
        shape: dict[str, Any] = {
            "name": self.name,
            "start_node_id": self.start_node_id,
            "nodes": [node_to_json_dict(node) for node in self.nodes],
        }
        if self.timezone is not None:
            shape["timezone"] = self.timezone
        if self.quiet_hours is not None:
            shape["quiet_hours"] = {
                "start": format_local_time(self.quiet_hours.start),
                "end": format_local_time(self.quiet_hours.end),
            }
        return shape


def node_to_json_dict(node: JourneyNode) -> dict[str, Any]:
    """One node in the HTTP contract's shape."""
    match node:
        case MessageNode():
            extras: dict[str, Any] = {}
            if node.translations:
                extras["translations"] = dict(node.translations)
            if node.channel is not None:
                extras["channel"] = node.channel
            return {
                "id": node.id,
                "type": NodeType.MESSAGE.value,
                "message": node.message,
                **extras,
                "next_node_id": node.next_node_id,
            }
        case DelayNode():
            return {
                "id": node.id,
                "type": NodeType.DELAY.value,
                **_wait(node),
                "next_node_id": node.next_node_id,
            }
        case ConditionalNode():
            return {
                "id": node.id,
                "type": NodeType.CONDITIONAL.value,
                "condition": {
                    "field": node.condition.field,
                    "operator": node.condition.operator,
                    "value": _thaw(node.condition.value),
                },
                "on_true_next_node_id": node.on_true_next_node_id,
                "on_false_next_node_id": node.on_false_next_node_id,
            }


def _wait(node: DelayNode) -> dict[str, Any]:
    """The DELAY's form, with only the fields that form has (the seed's `duration_seconds` unchanged)."""
    if node.until_local_time is not None:
        return {"until_local_time": format_local_time(node.until_local_time)}
    if node.until_field is not None:
        shape: dict[str, Any] = {"until_field": node.until_field, "offset_seconds": node.offset_seconds}
        if node.at_local_time is not None:
            shape["at_local_time"] = format_local_time(node.at_local_time)
        return shape
    return {"duration_seconds": node.duration_seconds}


def _thaw(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_thaw(item) for item in value]
    return value


def loops_without_long_delay(nodes: Iterable[JourneyNode], min_delay_seconds: float) -> list[list[str]]:
    """Loops (each as its node ids) that a run can go round without a DELAY of `min_delay_seconds` or more.

    Every branch of a CONDITIONAL counts as a way round: which one a run takes depends on its patient.
    Shorter delays are treated as no wait at all, so a loop only passes if each of its cycles has a long
    enough DELAY; with `min_delay_seconds` 0 any DELAY node breaks a loop.
    """
    instant = {
        node.id: node
        for node in nodes
        if not (isinstance(node, DelayNode) and node.waits_at_least(min_delay_seconds))
    }
    edges = {node_id: [t for t in successors(node) if t in instant] for node_id, node in instant.items()}
    return [
        component
        for component in _strongly_connected(list(instant), edges)
        if len(component) > 1 or component[0] in edges[component[0]]
    ]


def _strongly_connected(vertices: list[str], edges: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (journeys can be long); each component in discovery order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in vertices:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            vertex, child = work.pop()
            if child == 0:
                index[vertex] = low[vertex] = len(index)
                stack.append(vertex)
                on_stack.add(vertex)
            targets = edges[vertex]
            if child < len(targets):
                work.append((vertex, child + 1))
                target = targets[child]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[vertex] = min(low[vertex], index[target])
                continue
            if low[vertex] == index[vertex]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == vertex:
                        break
                components.append(component[::-1])
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[vertex])
    return components
