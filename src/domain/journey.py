"""The journey graph a clinic defines: MESSAGE, DELAY and CONDITIONAL nodes, as immutable values."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


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
    """Send `message` to the patient, then go on at once to `next_node_id` (None: the run completes)."""

    id: str
    message: str
    next_node_id: str | None = None


@dataclass(frozen=True)
class DelayNode:
    """Wait `duration_seconds`, then go on to `next_node_id` (None: the run completes after waiting)."""

    id: str
    duration_seconds: float
    next_node_id: str | None = None


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
    _by_id: dict[str, JourneyNode] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {node.id: node for node in self.nodes})

    def node(self, node_id: str) -> JourneyNode | None:
        """The node with this id, or None."""
        return self._by_id.get(node_id)

    def to_json_dict(self) -> dict[str, Any]:
        """The journey in the HTTP contract's shape (snake_case JSON)."""
        return {
            "name": self.name,
            "start_node_id": self.start_node_id,
            "nodes": [node_to_json_dict(node) for node in self.nodes],
        }


def node_to_json_dict(node: JourneyNode) -> dict[str, Any]:
    """One node in the HTTP contract's shape."""
    match node:
        case MessageNode():
            return {
                "id": node.id,
                "type": NodeType.MESSAGE.value,
                "message": node.message,
                "next_node_id": node.next_node_id,
            }
        case DelayNode():
            return {
                "id": node.id,
                "type": NodeType.DELAY.value,
                "duration_seconds": node.duration_seconds,
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
        if not (isinstance(node, DelayNode) and node.duration_seconds >= min_delay_seconds)
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
