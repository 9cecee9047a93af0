"""The message events of a run: a message requested at a MESSAGE node, and what became of it."""

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from events.payloads import Actor, EventPayload, Sealed

MessageText = Annotated[Sealed | str | None, Field(union_mode="left_to_right")]
"""The rendered text: sealed with the patient's data key; a plain string in v1 events ("legacy clear");
None when it could not be rendered (`failure` says why)."""


class MessageRequested(EventPayload):
    """The run reached a MESSAGE node; delivery is an effect carried out after commit, per (run, node, visit).

    v2 seals the rendered `message` and records the `language` used (None: the default text), the channel
    and, when the template could not be rendered, the `failure` delivery records instead of sending.
    """

    SCHEMA_VERSION: ClassVar[int] = 2
    type: Literal["MessageRequested"] = "MessageRequested"
    node_id: str
    message: MessageText
    channel: str = "default"
    language: str | None = None
    failure: str | None = None


class MessageDelivered(EventPayload):
    """A provider accepted a requested message (`source` "send"), or reported it delivered ("receipt").

    v2 added `source`; v1 events were all "send".
    """

    SCHEMA_VERSION: ClassVar[int] = 2
    WRITTEN_BY = Actor.DELIVERY
    type: Literal["MessageDelivered"] = "MessageDelivered"
    node_id: str
    provider_message_id: str | None
    attempts: int
    source: Literal["send", "receipt"] = "send"


class MessageFailed(EventPayload):
    """Delivery of a requested message was given up on; the run itself carries on."""

    SCHEMA_VERSION: ClassVar[int] = 1
    WRITTEN_BY = Actor.DELIVERY
    type: Literal["MessageFailed"] = "MessageFailed"
    node_id: str
    reason: str
    attempts: int


class MessageBounced(EventPayload):
    """The provider's receipt says the message could not be delivered (e.g. unknown number, mailbox full)."""

    SCHEMA_VERSION: ClassVar[int] = 1
    WRITTEN_BY = Actor.API
    type: Literal["MessageBounced"] = "MessageBounced"
    node_id: str
    provider_message_id: str | None
    reason: str | None
