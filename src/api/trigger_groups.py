"""Single triggers in groups: concurrent `POST /journeys/{journeyId}/trigger` requests of one tenant and
journey share transactions (`api.group_commit`), run by the code `trigger-batch` uses.

Up to PJS_API_TRIGGER_GROUPS_IN_FLIGHT transactions of a (tenant, journey) run at once in an API process;
a trigger that finds fewer starts its own at once. Beyond that, the triggers that arrive wait and go
together in the next transaction (up to PJS_API_TRIGGER_GROUP_MAX). Each request keeps its own answer,
its own audit row naming its key, and its own trace context on its run's first events. A group that
fails for the store's sake (lost, busy, a race: what is answered 503) fails each of its requests; one that
fails otherwise, an event too large or an error no check foresaw in one request's values, is tried again
in halves (`api.group_commit.answers_apart`), so only the request at fault gets that error and every other
its run (a few requests at fault are set apart; past that budget the rest still failing get the error).

A request that gives up (its deadline passed, its client left) while its group is in flight cannot take
its run back: the other requests' runs commit with it. Its run may be started although it was answered
503; a retry with the same Idempotency-Key finds that run (202, the same id), as after a lost answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

from api.api_keys import Principal
from api.errors import store_failure
from api.group_commit import GroupCommit
from engine.batch_trigger import BatchItem, ItemOutcome, trigger_runs
from engine.commands import JourneyNotFound, RunAccepted
from events import tracing
from events.append_statement import AlongsideWrite
from events.errors import StoreUnavailable
from subscribers.audit import accesses_alongside

if TYPE_CHECKING:
    from api.resources import Resources

TriggerOutcome = ItemOutcome | JourneyNotFound
GroupKey = tuple[UUID, UUID]  # (tenant, journey)
GROUP_SPAN = "pjs.api.trigger_group"
TRIGGERED = "RunTriggered"
GENERIC_PLANS_UP_TO = 16
"""A group of at most this many triggers plans its statements once per session (`events.pg.
tenant_transaction` says why): measured on `append_events`, a generic plan took 0.6 ms for one run where
planning for the values took 1.4, the two were even at about 30 runs, and the custom plan was the faster
from 60 on."""


@dataclass(frozen=True)
class Trigger:
    principal: Principal
    item: BatchItem


def _abandoned() -> Exception:
    return StoreUnavailable("the API process stopped before this trigger's transaction ended")


class TriggerGroups:
    def __init__(self, resources: Resources, *, max_items: int, max_in_flight: int) -> None:
        self._resources = resources
        self._groups: GroupCommit[GroupKey, Trigger, TriggerOutcome] = GroupCommit(
            self._start,
            max_items=max_items,
            max_in_flight=max_in_flight,
            abandoned=_abandoned,
            shared=store_failure,
        )

    async def trigger(self, principal: Principal, journey_id: UUID, item: BatchItem) -> TriggerOutcome:
        """Start the item's run (or find it started by its idempotency key), or say why not."""
        return await self._groups.submit((principal.tenant_id, journey_id), Trigger(principal, item))

    async def _start(self, key: GroupKey, triggers: Sequence[Trigger]) -> Sequence[TriggerOutcome]:
        tenant_id, journey_id = key
        traces = [trigger.item.trace for trigger in triggers if trigger.item.trace is not None]
        # The first request's child, linking the others: the transaction's queries are in a trace.
        with tracing.batch_span(GROUP_SPAN, traces):
            return await self._start_in_transaction(tenant_id, journey_id, triggers)

    async def _start_in_transaction(
        self, tenant_id: UUID, journey_id: UUID, triggers: Sequence[Trigger]
    ) -> Sequence[TriggerOutcome]:
        small = len(triggers) <= GENERIC_PLANS_UP_TO
        async with self._resources.for_tenant_id(tenant_id, generic_plans=small) as scope:
            now = self._resources.clock()

            def audit_starts(indexes: Sequence[int]) -> AlongsideWrite:
                acts = [(triggers[index].principal.actor, triggers[index].item.run_id) for index in indexes]
                return accesses_alongside(acts, action=TRIGGERED, occurred_at=now)

            outcomes = await trigger_runs(
                scope.store, scope.heads, scope.journeys,
                journey_id=journey_id, items=[trigger.item for trigger in triggers], now=now,
                sealer=scope.vault, audit_starts=audit_starts,
            )  # fmt: skip
            if not isinstance(outcomes, list):
                return [outcomes] * len(triggers)
            # The starts were audited with their append; a trigger answered with a run it did not start
            # (its key's earlier run, or a repeat in this group) is audited here, marked as such.
            found = [
                (trigger.principal, outcome.run_id)
                for trigger, outcome in zip(triggers, outcomes, strict=True)
                if isinstance(outcome, RunAccepted) and not outcome.created
            ]
            await scope.audit_each(found, TRIGGERED, now, details={"replayed": True})
        return outcomes
