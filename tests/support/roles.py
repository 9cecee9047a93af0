"""Running process roles in tests: in-process as asyncio tasks, or as real `pjs run <role>` subprocesses."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from pydantic import SecretStr

from pjs.process import process_name
from pjs.roles import ROLES
from pjs.settings import Settings

T = TypeVar("T")


def free_port() -> int:
    """A TCP port nothing listens on right now (for a child API process)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def role_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment that makes a child process read exactly these settings (PJS_* variables)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PJS_")}
    for name, value in settings.model_dump().items():
        if value is not None:
            secret = value.get_secret_value() if isinstance(value, SecretStr) else value
            # pydantic-settings reads list settings (PJS_ALLOWED_HOSTS, ...) as JSON
            env[f"PJS_{name.upper()}"] = json.dumps(secret) if isinstance(secret, list) else str(secret)
    env.update(extra)
    return env


def with_own_subscriber_groups(settings: Settings, analytics_dir: Path, **update: object) -> Settings:
    """`settings` for running every role of a test at once: the audit and analytics subscribers in groups of
    their own beside the projector's, analytics writing to `analytics_dir`, plus `update`."""
    return settings.model_copy(
        update={
            "audit_group": f"{settings.projector_group}-audit",
            "analytics_group": f"{settings.projector_group}-analytics",
            "analytics_dir": analytics_dir,
            **update,
        }
    )


def only_failure_line(log_file: Path, role: str) -> str:
    """The `role <role> failed` line of a role's log, checked to be its one such line and its last: no stack
    after it, no traceback anywhere."""
    log = log_file.read_text()
    failed = [line for line in log.splitlines() if f"role {role} failed" in line]
    assert len(failed) == 1 and failed[0] == log.rstrip().splitlines()[-1], log
    assert "Traceback" not in log
    return failed[0]


class RoleProcess:
    """`python -m pjs.cli run <role>...` as a child process (one role, or several sharing it): stop it gently
    or SIGKILL it. Its log goes to this process's stderr, or appended to `log_file`."""

    def __init__(
        self, role: str | Sequence[str], settings: Settings, *, log_file: Path | None = None, **extra_env: str
    ) -> None:
        roles = [role] if isinstance(role, str) else list(role)
        self.role = process_name(roles)
        self.was_killed = False
        command = [sys.executable, "-m", "pjs.cli", "run", *roles]
        with contextlib.ExitStack() as files:
            log = files.enter_context(log_file.open("ab")) if log_file else None
            self._process = subprocess.Popen(command, env=role_env(settings, **extra_env), stderr=log)

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def is_running(self) -> bool:
        return self._process.poll() is None

    @property
    def exit_code(self) -> int | None:
        return self._process.poll()

    def kill(self) -> None:
        """SIGKILL: no clean-up, no final commit; what a crash looks like."""
        self.was_killed = True
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
        self._process.wait(timeout=10)

    def terminate(self) -> None:
        """SIGTERM, without waiting: `wait` for the exit code."""
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int:
        return self._process.wait(timeout=timeout)

    def terminate_and_time(self, timeout: float) -> tuple[int, float]:
        """SIGTERM, then wait up to `timeout`: the exit code, and the seconds the process took to exit."""
        self.terminate()
        since = time.monotonic()
        exit_code = self.wait(timeout)
        return exit_code, time.monotonic() - since

    def stop(self) -> int:
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                return self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
        return self._process.wait(timeout=10)


@contextlib.contextmanager
def role_processes(
    settings: Settings, *roles: str, log_file: Path | None = None, **extra_env: str
) -> Iterator[list[RoleProcess]]:
    """The roles as child processes, stopped on exit. When the body ends without an error, every process
    it did not kill must still be running and must then stop cleanly (exit code 0): a role that died on
    the way would otherwise pass unnoticed while the others did its work."""
    processes = [RoleProcess(role, settings, log_file=log_file, **extra_env) for role in roles]
    try:
        yield processes
    except BaseException:
        for process in processes:
            process.stop()
        raise
    expected = [process for process in processes if not process.was_killed]
    died = [(process.role, process.exit_code) for process in expected if not process.is_running]
    stopped = [(process.role, process.stop()) for process in expected]
    assert not died, f"role process(es) exited before the test ended: {died}"
    assert all(code == 0 for _, code in stopped), f"role process(es) did not stop cleanly: {stopped}"


@contextlib.asynccontextmanager
async def running_tasks(*runners: Callable[[asyncio.Event], Awaitable[None]]) -> AsyncIterator[asyncio.Event]:
    """Run each `runner(stop)` as a task; on exit set stop, await them all and re-raise any failure."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(runner(stop)) for runner in runners]
    try:
        yield stop
    finally:
        stop.set()
        async with asyncio.timeout(30):
            results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result


def in_process(settings: Settings, *roles: str) -> contextlib.AbstractAsyncContextManager[asyncio.Event]:
    """The named roles (e.g. "relay", "engine", "timer") as asyncio tasks of this test."""
    return running_tasks(*(_role_runner(ROLES[role], settings) for role in roles))


def _role_runner(
    role: Callable[[Settings, asyncio.Event], Awaitable[None]], settings: Settings
) -> Callable[[asyncio.Event], Awaitable[None]]:
    return lambda stop: role(settings, stop)


async def eventually(check: Callable[[], Awaitable[T | None]], seconds: float = 30, every: float = 0.05) -> T:
    """Poll `check` until it returns something other than None (or False), within `seconds`."""
    async with asyncio.timeout(seconds):
        while True:
            result = await check()
            if result is not None and result is not False:
                return result
            await asyncio.sleep(every)
