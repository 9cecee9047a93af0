"""The faults, each a named scenario: `inject` does it to the running stack and returns once it is over."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg
import psutil

from faults.provider import Provider
from faults.roles import Role, RoleSet
from faults.services import Services, kill_and_reap, signal_all
from pjs.roles import ROLES

ROLE_DOWN_SECONDS = 2.0  # a killed role stays down this long before it is started again
SERVICE_DOWN_SECONDS = 3.0
ENGINE_GROUP_SECONDS = 15.0
PROVIDER_PHASE_SECONDS = 10.0


@dataclass
class Target:
    """What a fault can reach: the roles and services this suite started, and the fake provider."""

    roles: RoleSet
    services: Services
    provider: Provider
    database_url: str
    note: list[str] = field(default_factory=list)  # what the fault did, for the report


Inject = Callable[[Target], Awaitable[None]]


@dataclass(frozen=True)
class Fault:
    name: str
    inject: Inject
    describes: str
    extra_roles: tuple[str, ...] = ()  # started beside the usual one of each role


def _kill_role(name: str) -> Inject:
    async def inject(target: Target) -> None:
        role = target.roles.of(name)[0]
        target.roles.kill(role)
        await asyncio.sleep(ROLE_DOWN_SECONDS)
        target.roles.start(name)

    return inject


async def _kill_broker(target: Target) -> None:
    """The broker must come back as a new process of its own: anything else fails the fault loudly."""
    killed = target.services.kafka.pid()
    kill_and_reap(target.services.kafka_processes())
    await asyncio.sleep(SERVICE_DOWN_SECONDS)
    started = await asyncio.to_thread(target.services.kafka.up)
    await target.services.confirm_broker_restarted(killed, started)
    target.note.append(f"broker pid {killed} killed, pid {target.services.kafka.pid()} listening")


def _freeze(processes: Callable[[Services], list[psutil.Process]], seconds: float) -> Inject:
    async def inject(target: Target) -> None:
        frozen = processes(target.services)
        signal_all(frozen, signal.SIGSTOP)
        try:
            await asyncio.sleep(seconds)
        finally:
            signal_all(frozen, signal.SIGCONT)

    return inject


async def _kill_postgres(target: Target) -> None:
    kill_and_reap(target.services.postgres_processes())
    await asyncio.sleep(SERVICE_DOWN_SECONDS)
    await asyncio.to_thread(target.services.postgres.up)


async def _kill_relay_leader(target: Target) -> None:
    leader = await _relay_leader(target)
    target.note.append(f"leader pid {leader.pid} of {len(target.roles.of('relay'))} relays")
    target.roles.kill(leader)
    await asyncio.sleep(ROLE_DOWN_SECONDS)
    target.roles.start("relay")


async def _relay_leader(target: Target) -> Role:
    """The relay process whose Postgres connection holds the relay's advisory lock."""
    for _ in range(100):
        connection = await asyncpg.connect(target.database_url)
        try:
            port = await connection.fetchval(
                "SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()"
            )
        finally:
            await connection.close()
        for role in target.roles.of("relay"):
            ports = {c.laddr.port for c in psutil.Process(role.pid).net_connections("tcp")}
            if port in ports:
                return role
        await asyncio.sleep(0.2)
    raise RuntimeError("no relay process holds the relay lock")


async def _grow_engine_group(target: Target) -> None:
    added = [target.roles.start("engine") for _ in range(2)]
    await asyncio.sleep(ENGINE_GROUP_SECONDS)
    for role in added:
        await target.roles.stop(role)


async def _provider_outage(target: Target) -> None:
    target.provider.mode = "fail"
    await asyncio.sleep(PROVIDER_PHASE_SECONDS)
    target.provider.mode = "hang"
    await asyncio.sleep(PROVIDER_PHASE_SECONDS)
    target.provider.mode = "accept"


def _role_faults() -> list[Fault]:
    return [
        Fault(f"kill-{name}", _kill_role(name), f"SIGKILL of the {name} role, restarted") for name in ROLES
    ]


async def _nothing(target: Target) -> None:
    await asyncio.sleep(ROLE_DOWN_SECONDS)


def all_faults(broker_freeze: float = 30.0, postgres_freeze: float = 20.0) -> list[Fault]:
    return [
        Fault("baseline", _nothing, "no fault: the recovery time of the load alone (delay included)"),
        *_role_faults(),
        Fault("kill-broker", _kill_broker, "SIGKILL of the Kafka broker, restarted"),
        Fault(
            "freeze-broker",
            _freeze(Services.kafka_processes, broker_freeze),
            f"SIGSTOP of the Kafka broker for {broker_freeze:.0f} s, then SIGCONT",
        ),
        Fault("kill-postgres", _kill_postgres, "SIGKILL of Postgres (every process), restarted"),
        Fault(
            "freeze-postgres",
            _freeze(Services.postgres_processes, postgres_freeze),
            f"SIGSTOP of Postgres (every process) for {postgres_freeze:.0f} s, then SIGCONT",
        ),
        Fault(
            "kill-relay-leader",
            _kill_relay_leader,
            "SIGKILL of the leading relay with a standby relay running, restarted",
            extra_roles=("relay",),
        ),
        Fault("engine-group-1-3-1", _grow_engine_group, "engine group grows from 1 to 3 processes and back"),
        Fault("provider-outage", _provider_outage, "webhook provider answers 500, then hangs, then recovers"),
    ]


QUICK_NAMES = ("kill-engine", "kill-relay", "kill-broker", "freeze-postgres")


def quick_faults() -> list[Fault]:
    return [fault for fault in all_faults(postgres_freeze=5.0) if fault.name in QUICK_NAMES]
