"""A running role reads the master key file again when it changes (a rotation), within its check interval,
and at once for a master key it does not hold; it keeps the keys it has when the file cannot be read or
would change the pseudonym secret, which would lose every patient's keys."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from events.key_ring import KeyRing, load_key_ring, new_key_ring, save_key_ring
from events.key_ring_file import KeyRingFile


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "master.key"
    save_key_ring(path, new_key_ring())
    return path


def rotate(path: Path) -> KeyRing:
    rotated = load_key_ring(path).rotated()
    save_key_ring(path, rotated)
    return rotated


def test_a_rotation_is_picked_up_once_the_check_interval_has_passed(key_file: Path) -> None:
    clock = Clock()
    keys = KeyRingFile(key_file, check_seconds=1.0, clock=clock)
    before = keys.ring().current

    rotated = rotate(key_file)
    clock.now = 0.5
    assert keys.ring().current == before
    clock.now = 1.0
    assert keys.ring().current == rotated.current


def test_a_master_key_the_ring_lacks_is_looked_for_in_the_file_at_once(key_file: Path) -> None:
    keys = KeyRingFile(key_file, check_seconds=3600.0, clock=Clock())

    rotated = rotate(key_file)

    assert rotated.current in keys.ring_with(rotated.current).master_keys


def kept_after(key_file: Path, change: Callable[[], object]) -> bool:
    """Whether a role keeps the ring it had when the file is changed by `change` and looked at again."""
    clock = Clock()
    keys = KeyRingFile(key_file, check_seconds=1.0, clock=clock)
    before = keys.ring()
    change()
    clock.now = 1.0
    return keys.ring() is before


def test_an_unreadable_file_leaves_the_keys_read_before(
    key_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        assert kept_after(key_file, lambda: key_file.write_text("{not json"))
    assert "could not be read again" in caplog.text


def test_a_file_with_another_pseudonym_secret_is_refused(
    key_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        assert kept_after(key_file, lambda: save_key_ring(key_file, new_key_ring()))
    assert "another pseudonym secret" in caplog.text
