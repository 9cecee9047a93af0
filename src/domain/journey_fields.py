"""What a posted journey may hold beyond its shape: only the fields of the contract, and a name and node ids
free of hidden characters. A field the service does not know would otherwise be dropped in silence, and a
typo (`chanel`, `quiet_hour`) would change what patients receive."""

from difflib import get_close_matches
from typing import Any, Final

from domain.display_text import hidden_character_problem
from domain.journey import NodeType
from domain.message_validation import Problems

JOURNEY_FIELDS: Final = ("name", "start_node_id", "nodes", "timezone", "quiet_hours")
QUIET_HOURS_FIELDS: Final = ("start", "end")
CONDITION_FIELDS: Final = ("field", "operator", "value")
NODE_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    NodeType.MESSAGE: ("id", "type", "message", "translations", "channel", "next_node_id"),
    NodeType.DELAY: (
        "id",
        "type",
        "duration_seconds",
        "until_local_time",
        "until_field",
        "offset_seconds",
        "at_local_time",
        "next_node_id",
    ),
    NodeType.CONDITIONAL: ("id", "type", "condition", "on_true_next_node_id", "on_false_next_node_id"),
}
# Options of the until_field form: without it they would be ignored.
_UNTIL_FIELD_OPTIONS: Final = ("offset_seconds", "at_local_time")


def posted_field_problems(raw: dict[str, Any]) -> Problems:
    """Every unknown field, by path, and the name or a node id holding a control character."""
    problems = _unknown("", raw, JOURNEY_FIELDS, "A journey")
    if (problem := hidden_character_problem("The journey's name", raw.get("name"))) is not None:
        problems.append(("name", problem))
    quiet_hours = raw.get("quiet_hours")
    if isinstance(quiet_hours, dict):
        problems.extend(_unknown("quiet_hours", quiet_hours, QUIET_HOURS_FIELDS, "quiet_hours"))
    nodes = raw.get("nodes")
    for index, node in enumerate(nodes if isinstance(nodes, list) else []):
        if isinstance(node, dict):
            problems.extend(_node_problems(f"nodes[{index}]", node))
    return problems


def _node_problems(at: str, node: dict[str, Any]) -> Problems:
    problems: Problems = []
    if (problem := hidden_character_problem("A node id", node.get("id"))) is not None:
        problems.append((f"{at}.id", problem))
    node_type = node.get("type")
    known = NODE_FIELDS.get(node_type) if isinstance(node_type, str) else None
    if known is None:
        return problems  # the unknown type is reported; which fields it would take cannot be known
    problems.extend(_unknown(at, node, known, f"A {node_type} node"))
    if node_type == NodeType.DELAY and "until_field" not in node:
        problems.extend(
            (f"{at}.{option}", f"{option} applies only with until_field; remove it or add until_field.")
            for option in _UNTIL_FIELD_OPTIONS
            if node.get(option) is not None
        )
    condition = node.get("condition")
    if node_type == NodeType.CONDITIONAL and isinstance(condition, dict):
        problems.extend(_unknown(f"{at}.condition", condition, CONDITION_FIELDS, "A condition"))
    return problems


def _unknown(at: str, raw: dict[str, Any], known: tuple[str, ...], what: str) -> Problems:
    return [
        (f"{at}.{key}" if at else str(key), _unknown_message(str(key), known, what))
        for key in raw
        if key not in known
    ]


def _unknown_message(key: str, known: tuple[str, ...], what: str) -> str:
    close = get_close_matches(key, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"Unknown field {key!r}: {what} takes {', '.join(known)}.{hint}"
