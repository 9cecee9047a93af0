"""The ways a run can go through a journey without waiting, as problems of a journey being saved."""

from collections.abc import Iterable, Sequence
from typing import Final

from domain.journey import (
    ConditionalNode,
    DelayNode,
    JourneyNode,
    MessageNode,
    loops_without_long_delay,
    successors,
)
from domain.message_validation import Problems

_SHOWN_IDS: Final = 5


def loop_problems(nodes: Iterable[JourneyNode], min_delay_seconds: float) -> Problems:
    """Each loop a run could go round without a DELAY of at least `min_delay_seconds`, naming its nodes."""
    return [
        ("nodes", _loop_message(loop, min_delay_seconds))
        for loop in loops_without_long_delay(nodes, min_delay_seconds)
    ]


def _loop_message(loop: list[str], min_delay_seconds: float) -> str:
    wait = f"a DELAY of at least {min_delay_seconds:g} seconds" if min_delay_seconds > 0 else "a DELAY node"
    return (
        f"Nodes {', '.join(loop)} form a loop without {wait}, so a run could go round it without waiting; "
        f"add {wait} to every way round the loop, or break it."
    )


def oversized_steps(nodes: Sequence[JourneyNode], start_node_id: str, max_events: int) -> Problems:
    """Each way a run can walk in one decision that writes more than `max_events` events, naming where it
    starts: the decider would fail every run that takes it (domain.decider, cap max_events_per_decision).

    The count is the decider's own: one event per node visited, plus the one that ends the walk (the
    DELAY's DelayStarted, or RunCompleted). It is exact for a run that walks the whole way in one go; quiet
    hours can split a walk at a MESSAGE, but only for runs that reach it inside them. Every branch of a
    CONDITIONAL counts as a way a patient could take, as for loops. A decision starts at the start node or
    after a DELAY the start reaches; nodes no run reaches are not counted.
    """
    by_id = {node.id: node for node in nodes}
    longest = _longest_walks(by_id)
    if longest is None:
        return []  # nodes without a DELAY form a loop: reported as such
    problems: Problems = []
    for entry in _decision_starts(by_id, start_node_id):
        events, walk = longest[entry][0], _walk(longest, entry)
        if events > max_events:
            problems.append(("nodes", _oversized_message(walk, events, max_events)))
    return problems


def _oversized_message(walk: list[str], events: int, max_events: int) -> str:
    shown = ", ".join(walk[:_SHOWN_IDS]) + (", ..." if len(walk) > _SHOWN_IDS else "")
    return (
        f"A run can walk {len(walk)} nodes in one step without waiting, from {shown}: {events} events, "
        f"more than the {max_events} one step may write (PJS_RUN_MAX_EVENTS_PER_DECISION), so every run "
        "that goes this way would fail there; add a DELAY along the way or shorten it."
    )


def _onward(node: JourneyNode) -> tuple[str | None, ...]:
    """Where a walk may go from `node` (None: the run completes); a DELAY ends the walk."""
    match node:
        case MessageNode():
            return (node.next_node_id,)
        case ConditionalNode():
            return (node.on_true_next_node_id, node.on_false_next_node_id)
        case DelayNode():
            return ()


def _longest_walks(by_id: dict[str, JourneyNode]) -> dict[str, tuple[int, str | None]] | None:
    """Per node: the most events a walk reaching it writes from there on, and the next node on that way;
    None when nodes without a DELAY form a loop. Iterative, so long journeys need no deep recursion."""
    longest: dict[str, tuple[int, str | None]] = {}
    open_nodes: set[str] = set()
    for root in by_id:
        work = [root]
        while work:
            node_id = work[-1]
            pending = [t for t in _onward(by_id[node_id]) if t in by_id and t not in longest]
            if not pending:
                longest[node_id] = _best(by_id[node_id], longest)
                open_nodes.discard(node_id)
                work.pop()
            elif any(target in open_nodes for target in pending):
                return None
            else:
                open_nodes.add(node_id)
                work.extend(pending)
    return longest


def _best(node: JourneyNode, longest: dict[str, tuple[int, str | None]]) -> tuple[int, str | None]:
    if isinstance(node, DelayNode):
        return 1, None
    # A way out to no node (None, or a missing one) ends the walk with one event (RunCompleted, RunFailed).
    ways = [(longest[t][0] if t in longest else 1, t) for t in _onward(node)]
    events, target = max(ways, key=lambda way: way[0])
    return 1 + events, target if target in longest else None


def _walk(longest: dict[str, tuple[int, str | None]], entry: str) -> list[str]:
    walk = [entry]
    while (target := longest[walk[-1]][1]) is not None:
        walk.append(target)
    return walk


def _decision_starts(by_id: dict[str, JourneyNode], start_node_id: str) -> list[str]:
    """The start node and the node after each DELAY a run can reach."""
    if start_node_id not in by_id:
        return []
    reached, frontier = {start_node_id}, [start_node_id]
    starts = [start_node_id]
    while frontier:
        node = by_id[frontier.pop()]
        after = node.next_node_id if isinstance(node, DelayNode) else None
        if after is not None and after in by_id and after not in starts:
            starts.append(after)
        for target in successors(node):
            if target in by_id and target not in reached:
                reached.add(target)
                frontier.append(target)
    return starts
