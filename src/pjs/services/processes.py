"""Small process and log helpers shared by the local service supervisors."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import psutil


class ServiceError(Exception):
    """A local service could not be started, checked or stopped; the message says what to do."""


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None


def pid_is_running(pid: int | None, cmdline_marker: str) -> bool:
    """Whether pid is alive and its command line contains marker (guards against pid reuse)."""
    if pid is None:
        return False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return cmdline_marker in " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def spawn_detached(args: Sequence[str], log_file: Path) -> int:
    """Start a long-running process in its own session, output appended to log_file; returns its pid.

    posix_spawn rather than Popen: the service outlives us, and a Popen dropped while its child runs
    warns about it; a child that dies before we exit is reaped by `terminate` or by whoever adopts it.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        return os.posix_spawnp(
            args[0],
            list(args),
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, log.fileno(), 1),
                (os.POSIX_SPAWN_DUP2, log.fileno(), 2),
            ],
            setsid=True,
        )


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return check()


def terminate(pid: int, grace_seconds: float = 30.0) -> None:
    """SIGTERM, then SIGKILL after the grace period."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        psutil.Process(pid).wait(grace_seconds)
    except psutil.NoSuchProcess:
        return
    except psutil.TimeoutExpired:
        os.kill(pid, signal.SIGKILL)


def log_size(log_file: Path) -> int:
    """Where the log ends now, so a later failure shows only what this start wrote."""
    try:
        return log_file.stat().st_size
    except FileNotFoundError:
        return 0


def log_written_since(log_file: Path, since: int = 0) -> str | None:
    """What was written to log_file after byte offset `since`; None when there is no log."""
    try:
        with log_file.open("rb") as log:
            log.seek(since)
            return log.read().decode(errors="replace")
    except FileNotFoundError:
        return None


def log_tail(log_file: Path, since: int = 0, lines: int = 20) -> str:
    """The last lines written to log_file after byte offset `since`."""
    written = log_written_since(log_file, since)
    if written is None:
        return "(no log written)"
    return "\n".join(written.rstrip().splitlines()[-lines:]) or "(nothing logged)"
