"""What a running JVM is doing: its main thread's stack, from the thread dump SIGQUIT makes it print."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from pjs.services.processes import log_size, log_written_since, wait_until

_DUMP_END = "JNI global refs"  # HotSpot ends every thread dump with this line
_FRAMES_SHOWN = 25


def main_thread_stack(pid: int, log_file: Path, wait_seconds: float = 5.0) -> str:
    """Ask the JVM (whose stdout goes to log_file) for a thread dump; return its main thread's stack.

    A JVM that is alive but does not do what we wait for says where it is stuck this way, without a
    JDK tool on the machine. The dump stays in the log; the JVM carries on.
    """
    start = log_size(log_file)
    try:
        os.kill(pid, signal.SIGQUIT)
    except ProcessLookupError:
        return "(the process had exited)"
    wait_until(lambda: _DUMP_END in (log_written_since(log_file, start) or ""), wait_seconds)
    return thread_stack(log_written_since(log_file, start) or "", "main")


def thread_stack(dump: str, thread_name: str) -> str:
    """One thread's block of a HotSpot thread dump (its header, state and top frames)."""
    lines = dump.splitlines()
    header = f'"{thread_name}" '
    for index, line in enumerate(lines):
        if line.startswith(header):
            block = []
            for frame in lines[index : index + _FRAMES_SHOWN]:
                if not frame.strip():
                    break
                block.append(frame)
            return "\n".join(block)
    return f"(no thread {thread_name!r} in the dump)"
