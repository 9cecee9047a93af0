"""Run commands (cancel; triggers are in `engine.batch_trigger`): load the run's head, ask the pure decider,
append what it decided.

Like every worker, the commands decide from the run's head in `run_status`, which every append writes in
its own transaction; a head that moved meanwhile makes the append a conflict, and the command decides again.

Refusals (unknown journey or run, a finished run, a reused idempotency key) are values; a run that keeps
changing under a cancel is an exception (`RunContended`), as is a store that cannot be reached.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Final, Protocol
from uuid import UUID

from domain.decider import CancelRefusal, CancelRefused, decide_cancel
from domain.run_state import RunState, RunStatus
from domain.validation import Problem
from engine.journey_repository import StoredJourney
from engine.ports import RunAppends, RunHeads, load_head
from events.catalogue import RecordedEvent, RunEvent, stamp
from events.store import ConcurrencyConflict
from events.tenancy import DEFAULT_TENANT_ID

log = logging.getLogger(__name__)

MAX_ATTEMPTS: Final = 5

# Fixed forever: a retried trigger must map its idempotency key to the same run id in every release.
IDEMPOTENCY_NAMESPACE: Final = UUID("0f6f3c2e-8a7b-4c1d-9e52-6b1d4a7e3c90")


class LatestJourneys(Protocol):
    """Where a trigger finds the journey version a new run is pinned to."""

    async def latest(self, journey_id: UUID) -> StoredJourney | None: ...


class RunContended(Exception):
    """The run kept changing under the command; nothing was written. Safe to retry."""


@dataclass(frozen=True)
class RunAccepted:
    """The run exists on `journey_version`; `created` is False when an idempotent retry found it started."""

    run_id: UUID
    journey_version: int
    created: bool


@dataclass(frozen=True)
class JourneyNotFound:
    journey_id: UUID


@dataclass(frozen=True)
class PatientContextUnfit:
    """The context lacks what the journey needs (an address for its channels, a date its waits count from)."""

    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class IdempotencyKeyReused:
    """The idempotency key already started a run with another patient context."""

    run_id: UUID


@dataclass(frozen=True)
class IdempotencyKeyOfErasedRun:
    """The idempotency key started a run whose patient was erased since: the key starts nothing more, and
    the answer names no run (the key may be a booking number that would re-link the erased run)."""


@dataclass(frozen=True)
class RunCancelAccepted:
    run_id: UUID
    version: int


@dataclass(frozen=True)
class RunNotFound:
    run_id: UUID


@dataclass(frozen=True)
class RunAlreadyFinished:
    run_id: UUID
    status: RunStatus


def run_id_for_key(tenant_id: UUID, journey_id: UUID, idempotency_key: str) -> UUID:
    """The run id a trigger with this idempotency key gets, the same on every retry; the same key in two
    tenants makes two runs. The default tenant keeps the id it had before tenancy, so a retry of a
    request made before the upgrade still finds its run.

    It is `uuid5(IDEMPOTENCY_NAMESPACE, "[tenant:]journey:key")` (see `id_for_key`).
    """
    return id_for_key(tenant_id, journey_id, idempotency_key)


def id_for_key(tenant_id: UUID, subject: UUID | str, idempotency_key: str) -> UUID:
    """The id a write with this idempotency key gets, the same on every retry: a run's (the subject is
    its journey), a journey's (`"journeys"`) or a journey version's (`"versions:<journey id>"`).

    It is `uuid5(IDEMPOTENCY_NAMESPACE, "[tenant:]subject:key")`, hashed from the (tenant, subject)
    prefix's digest state: a batch of a thousand keys formats the two ids once, not a thousand times.
    """
    digest = _prefix_digest(tenant_id, subject).copy()
    digest.update(idempotency_key.encode())
    return UUID(bytes=digest.digest()[:16], version=5)


@lru_cache(maxsize=1024)
def _prefix_digest(tenant_id: UUID, subject: UUID | str) -> hashlib._Hash:
    scope = "" if tenant_id == DEFAULT_TENANT_ID else f"{tenant_id}:"
    return hashlib.sha1(IDEMPOTENCY_NAMESPACE.bytes + f"{scope}{subject}:".encode(), usedforsecurity=False)


async def cancel_run(
    store: RunAppends, heads: RunHeads, *, run_id: UUID, reason: str | None, now: datetime
) -> RunCancelAccepted | RunNotFound | RunAlreadyFinished:
    """Cancel a run that is in progress or waiting; its pending delay goes in the same transaction."""
    for _ in range(MAX_ATTEMPTS):
        state = await load_head(heads, run_id)
        decision = decide_cancel(state, reason=reason)
        if isinstance(decision, CancelRefused):
            return _cancel_refused(run_id, decision)
        outcome = await _append(store, state, decision, now)
        if not isinstance(outcome, ConcurrencyConflict):
            log.info("run %s cancelled", run_id)
            return RunCancelAccepted(run_id, outcome[-1].version)
        # The engine or the timer advanced the run meanwhile: decide again on its new state.
    raise RunContended(f"run {run_id} kept changing while it was being cancelled")


async def _append(
    store: RunAppends, state: RunState, events: Sequence[RunEvent], now: datetime
) -> list[RecordedEvent] | ConcurrencyConflict:
    envelopes = stamp(
        state.run_id, state.version, events, now=now, causation_id=None, correlation_id=state.run_id
    )
    return await store.append(state.run_id, state.version, envelopes)


def _cancel_refused(run_id: UUID, refused: CancelRefused) -> RunNotFound | RunAlreadyFinished:
    if refused.refusal is CancelRefusal.ALREADY_FINISHED and refused.status is not None:
        return RunAlreadyFinished(run_id, refused.status)
    return RunNotFound(run_id)
