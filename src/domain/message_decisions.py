"""Decisions about one message: its text and language, whether it may be sent, what became of it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from domain.journey import MessageNode
from domain.message_outcomes import SendOutcome, Sent
from domain.run_state import RunState, RunStatus
from events.catalogue import MessageBounced, MessageDelivered, MessageFailed, MessageRequested, RunEvent

CANCELLED_BEFORE_SENDING: Final = "the run was cancelled before the message was sent"
DEFAULT_CHANNEL: Final = "default"


def pick_template(node: MessageNode, language: object) -> tuple[str | None, str]:
    """The language used and its template: the patient's tag, else its shorter forms ("pt-BR" then "pt"),
    else the node's `message` (language None)."""
    if not isinstance(language, str) or not node.translations:
        return None, node.message
    by_tag = {tag.lower(): (tag, text) for tag, text in node.translations}
    parts = language.lower().split("-")
    for length in range(len(parts), 0, -1):
        found = by_tag.get("-".join(parts[:length]))
        if found is not None:
            return found
    return None, node.message


def request_message(node: MessageNode, context: Mapping[str, Any]) -> MessageRequested:
    """The request for `node`, its template unrendered: the engine renders and seals it before append."""
    language, template = pick_template(node, context.get("language"))
    return MessageRequested(
        node_id=node.id, message=template, channel=node.channel or DEFAULT_CHANNEL, language=language
    )


def decide_unsent(state: RunState | None, requested: MessageRequested) -> RunEvent | None:
    """Before a send: the outcome to record instead of sending, or None to send.

    A cancelled run must not message the patient, even when its request was already queued; a message
    whose template could not be rendered fails with the reason the engine gave.
    """
    if state is not None and state.status is RunStatus.CANCELLED:
        return MessageFailed(node_id=requested.node_id, reason=CANCELLED_BEFORE_SENDING, attempts=0)
    if requested.failure is not None:
        return MessageFailed(node_id=requested.node_id, reason=requested.failure, attempts=0)
    return None


def decide_sent(requested: MessageRequested, outcome: SendOutcome) -> RunEvent:
    """After a send: the event that records what became of it."""
    if isinstance(outcome, Sent):
        return MessageDelivered(
            node_id=requested.node_id,
            provider_message_id=outcome.provider_message_id,
            attempts=outcome.attempts,
        )
    return MessageFailed(node_id=requested.node_id, reason=outcome.reason, attempts=outcome.attempts)


@dataclass(frozen=True)
class Receipt:
    """A provider's word on one delivery: delivered, or bounced with a reason (never patient data)."""

    status: Literal["delivered", "bounced"]
    provider_message_id: str | None = None
    reason: str | None = None


def decide_receipt(node_id: str, receipt: Receipt, earlier: str | None) -> RunEvent | None:
    """The event a receipt records, or None when the delivery already has one (duplicates, late receipts)."""
    if earlier is not None:
        return None
    if receipt.status == "delivered":
        return MessageDelivered(
            node_id=node_id, provider_message_id=receipt.provider_message_id, attempts=0, source="receipt"
        )
    return MessageBounced(
        node_id=node_id, provider_message_id=receipt.provider_message_id, reason=receipt.reason
    )
