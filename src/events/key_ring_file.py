"""The master key file as it is now, for a process that runs for days: read again when it changes.

`pjs keys rotate-master` rewrites the file while the roles run. A process that kept the ring it read at
start would go on wrapping new data keys with a master key the rotation is about to drop (those patients'
data unreadable after a restart), and could not unwrap the keys the rotation re-wrapped under the new one.
So each process looks at the file at most every `check_seconds` and at once for a master key it lacks.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from events.key_ring import KeyRing, KeyRingError, load_key_ring

log = logging.getLogger(__name__)

FileStamp = tuple[int, int, int]  # inode, size, modification time (ns): a rename over the file changes it


class MasterKeys(Protocol):
    """Where a key store gets its ring: a fixed `KeyRing`, or the file as it is now (`KeyRingFile`)."""

    def ring(self) -> KeyRing:
        """The ring to wrap with now (its `current` key) and to unwrap with."""
        ...

    def ring_with(self, master_key_id: str) -> KeyRing:
        """The ring, holding `master_key_id` if the file does."""
        ...


class KeyRingFile:
    """`MasterKeys` read from PJS_MASTER_KEY_FILE, read again when the file changes."""

    def __init__(self, path: Path, check_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._path = path
        self._check_seconds = check_seconds
        self._clock = clock
        self._ring = load_key_ring(path)  # first: its error names a missing file plainly
        self._stamp = _stamp(path)
        self._checked_at = clock()

    def ring(self) -> KeyRing:
        if self._clock() - self._checked_at >= self._check_seconds:
            self._read_if_changed()
        return self._ring

    def ring_with(self, master_key_id: str) -> KeyRing:
        if master_key_id not in self._ring.master_keys:
            self._read_if_changed()
        return self._ring

    def _read_if_changed(self) -> None:
        self._checked_at = self._clock()
        try:
            stamp = _stamp(self._path)
            if stamp == self._stamp:
                return
            ring = load_key_ring(self._path)
        except (OSError, KeyRingError) as error:
            # Mid-rotation the file is replaced by a rename, never half-written; keep the ring in hand.
            log.warning(
                "the master key file could not be read again; keeping the keys read before: %s", error
            )
            return
        if ring.pseudonym_secret != self._ring.pseudonym_secret:
            # Patients' keys are filed under pseudonyms made with it: a new secret would lose them all.
            log.error("the master key file now has another pseudonym secret; keeping the keys read before")
            return
        if ring.current != self._ring.current:
            log.info("master key file read again: new data keys are wrapped with master key %s", ring.current)
        self._ring, self._stamp = ring, stamp


def _stamp(path: Path) -> FileStamp:
    status = os.stat(path)
    return status.st_ino, status.st_size, status.st_mtime_ns
