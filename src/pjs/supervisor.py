"""Keeps child processes running: one that exits is restarted with capped exponential backoff, alone."""

from __future__ import annotations

import logging
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

log = logging.getLogger("pjs.supervisor")

_TEND_EVERY_SECONDS = 0.1
_KILL_MARGIN_SECONDS = 5.0
"""How long past its own shutdown bound a child gets before it is killed."""


@dataclass(frozen=True)
class RestartPolicy:
    """Waits before a restart: `first_seconds`, doubling per crash up to `max_seconds`; a child that ran
    for `healthy_seconds` before it exited starts over at `first_seconds`."""

    first_seconds: float = 0.5
    max_seconds: float = 30.0
    healthy_seconds: float = 60.0

    def next_delay(self, previous: float | None, ran_for: float) -> float:
        """The wait before restarting a child that ran `ran_for` seconds; `previous` was the last wait."""
        if previous is None or ran_for >= self.healthy_seconds:
            return min(self.first_seconds, self.max_seconds)
        return min(previous * 2, self.max_seconds)


@dataclass
class _Child:
    command: Sequence[str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    delay: float | None = None
    restart_at: float | None = None
    restarts: int = 0


@dataclass
class Supervisor:
    """Runs each named command as a child process until `run`'s `should_stop` says so, then stops them all
    with SIGTERM, killing any still running `shutdown_seconds` (plus a margin) later."""

    commands: Mapping[str, Sequence[str]]
    env: Mapping[str, str]
    policy: RestartPolicy = RestartPolicy()
    shutdown_seconds: float = 10.0
    own_sessions: frozenset[str] = frozenset()  # children started in a session of their own (cpu_priority)
    _children: dict[str, _Child] = field(default_factory=dict)

    def run(self, should_stop: Callable[[], bool]) -> None:
        self._children = {role: _Child(command) for role, command in self.commands.items()}
        for role in self._children:
            self._start(role)
        while not should_stop():
            self._tend()
            time.sleep(_TEND_EVERY_SECONDS)
        self._stop_all()

    def restarts(self, role: str) -> int:
        return self._children[role].restarts

    def pid(self, role: str) -> int | None:
        process = self._children[role].process
        return process.pid if process is not None and process.poll() is None else None

    def _start(self, role: str) -> None:
        child = self._children[role]
        child.process = subprocess.Popen(
            list(child.command), env=dict(self.env), start_new_session=role in self.own_sessions
        )
        child.started_at = time.monotonic()
        child.restart_at = None

    def _tend(self) -> None:
        now = time.monotonic()
        for role, child in self._children.items():
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.restarts += 1
                    self._start(role)
                continue
            if child.process is None or (code := child.process.poll()) is None:
                continue
            child.delay = self.policy.next_delay(child.delay, now - child.started_at)
            child.restart_at = now + child.delay
            log.warning("role %s exited (%s); restarting in %.1f s", role, _how(code), child.delay)

    def _stop_all(self) -> None:
        running = [c.process for c in self._children.values() if c.process and c.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.shutdown_seconds + _KILL_MARGIN_SECONDS
        for process in running:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("a role did not stop within %.0f s; killing it", self.shutdown_seconds)
                process.kill()
                process.wait()


def _how(returncode: int) -> str:
    """'exit code 1' or 'signal SIGKILL': how a child ended, in words."""
    if returncode < 0:
        return f"signal {signal.Signals(-returncode).name}"
    return f"exit code {returncode}"
