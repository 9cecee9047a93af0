"""What became of one attempt to send a message: values the channel adapters return to the decider."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sent:
    """A provider accepted the message."""

    provider_message_id: str | None
    attempts: int


@dataclass(frozen=True)
class NotSent:
    """The message was given up on."""

    reason: str  # never patient data: status codes and error kinds only
    attempts: int


SendOutcome = Sent | NotSent
