"""One fault under load: a fresh database and topic, the roles, the load, the fault, recovery, the checks."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg
from bench.sandbox import api_key_in, close_sandbox, open_sandbox

from faults import invariants
from faults.client import Api
from faults.config import STATE_DIR, Sizes, role_settings
from faults.faults import Fault, Target
from faults.load import Acknowledged, Load, reference_journey
from faults.provider import Provider
from faults.replay_check import replay_differences
from faults.roles import RoleSet
from faults.services import Services
from pjs.roles import ROLES

_START_SECONDS = 90.0  # the API answering /ready, and the first run completed, after the roles start
_POLL_SECONDS = 0.5


@dataclass
class Outcome:
    fault: str
    describes: str
    runs: int = 0  # acknowledged
    triggered: int = 0
    recovery_seconds: float | None = None
    ready_seen: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


async def run_fault(fault: Fault, sizes: Sizes, services: Services, provider: Provider) -> Outcome:
    outcome = Outcome(fault.name, fault.describes)
    prefix = f"faults_{fault.name.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
    databases = services.databases()
    try:
        box = await open_sandbox(databases, services.kafka_connection(), prefix, sizes.partitions)
        topic = await box.topic("run-events")
    except Exception as error:  # e.g. a service an earlier fault left down: this fault fails, loudly
        outcome.violations.append(_suite_error("set-up", error))
        outcome.notes.append(f"database and topic prefix {prefix}")
        return outcome
    roles = RoleSet(role_settings(box, topic, fault.name, provider.url), STATE_DIR / "logs" / prefix)
    api = Api(await api_key_in(box.migration_database_url, "fault-suite"))
    try:
        for name in (*ROLES, *fault.extra_roles):
            roles.start(name)
        target = Target(roles, services, provider, box.worker_database_url, outcome.notes)
        await _under_load(fault, target, api, sizes, outcome)
        await roles.stop_all()
        outcome.violations += await replay_differences(box.migration_database_url)
    except Exception as error:  # reported as the fault's result; the next fault still runs
        outcome.violations.append(_suite_error("under load", error))
    finally:
        await roles.stop_all()
        await api.close()
    if outcome.violations:  # kept for a look; a clean fault's database, topic and groups are dropped
        outcome.notes.append(f"database and topic prefix {prefix}, logs {roles.log_dir}")
    else:
        await close_sandbox(box, databases.admin_url)
    return outcome


async def _under_load(fault: Fault, target: Target, api: Api, sizes: Sizes, outcome: Outcome) -> None:
    await _until(lambda: _is_ready(api), _START_SECONDS, "the API to be ready")
    load = Load(api, await api.create_journey(reference_journey(sizes.delay_seconds)), sizes)
    done = asyncio.Event()
    load_task = asyncio.create_task(load.run_until(done))
    try:
        await _until(lambda: _warmed_up(target, load), _START_SECONDS, "the first run to complete")
        ready_seen: set[str] = set()
        fault_over = asyncio.Event()
        sampler = asyncio.create_task(_sample_readiness(api, ready_seen, fault_over))
        try:
            await fault.inject(target)
        finally:
            fault_over.set()
            await sampler  # its last probe began during the fault: its answer counts too
        fault_ended = time.monotonic()
        backlog = list(load.runs)
        done.set()
        outcome.ready_seen = sorted(ready_seen)
        outcome.recovery_seconds = await _drained(target.database_url, backlog, fault_ended, sizes)
        await load_task
    finally:
        done.set()
        await load_task
    outcome.runs, outcome.triggered = len(load.runs), load.triggered
    outcome.notes.append(f"{load.skipped} ticks skipped (too many requests in flight)")
    outcome.violations += await _checks(target, load.runs, sizes, outcome.recovery_seconds)


async def _checks(
    target: Target, runs: list[Acknowledged], sizes: Sizes, recovery: float | None
) -> list[str]:
    found = [f"backlog not drained within {sizes.recovery_seconds:.0f} s"] if recovery is None else []
    run_ids = [run.run_id for run in runs]
    connection = await asyncpg.connect(target.database_url)
    try:
        with contextlib.suppress(TimeoutError):  # what is still unfinished is reported just below
            await _until(lambda: invariants.quiet(connection), sizes.recovery_seconds, "quiet")
        found += await invariants.terminal_states(connection, runs)
        found += await invariants.repeated_decisions(connection, run_ids)
        found += await invariants.early_delays(connection, run_ids)
        found += await invariants.timelines(connection, run_ids)
    finally:
        await connection.close()
    found += invariants.provider_sends(target.provider)
    if resent := target.provider.resends():
        target.note.append(
            f"{resent} send(s) repeated under their key after a crash (the provider sent once)"
        )
    found += [f"role {line} on its own" for line in target.roles.exited()]
    return found


async def _drained(database_url: str, runs: list[Acknowledged], since: float, sizes: Sizes) -> float | None:
    """Seconds from `since` until every run in `runs` is terminal with its messages' outcomes recorded;
    None if not within the time limit."""
    while time.monotonic() - since < sizes.recovery_seconds:
        try:
            connection = await asyncpg.connect(database_url, timeout=5)
            try:
                left = await invariants.unfinished(connection, runs)
            finally:
                await connection.close()
            if left == 0:
                return round(time.monotonic() - since, 1)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            pass  # the database is still coming back
        await asyncio.sleep(_POLL_SECONDS)
    return None


async def _warmed_up(target: Target, load: Load) -> bool:
    if load.triggered < load.sizes.runs // 3 or not load.runs:
        return False
    connection = await asyncpg.connect(target.database_url)
    try:
        found = await invariants.statuses(connection, load.runs[:1])
    finally:
        await connection.close()
    return found.get(load.runs[0].run_id) in invariants.TERMINAL


async def _is_ready(api: Api) -> bool:
    answer = await api.ready()
    return answer is not None and answer.get("status") == "ready"


async def _sample_readiness(api: Api, seen: set[str], fault_over: asyncio.Event) -> None:
    """What /ready said during the fault: "ready", the dependencies it reported down with its status
    ("kafka down (ready)": Kafka down leaves the API ready), or "no answer"."""
    while not fault_over.is_set():
        answer = await api.ready()
        if answer is None:
            seen.add("no answer")
        else:
            down = "+".join(sorted(k for k, v in answer.get("checks", {}).items() if v != "ok"))
            status = str(answer.get("status"))
            seen.add(status if not down else f"{down} down ({status})")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(fault_over.wait(), 1.0)


async def _until(check: Callable[[], Awaitable[bool]], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(_POLL_SECONDS)
    raise TimeoutError(f"gave up waiting for {what} after {seconds:.0f} s")


def _suite_error(stage: str, error: Exception) -> str:
    return f"suite ({stage}): {type(error).__name__}: {error}"
