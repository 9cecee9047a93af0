"""What the HTTP edge needs at run time: the pool, event store, journeys and a clock, opened in lifespan.

The composition root hands them in (`open_backends`); the API never builds a connection itself. Every
query a route runs on a caller's behalf goes through `for_tenant`: one transaction bound to the caller's
tenant, which row-level security holds every statement to.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
from fastapi import Request

from api.api_keys import Principal
from api.bearer_tokens import TokenVerifier
from api.head_requests import answering_head
from api.key_cache import KeyCache
from api.limits import Limits
from api.rate_limit import RateLimit
from api.token_policy import SignInClient
from api.trigger_groups import TriggerGroups
from domain.run_limits import DEFAULT_RUN_LIMITS
from domain.validation import DEFAULT_MIN_LOOP_DELAY_SECONDS
from engine.clock import Clock, utc_now
from engine.journey_repository import PostgresJourneyRepository
from engine.run_status import PostgresRunHeads
from events.asyncapi import RunEventsTopic
from events.broker import KafkaConnection
from events.patient_vault import PatientVault
from events.pg import Connection, tenant_transaction
from events.store import PostgresEventStore
from subscribers.audit import record_accesses


@dataclass(frozen=True)
class TenantBackends:
    """The store, run heads, journeys and patient keys over one connection in a tenant's transaction."""

    db: Connection
    store: PostgresEventStore
    heads: PostgresRunHeads
    journeys: PostgresJourneyRepository
    vault: PatientVault

    async def audit(
        self,
        principal: Principal,
        action: str,
        now: datetime,
        *,
        run_id: UUID | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Audit the caller's act, naming its key, in this transaction (so only if the act commits). An act
        answering a HEAD is noted `"method": "HEAD"`: its status and headers were sent, not its body."""
        if answering_head.get():
            details = {**(details or {}), "method": "HEAD"}
        await record_accesses(
            self.db, [(principal.actor, run_id)], action=action, occurred_at=now, details=details
        )

    async def audit_each(
        self,
        acts: Sequence[tuple[Principal, UUID]],
        action: str,
        now: datetime,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """`audit` for many callers' acts on runs at once (triggers that shared a transaction)."""
        if acts:
            await record_accesses(
                self.db,
                [(principal.actor, run_id) for principal, run_id in acts],
                action=action,
                occurred_at=now,
                details=details,
            )

    async def patient_key_ids(self, patient_id: str) -> list[UUID]:
        """The live data keys of the tenant's patient: how their runs are found by patient id. Destroyed
        keys are left out, so an erased patient's id finds none of their history (erasure unlinks it)."""
        return await self.vault.keys.live_key_ids(self.vault.patient_ref(patient_id))


@dataclass(frozen=True)
class Backends:
    """The pool the routes share (closing it closes everything) and how to bind backends to a connection."""

    pool: asyncpg.Pool
    bind: Callable[[Connection], TenantBackends]


OpenBackends = Callable[[], Awaitable[Backends]]


class Resources:
    """Created unopened; the app's lifespan opens and closes them."""

    def __init__(
        self,
        open_backends: OpenBackends,
        *,
        kafka: KafkaConnection,
        run_events: RunEventsTopic,
        clock: Clock = utc_now,
        min_loop_delay_seconds: float = DEFAULT_MIN_LOOP_DELAY_SECONDS,
        max_events_per_decision: int = DEFAULT_RUN_LIMITS.max_events_per_decision,
        limits: Limits | None = None,
        rate_limit: RateLimit | None = None,
        allowed_hosts: tuple[str, ...] = ("*",),
        cors_origins: tuple[str, ...] = (),
        receipt_secret: str | None = None,
        ui_session_seconds: float = 8 * 3600,
        key_cache_seconds: float = 0.0,
        trigger_group_max: int = 100,
        trigger_groups_in_flight: int = 4,
        tokens: TokenVerifier | None = None,
        sign_in: SignInClient | None = None,
        stall_warning_seconds: float = 30.0,
        probes_open_from_loopback: bool = True,
        unsendable_channels: Mapping[str, str] | None = None,
    ) -> None:
        self.kafka = kafka
        self.stall_warning_seconds = stall_warning_seconds  # /ready warns of a role unheard for longer
        self.probes_open_from_loopback = probes_open_from_loopback  # else /ready and /metrics need `admin`
        self.run_events = run_events  # the topic the AsyncAPI document describes
        self.receipt_secret = receipt_secret  # the providers' secret signing receipts; None: refuse them
        self.clock = clock
        self.ui_session_seconds = ui_session_seconds  # how long a run explorer sign-in lasts
        self.min_loop_delay_seconds = min_loop_delay_seconds
        self.max_events_per_decision = max_events_per_decision  # the engine's cap, checked when saving
        # Channels this process's settings cannot send by (-> the setting that would configure each): a
        # journey naming one is refused when saved. The API's own settings decide, not the delivery role's.
        self.unsendable_channels = dict(unsendable_channels or {})
        self.limits = limits or Limits()
        self.rate_limit = rate_limit or RateLimit()
        self.allowed_hosts = allowed_hosts
        self.cors_origins = cors_origins
        self.keys = KeyCache(key_cache_seconds)
        self.tokens = tokens  # access tokens of the configured identity provider; None: API keys only
        self.sign_in = sign_in  # the run explorer as the provider's client; None: it signs in with keys
        self.triggers = TriggerGroups(  # single triggers share transactions
            self, max_items=trigger_group_max, max_in_flight=trigger_groups_in_flight
        )
        self._open_backends = open_backends
        self._backends: Backends | None = None

    async def open(self) -> None:
        self._backends = await self._open_backends()

    async def close(self) -> None:
        if self.tokens is not None:
            self.tokens.keys.close()
        if self._backends is not None:
            await self._backends.pool.close()
        self._backends = None

    @property
    def pool(self) -> asyncpg.Pool:
        return self._opened().pool

    @asynccontextmanager
    async def for_tenant(self, principal: Principal) -> AsyncIterator[TenantBackends]:
        """The backends inside one transaction bound to the caller's tenant (`pjs.tenant_id`, local to the
        transaction): row-level security shows and admits only that tenant's rows. Commits on leaving, so
        a route's answer is sent only after its writes are durable; rolls back if the route raised."""
        async with self.for_tenant_id(principal.tenant_id) as bound:
            yield bound

    @asynccontextmanager
    async def for_tenant_id(
        self, tenant_id: UUID, *, generic_plans: bool = False
    ) -> AsyncIterator[TenantBackends]:
        """`for_tenant` for a caller known by its tenant alone (a provider's signed receipt); `generic_plans`
        as `events.pg.tenant_transaction` takes it."""
        backends = self._opened()
        async with (
            backends.pool.acquire() as connection,
            tenant_transaction(connection, tenant_id, generic_plans=generic_plans),
        ):
            yield backends.bind(connection)

    def _opened(self) -> Backends:
        if self._backends is None:
            raise RuntimeError("resources are not open: the app's lifespan has not started")
        return self._backends


async def get_resources(request: Request) -> Resources:  # async: FastAPI runs a plain def in a thread
    resources: Resources = request.app.state.resources
    return resources
