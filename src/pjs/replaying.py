"""`pjs replay`: rebuild projections from the event store with a progress bar (events/s, ETA)."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from pjs.settings import Settings
from pjs.wiring import REBUILDABLE, create_pool
from projections.replay import RebuildResult, count_events, rebuild


async def replay_projections(settings: Settings, names: list[str], console: Console) -> list[RebuildResult]:
    pool = await create_pool(settings, max_size=2, admin=True)
    results = []
    try:
        total = await count_events(pool)
        for name in names:
            started = time.monotonic()
            with _progress_bar(console) as progress:
                task = progress.add_task(name, total=total)
                advance = _advancing(progress, task, total)
                result = await rebuild(pool, REBUILDABLE[name], advance)
            elapsed = time.monotonic() - started
            console.print(
                f"{name}: {result.events:,} events in {elapsed:.1f}s "
                f"({result.events / max(elapsed, 1e-9):,.0f} events/s), swapped in"
            )
            results.append(result)
    finally:
        await pool.close()
    return results


def _advancing(progress: Progress, task: TaskID, total: int) -> Callable[[int], None]:
    """Advance the bar, raising its total when events appended during the rebuild pass it: the total was
    counted at the start, and runs still moving append events meanwhile."""
    done = 0

    def advance(events: int) -> None:
        nonlocal done
        done += events
        progress.update(task, advance=events, total=max(total, done))

    return advance


class EventsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:>10,.0f} events/s" if speed else "         - events/s")


def _progress_bar(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        EventsPerSecond(),
        TimeRemainingColumn(),
        console=console,
    )
