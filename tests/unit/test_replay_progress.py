"""The replay's progress bar never shows more events done than its total."""

from __future__ import annotations

import io

from rich.console import Console

from pjs.replaying import _advancing, _progress_bar


def test_events_appended_during_a_rebuild_raise_the_bars_total_instead_of_passing_it() -> None:
    # given a bar whose total was counted before the rebuild began
    progress = _progress_bar(Console(file=io.StringIO()))
    task = progress.add_task("run_status", total=7192)
    advance = _advancing(progress, task, 7192)
    # when the rebuild reads the counted events and nine appended since
    advance(7000)
    advance(201)
    # then the bar shows every event read, out of as many
    shown = progress.tasks[0]
    assert (shown.completed, shown.total) == (7201, 7201)


def test_a_rebuild_short_of_the_count_keeps_the_counted_total() -> None:
    progress = _progress_bar(Console(file=io.StringIO()))
    task = progress.add_task("stats", total=500)
    _advancing(progress, task, 500)(120)
    shown = progress.tasks[0]
    assert (shown.completed, shown.total) == (120, 500)
