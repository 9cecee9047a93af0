"""The server-side layout of a journey graph: every node placed once, apart, with an edge per way out."""

from __future__ import annotations

from api.ui.graph import NODE_HEIGHT, NODE_WIDTH, layout
from domain.journey import JourneyDefinition, successors
from domain.validation import validate_journey
from support.journeys import branch, delay, message


def journey(start: str, *nodes: dict[str, object]) -> JourneyDefinition:
    parsed = validate_journey({"name": "J", "start_node_id": start, "nodes": list(nodes)})
    assert isinstance(parsed, JourneyDefinition), parsed
    return parsed


def test_each_node_is_placed_once_without_overlap_and_each_way_out_is_an_edge() -> None:
    definition = journey(
        "a",
        message("a", "wait"),
        delay("wait", 60, "check"),
        branch("check", "age", "gte", 65, "senior", "done"),
        message("senior", "done"),
        message("done"),
        message("orphan"),
    )
    graph = layout(definition)
    assert sorted(node.node_id for node in graph.nodes) == sorted(node.id for node in definition.nodes)
    boxes = [(n.x, n.y) for n in graph.nodes]
    for i, (x1, y1) in enumerate(boxes):
        for x2, y2 in boxes[i + 1 :]:
            assert abs(x1 - x2) >= NODE_WIDTH or abs(y1 - y2) >= NODE_HEIGHT
    assert all(n.x + NODE_WIDTH <= graph.width and n.y + NODE_HEIGHT <= graph.height for n in graph.nodes)
    assert len(graph.edges) == sum(len(successors(node)) for node in definition.nodes)
    assert {e.label for e in graph.edges if e.source == "check"} == {"yes", "no"}


def test_the_start_is_on_the_top_row_and_a_node_no_path_reaches_on_the_last() -> None:
    graph = layout(journey("a", message("a", "b"), message("b"), message("orphan")))
    rows = {node.node_id: node.y for node in graph.nodes}
    assert rows["a"] < rows["b"] < rows["orphan"]
    assert [node.node_id for node in graph.nodes if node.is_start] == ["a"]


def test_a_loop_back_to_an_earlier_node_is_drawn_round_the_side() -> None:
    definition = journey(
        "ask",
        message("ask", "wait"),
        delay("wait", 86400, "check"),
        branch("check", "age", "gte", 1, "ask", "end"),
        message("end"),
    )
    back = next(edge for edge in layout(definition).edges if edge.target == "ask")
    assert back.path.startswith("M") and " C" in back.path and back.label == "yes"
