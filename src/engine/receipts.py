"""Provider receipts: a signed delivered/bounced report on one delivery becomes an event on its run, once.

The delivery id is the request's event id (sent to providers as `deliveryId`). The first receipt of a
visit is recorded; a duplicate or a receipt out of order finds the visit's `receipt` set and records
nothing. Two receipts at once race on the run's version: the loser reloads and sees the winner's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain.message_decisions import Receipt, decide_receipt
from engine.commands import MAX_ATTEMPTS, RunContended
from engine.ports import RunAppends, RunHeads, load_head
from events.catalogue import stamp
from events.pg import Queryable
from events.store import ConcurrencyConflict


@dataclass(frozen=True)
class ReceiptAccepted:
    """The receipt is on the run; `recorded` is False when an earlier receipt of the visit was kept."""

    delivery_id: UUID
    recorded: bool


@dataclass(frozen=True)
class DeliveryNotFound:
    delivery_id: UUID


async def record_receipt(
    db: Queryable,
    store: RunAppends,
    heads: RunHeads,
    *,
    delivery_id: UUID,
    receipt: Receipt,
    now: datetime,
) -> ReceiptAccepted | DeliveryNotFound:
    """Append the receipt's MessageDelivered or MessageBounced at its run's head, caused by the request."""
    for _ in range(MAX_ATTEMPTS):
        row = await db.fetchrow(
            "SELECT run_id, node_id, receipt FROM message_deliveries WHERE request_event_id = $1", delivery_id
        )
        if row is None:
            return DeliveryNotFound(delivery_id)
        event = decide_receipt(row["node_id"], receipt, row["receipt"])
        if event is None:
            return ReceiptAccepted(delivery_id, recorded=False)
        state = await load_head(heads, row["run_id"])
        envelopes = stamp(
            state.run_id,
            state.version,
            [event],
            now=now,
            causation_id=delivery_id,
            correlation_id=state.run_id,
        )
        outcome = await store.append(state.run_id, state.version, envelopes)
        if not isinstance(outcome, ConcurrencyConflict):
            return ReceiptAccepted(delivery_id, recorded=True)
    raise RunContended(f"the run of delivery {delivery_id} kept changing while its receipt was recorded")
