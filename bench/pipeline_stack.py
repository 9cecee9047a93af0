"""Every role of the service as its own process against a sandbox, for the scenarios that drive it over HTTP.

`pipeline` and `capacity` both start the roles as in production (`pjs run <role>`, one process each, or the
workers together in one with BENCH_WORKERS_TOGETHER=1),
call the API as a real client (an API key of the sandbox's tenant), and read their figures afterwards from
the database with the workers' role.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson

from bench.errors import BenchFailure
from bench.loadgen import API_KEY_VARIABLE
from bench.pipeline_figures import Load
from bench.role_watch import RoleWatch, service_cpu_seconds, watching
from bench.roles import role_process, stop
from bench.sandbox import Sandbox, api_key_in
from pjs.cpu_priority import in_own_cpu_group
from pjs.dev import process_layout
from pjs.services.stack import LocalStack
from pjs.settings import Settings

WORKERS_TOGETHER = "BENCH_WORKERS_TOGETHER"
PIPELINE_ROLES = ("api", "relay", "engine", "delivery", "timer", "projector")
SUBSCRIBER_ROLES = ("audit", "analytics")
_REPOSITORY = Path(__file__).resolve().parents[1]
_POLL_SECONDS = 0.2
READY_SECONDS = 60  # for the roles to come up, and for a warm-up run to go through them


@dataclass(frozen=True)
class RunningStack:
    """The roles running against a sandbox, a client holding a real API key, and a workers' pool."""

    box: Sandbox
    watch: RoleWatch
    client: httpx.AsyncClient
    key: str
    pool: asyncpg.Pool
    scratch: Path
    pids: dict[str, int]  # role -> process id (for a profiler to attach to)
    topic: str  # the run events' topic the roles read and write
    groups: dict[str, str]  # role -> its consumer group


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _environment(box: Sandbox, topic: str, groups: dict[str, str], port: int, scratch: str) -> dict[str, str]:
    return {
        **box.role_environment(topic),
        "PJS_HTTP_HOST": "127.0.0.1",
        "PJS_HTTP_PORT": str(port),
        **{f"PJS_{role.upper()}_GROUP": group for role, group in groups.items()},
        "PJS_ANALYTICS_DIR": str(Path(scratch) / "analytics"),
        "PJS_MESSAGE_CHANNEL": "log",
        "PJS_STATE_DIR": scratch,
        # One key carries the whole load: the per-key rate limit must not be what the bench measures.
        "PJS_RATE_LIMIT_PER_SECOND": "1000000",
        "PJS_RATE_LIMIT_BURST": "1000000",
    }


@contextlib.asynccontextmanager
async def running_stack(
    box: Sandbox,
    roles: Sequence[str],
    extra_environment: dict[str, str] | None = None,
    client_limits: httpx.Limits | None = None,
) -> AsyncIterator[RunningStack]:
    """Start `roles` (each `python -m pjs.cli run <role>`, or with BENCH_WORKERS_TOGETHER=1 the workers in one
    process as `pjs dev --together` runs them) against the sandbox, the api's in a session of its own as
    `pjs dev` starts it with PJS_API_OWN_CPU_GROUP; stop them together after."""
    api_own_cpu_group = Settings().api_own_cpu_group
    topic = await box.topic("run-events")
    groups = {role: box.group(role) for role in ("engine", "delivery", "projector", *SUBSCRIBER_ROLES)}
    port = free_loopback_port()
    with tempfile.TemporaryDirectory(prefix=f"pjs-bench-{box.prefix}-") as scratch:
        environment = {**_environment(box, topic, groups, port, scratch), **(extra_environment or {})}
        key = await api_key_in(
            box.migration_database_url, "bench"
        )  # the bench calls the API as a real client
        async with contextlib.AsyncExitStack() as stack:
            processes = {
                _label(members): await stack.enter_async_context(
                    role_process(
                        ["-m", "pjs.cli", "run", *members],
                        environment,
                        own_session=in_own_cpu_group(members, api_own_cpu_group),
                    )
                )
                for members in process_layout(roles, together=os.environ.get(WORKERS_TOGETHER) == "1")
            }
            async with (
                watching(processes, Path(scratch)) as watch,
                httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{port}",
                    timeout=60,
                    limits=client_limits or httpx.Limits(),
                    headers={"Authorization": f"Bearer {key}"},
                ) as client,
                asyncpg.create_pool(box.worker_database_url, min_size=1, max_size=2) as pool,
            ):
                try:
                    pids = {role: process.pid for role, process in processes.items()}
                    yield RunningStack(box, watch, client, key, pool, Path(scratch), pids, topic, groups)
                finally:  # stop the roles together, while their logs are still drained
                    await asyncio.gather(*(stop(p) for p in processes.values()))


def _label(members: Sequence[str]) -> str:
    """A process's name in the figures: its role, or `workers` for several."""
    return members[0] if len(members) == 1 else "workers"


async def wait_for(check: Callable[[], Awaitable[bool]], limit: float, what: str, watch: RoleWatch) -> float:
    """Await `check()` every poll until it is true; fails past `limit` or when a role exits."""
    started = time.perf_counter()
    while not await check():
        if (exited := watch.exited()) is not None:
            raise BenchFailure(f"{what}: {exited}")
        if time.perf_counter() - started > limit:
            raise BenchFailure(f"{what}: not done after {limit:.0f}s")
        await asyncio.sleep(_POLL_SECONDS)
    return time.perf_counter() - started


async def store_journey_when_ready(
    client: httpx.AsyncClient, watch: RoleWatch, journey: dict[str, Any]
) -> str:
    """Wait until the API answers /ready, then store `journey`; its id."""

    async def api_ready() -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return (await client.get("/ready")).status_code == 200
        return False

    await wait_for(api_ready, READY_SECONDS, "api start-up", watch)
    created = await client.post("/journeys", json=journey)
    created.raise_for_status()
    return str(created.json()["journeyId"])


async def generate(
    running: RunningStack, journey_id: str, load: Load, out: Path, limit: float, first: int = 0
) -> dict[str, Any]:
    """Run `bench.loadgen` as its own process (the key in its environment) and return its summary line.

    `first` numbers the requests (patients and idempotency keys) from there, so loads in one sandbox differ.
    """
    generator = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.loadgen", "--base-url", str(running.client.base_url),
        "--journey", journey_id, "--runs", str(load.runs), "--rate", str(load.rate_per_s),
        "--max-seconds", str(limit), "--out", str(out), "--first", str(first),
        cwd=_REPOSITORY, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, API_KEY_VARIABLE: running.key},
    )  # fmt: skip
    try:
        stdout, stderr = await asyncio.wait_for(generator.communicate(), limit + 15)
    finally:
        await stop(generator)
    if generator.returncode != 0:
        raise BenchFailure(f"load generator failed: {stderr.decode(errors='replace')[-600:]}")
    return dict(orjson.loads(stdout.splitlines()[-1]))


def requests_in(out: Path) -> list[dict[str, Any]]:
    """The generator's per-request lines (not its summary)."""
    return [line for line in map(orjson.loads, out.read_text().splitlines()) if "i" in line]


class ServiceCpu:
    """CPU seconds of Postgres (only this sandbox's backends) and of the whole Kafka broker since `mark`."""

    def __init__(self, box: Sandbox) -> None:
        self._pids = {s.name: s.pid for s in LocalStack(Settings()).status()}
        self._only = {"postgres": box.prefix, "kafka": None}
        self._marks: dict[str, float] = {}

    def mark(self) -> None:
        self._marks = {name: self._now(name) for name in self._pids}

    def since_mark(self) -> dict[str, float]:
        return {name: round(self._now(name) - self._marks.get(name, 0.0), 3) for name in self._pids}

    def _now(self, name: str) -> float:
        return service_cpu_seconds(self._pids[name], self._only.get(name))
