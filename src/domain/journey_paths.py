"""The ways a run can go through a journey without waiting, as problems of a journey being saved."""

from collections.abc import Iterable

from domain.journey import JourneyNode, loops_without_long_delay
from domain.message_validation import Problems


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
