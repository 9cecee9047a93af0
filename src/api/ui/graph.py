"""A journey version laid out for SVG, on the server: nodes in rows by distance from the start, edges as
paths. Pure: a definition in, coordinates out."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Final

from domain.journey import ConditionalNode, DelayNode, JourneyDefinition, JourneyNode, MessageNode

NODE_WIDTH: Final = 210
NODE_HEIGHT: Final = 96
_GAP_X: Final = 40
_GAP_Y: Final = 56
_MARGIN: Final = 24
_DETAIL_CHARS: Final = 30


@dataclass(frozen=True)
class PlacedNode:
    node_id: str
    node_type: str
    detail: str
    x: int
    y: int
    is_start: bool


@dataclass(frozen=True)
class PlacedEdge:
    source: str
    target: str
    label: str
    path: str
    label_x: int
    label_y: int


@dataclass(frozen=True)
class GraphLayout:
    nodes: tuple[PlacedNode, ...]
    edges: tuple[PlacedEdge, ...]
    width: int
    height: int


def _links(node: JourneyNode) -> list[tuple[str, str]]:
    """(target, label) of each way out of a node."""
    if isinstance(node, ConditionalNode):
        ways = [(node.on_true_next_node_id, "yes"), (node.on_false_next_node_id, "no")]
    else:
        ways = [(node.next_node_id, "")]
    return [(target, label) for target, label in ways if target is not None]


def _rows(definition: JourneyDefinition) -> list[list[str]]:
    """Node ids by their shortest distance from the start; nodes no path reaches go in a last row."""
    depth = {definition.start_node_id: 0}
    queue = deque([definition.start_node_id])
    while queue:
        current = definition.node(queue.popleft())
        if current is None:
            continue
        for target, _ in _links(current):
            if target not in depth and definition.node(target) is not None:
                depth[target] = depth[current.id] + 1
                queue.append(target)
    rows: list[list[str]] = [[] for _ in range(max(depth.values()) + 1)]
    for node_id, row in depth.items():
        rows[row].append(node_id)
    unreached = [node.id for node in definition.nodes if node.id not in depth]
    return [*rows, unreached] if unreached else rows


def _detail(node: JourneyNode) -> str:
    match node:
        case MessageNode():
            text = f"via {node.channel}" if node.channel else "default channel"
        case DelayNode():
            if node.until_local_time is not None:
                text = f"until {node.until_local_time.strftime('%H:%M')}"
            elif node.until_field is not None:
                text = f"until {node.until_field}"
            else:
                text = f"wait {_duration(node.duration_seconds)}"
        case ConditionalNode():
            condition = node.condition
            text = f"{condition.field} {condition.operator} {condition.value}"
    return text if len(text) <= _DETAIL_CHARS else text[: _DETAIL_CHARS - 1] + "…"


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def layout(definition: JourneyDefinition) -> GraphLayout:
    """Where each node and edge of the journey goes in an SVG of the returned size."""
    rows = _rows(definition)
    widest = max(len(row) for row in rows)
    width = 2 * _MARGIN + widest * NODE_WIDTH + (widest - 1) * _GAP_X
    placed: dict[str, PlacedNode] = {}
    for row_index, row in enumerate(rows):
        row_width = len(row) * NODE_WIDTH + (len(row) - 1) * _GAP_X
        left = (width - row_width) // 2
        for column, node_id in enumerate(row):
            node = definition.node(node_id)
            assert node is not None
            x, y = left + column * (NODE_WIDTH + _GAP_X), _MARGIN + row_index * (NODE_HEIGHT + _GAP_Y)
            kind = type(node).__name__.removesuffix("Node").upper()
            placed[node_id] = PlacedNode(
                node_id, kind, _detail(node), x, y, node_id == definition.start_node_id
            )
    edges = [
        _edge(placed[node.id], placed[target], label)
        for node in definition.nodes
        for target, label in _links(node)
        if target in placed
    ]
    height = 2 * _MARGIN + len(rows) * NODE_HEIGHT + (len(rows) - 1) * _GAP_Y
    return GraphLayout(tuple(placed.values()), tuple(edges), width + _GAP_X, height)


def _edge(source: PlacedNode, target: PlacedNode, label: str) -> PlacedEdge:
    if target.y > source.y:  # downwards: bottom centre to top centre
        x1, y1 = source.x + NODE_WIDTH // 2, source.y + NODE_HEIGHT
        x2, y2 = target.x + NODE_WIDTH // 2, target.y
        middle = (y1 + y2) // 2
        path = f"M{x1},{y1} C{x1},{middle} {x2},{middle} {x2},{y2}"
        return PlacedEdge(source.node_id, target.node_id, label, path, (x1 + x2) // 2 + 6, middle)
    # back to an earlier row (a loop) or along one: round the right-hand side
    x1, y1 = source.x + NODE_WIDTH, source.y + NODE_HEIGHT // 2
    x2, y2 = target.x + NODE_WIDTH, target.y + NODE_HEIGHT // 2
    bulge = max(x1, x2) + _GAP_X - 8
    path = f"M{x1},{y1} C{bulge},{y1} {bulge},{y2} {x2},{y2}"
    return PlacedEdge(source.node_id, target.node_id, label, path, bulge - 4, (y1 + y2) // 2)
