"""Role processes freeze what start-up built and start young collections less often."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from pjs.garbage_collection import tune_garbage_collection
from pjs.settings import Settings


class _Node:
    partner: _Node | None = None


@pytest.fixture
def restored_collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def _tracked(thing: object) -> bool:
    """Whether the collector's generations (what its collections scan) hold `thing`."""
    return any(candidate is thing for candidate in gc.get_objects())


@pytest.mark.usefixtures("restored_collector")
def test_what_start_up_built_is_never_scanned_again_and_later_objects_still_are() -> None:
    built_at_start_up: list[list[int]] = [[1]]

    tune_garbage_collection(young_threshold=10_000)
    built_later: list[list[int]] = [[2]]

    assert gc.get_freeze_count() > 0
    assert not _tracked(built_at_start_up)
    assert _tracked(built_later)
    assert gc.get_threshold()[0] == 10_000


@pytest.mark.usefixtures("restored_collector")
def test_start_up_garbage_is_collected_rather_than_frozen() -> None:
    node = _Node()
    node.partner = node  # a cycle: only the collector can free it
    gone = weakref.ref(node)
    del node

    tune_garbage_collection(young_threshold=10_000)

    assert gone() is None


def test_a_young_threshold_below_a_hundred_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PJS_GC_YOUNG_THRESHOLD", "0")  # 0 would switch automatic collection off
    with pytest.raises(ValueError, match="gc_young_threshold"):
        Settings()
