"""Single triggers in groups: concurrent `POST /journeys/{journeyId}/trigger` requests of one tenant and
journey share one transaction (`api.group_commit`), the one `trigger-batch` uses.

A lone trigger starts its transaction at once; the triggers arriving while it is in flight go together in
the next (up to PJS_API_TRIGGER_GROUP_MAX). Each request keeps its own answer, its own audit row naming
its key, and its own trace context on its run's first events.

A request that gives up while its group is in flight (its deadline passed, its client left) cannot take
its run back: the other requests' runs commit with it. Its run may be started although it was answered
503; a retry with the same Idempotency-Key finds that run (202, the same id), as after a lost answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

from api.api_keys import Principal
from api.group_commit import GroupCommit
from engine.batch_trigger import BatchItem, ItemOutcome, trigger_runs
from engine.commands import JourneyNotFound, RunAccepted

if TYPE_CHECKING:
    from api.resources import Resources

TriggerOutcome = ItemOutcome | JourneyNotFound
GroupKey = tuple[UUID, UUID]  # (tenant, journey)


@dataclass(frozen=True)
class Trigger:
    principal: Principal
    item: BatchItem


class TriggerGroups:
    def __init__(self, resources: Resources, max_items: int) -> None:
        self._resources = resources
        self._groups: GroupCommit[GroupKey, Trigger, TriggerOutcome] = GroupCommit(self._start, max_items)

    async def trigger(self, principal: Principal, journey_id: UUID, item: BatchItem) -> TriggerOutcome:
        """Start the item's run (or find it started by its idempotency key), or say why not."""
        return await self._groups.submit((principal.tenant_id, journey_id), Trigger(principal, item))

    async def _start(self, key: GroupKey, triggers: Sequence[Trigger]) -> Sequence[TriggerOutcome]:
        tenant_id, journey_id = key
        async with self._resources.for_tenant_id(tenant_id) as scope:
            now = self._resources.clock()
            outcomes = await trigger_runs(
                scope.store, scope.heads, scope.journeys,
                journey_id=journey_id, items=[trigger.item for trigger in triggers], now=now,
                sealer=scope.vault,
            )  # fmt: skip
            if not isinstance(outcomes, list):
                return [outcomes] * len(triggers)
            accepted = [
                (trigger.principal, outcome.run_id)
                for trigger, outcome in zip(triggers, outcomes, strict=True)
                if isinstance(outcome, RunAccepted)
            ]
            await scope.audit_each(accepted, "RunTriggered", now)
        return outcomes
