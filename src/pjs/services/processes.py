"""Small process and port helpers shared by the local service supervisors."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import psutil


class ServiceError(Exception):
    """A local service could not be started, checked or stopped; the message says what to do."""


def port_is_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_free_port(host: str, port: int, service: str) -> None:
    if port_is_open(host, port):
        raise ServiceError(
            f"port {port} on {host} is already in use, so the local {service} cannot start; "
            f"stop whatever listens there (e.g. `ss -ltnp 'sport = :{port}'`) or point "
            f"PJS_{'DATABASE_URL' if service == 'Postgres' else 'KAFKA_BOOTSTRAP'} at a running server"
        )


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


def spawn_detached(args: Sequence[str], log_file: Path, cwd: Path | None = None) -> int:
    """Start a long-running process in its own session, output appended to log_file; returns its pid."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            list(args),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            start_new_session=True,
        )
    return process.pid


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
