"""Races the engine must survive, staged deterministically: another writer between its read and its append."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from uuid import UUID

from domain.run_state import RunState
from engine.ports import RunHeads
from events.catalogue import MessageDelivered, stamp
from events.store import EventStore


class DeliveryRacingTheEngine:
    """Run heads (wrapping real or fake ones) that let a delivery outcome for `node_id` land on each run
    right after the engine read it, once."""

    def __init__(self, heads: RunHeads, store: EventStore, node_id: str) -> None:
        self._heads = heads
        self._store = store
        self._node_id = node_id
        self.raced = False

    async def load(self, run_ids: Collection[UUID]) -> dict[UUID, RunState]:
        states = await self._heads.load(run_ids)
        if not self.raced:
            self.raced = True
            for run_id, state in states.items():
                delivered = MessageDelivered(node_id=self._node_id, provider_message_id=None, attempts=1)
                outcome = stamp(
                    run_id,
                    state.version,
                    [delivered],
                    now=datetime.now(UTC),
                    causation_id=None,
                    correlation_id=None,
                )
                await self._store.append(run_id, state.version, outcome)
        return states
