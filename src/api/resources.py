"""What the HTTP edge needs at run time: the pool, event store, journeys and a clock, opened in lifespan.

The composition root hands them in (`open_backends`); the API never builds a connection itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
from fastapi import Request

from api.limits import Limits
from api.rate_limit import RateLimit
from domain.validation import DEFAULT_MIN_LOOP_DELAY_SECONDS
from engine.clock import Clock, utc_now
from engine.journey_repository import PostgresJourneyRepository
from engine.run_status import PostgresRunHeads
from events.broker import KafkaConnection
from events.patient_vault import PatientVault
from events.store import PostgresEventStore


@dataclass(frozen=True)
class Backends:
    """The opened connections the routes share; closing the pool closes them all."""

    pool: asyncpg.Pool
    store: PostgresEventStore
    heads: PostgresRunHeads
    journeys: PostgresJourneyRepository
    vault: PatientVault


OpenBackends = Callable[[], Awaitable[Backends]]


class Resources:
    """Created unopened; the app's lifespan opens and closes them."""

    def __init__(
        self,
        open_backends: OpenBackends,
        *,
        kafka: KafkaConnection,
        clock: Clock = utc_now,
        min_loop_delay_seconds: float = DEFAULT_MIN_LOOP_DELAY_SECONDS,
        limits: Limits | None = None,
        rate_limit: RateLimit | None = None,
        allowed_hosts: tuple[str, ...] = ("*",),
        cors_origins: tuple[str, ...] = (),
        receipt_secret: str | None = None,
    ) -> None:
        self.kafka = kafka
        self.receipt_secret = receipt_secret  # the providers' secret signing receipts; None: refuse them
        self.clock = clock
        self.min_loop_delay_seconds = min_loop_delay_seconds
        self.limits = limits or Limits()
        self.rate_limit = rate_limit or RateLimit()
        self.allowed_hosts = allowed_hosts
        self.cors_origins = cors_origins
        self._open_backends = open_backends
        self._backends: Backends | None = None

    async def open(self) -> None:
        self._backends = await self._open_backends()

    async def close(self) -> None:
        if self._backends is not None:
            await self._backends.pool.close()
        self._backends = None

    @property
    def pool(self) -> asyncpg.Pool:
        return self._opened().pool

    @property
    def store(self) -> PostgresEventStore:
        return self._opened().store

    @property
    def heads(self) -> PostgresRunHeads:
        return self._opened().heads

    @property
    def journeys(self) -> PostgresJourneyRepository:
        return self._opened().journeys

    @property
    def vault(self) -> PatientVault:
        return self._opened().vault

    def _opened(self) -> Backends:
        if self._backends is None:
            raise RuntimeError("resources are not open: the app's lifespan has not started")
        return self._backends


def get_resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources
