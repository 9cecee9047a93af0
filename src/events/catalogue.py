"""The run event catalogue: frozen payload models, their discriminated union, and their envelopes."""

from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, assert_never, get_args
from uuid import UUID, uuid5

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field


def _to_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware datetime, normalised to UTC; naive datetimes are rejected."""

Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class Actor(StrEnum):
    """The part of the system that writes an event type (the audit log names it as the actor)."""

    API = "api"
    ENGINE = "engine"
    TIMER = "timer"
    DELIVERY = "delivery"


class _Payload(BaseModel):
    """Per-type facts are class variables, so every fact about a type sits beside its fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    SCHEMA_VERSION: ClassVar[int]
    WRITTEN_BY: ClassVar[Actor] = Actor.ENGINE
    WAKES_ENGINE: ClassVar[bool] = False  # the engine decides the run's next steps after it
    ENDS_RUN: ClassVar[bool] = False  # the run never changes status again
    ENDS_DELAY: ClassVar[bool] = False  # a pending delay of the run is over (fired, or the run ended)


class Sealed(BaseModel):
    """A value encrypted with one patient's data key (AES-256-GCM), named by `key_id`.

    `ciphertext` is base64 of nonce + ciphertext + tag: unreadable anywhere once the key is destroyed.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_id: UUID
    ciphertext: str


PatientContext = Annotated[Sealed | dict[str, Any], Field(union_mode="left_to_right")]
"""A stored patient context: sealed, or a plain dict for legacy events appended before v3 (see upcasting)."""


class RunStarted(_Payload):
    """A patient was put on a journey; v2 added `journey_version`, v3 seals `patient_context`.

    v1/v2 payloads held the context in clear; they read as v3 with a plain dict ("legacy clear").
    """

    SCHEMA_VERSION: ClassVar[int] = 3
    WRITTEN_BY = Actor.API
    WAKES_ENGINE = True
    type: Literal["RunStarted"] = "RunStarted"
    journey_id: UUID
    journey_version: int
    start_node_id: str
    patient_context: PatientContext


class MessageRequested(_Payload):
    """The run reached a MESSAGE node; delivery is an effect carried out after commit, keyed (run, node)."""

    SCHEMA_VERSION: ClassVar[int] = 1
    type: Literal["MessageRequested"] = "MessageRequested"
    node_id: str
    message: str
    channel: str = "default"


class MessageDelivered(_Payload):
    """A provider accepted a requested message."""

    SCHEMA_VERSION: ClassVar[int] = 1
    WRITTEN_BY = Actor.DELIVERY
    type: Literal["MessageDelivered"] = "MessageDelivered"
    node_id: str
    provider_message_id: str | None
    attempts: int


class MessageFailed(_Payload):
    """Delivery of a requested message was given up on; the run itself carries on."""

    SCHEMA_VERSION: ClassVar[int] = 1
    WRITTEN_BY = Actor.DELIVERY
    type: Literal["MessageFailed"] = "MessageFailed"
    node_id: str
    reason: str
    attempts: int


class DelayStarted(_Payload):
    """The run is waiting in a DELAY node until `resume_at`."""

    SCHEMA_VERSION: ClassVar[int] = 1
    type: Literal["DelayStarted"] = "DelayStarted"
    node_id: str
    duration_seconds: Seconds
    resume_at: UtcDatetime


class DelayElapsed(_Payload):
    """The timer fired for a waiting run; the run continues after the DELAY node."""

    SCHEMA_VERSION: ClassVar[int] = 1
    WRITTEN_BY = Actor.TIMER
    WAKES_ENGINE = True
    ENDS_DELAY = True
    type: Literal["DelayElapsed"] = "DelayElapsed"
    node_id: str
    resume_at: UtcDatetime
    fired_at: UtcDatetime


class ConditionEvaluated(_Payload):
    """A CONDITIONAL node was evaluated against the patient context and a branch chosen."""

    SCHEMA_VERSION: ClassVar[int] = 1
    type: Literal["ConditionEvaluated"] = "ConditionEvaluated"
    node_id: str
    field: str
    operator: str
    result: bool
    next_node_id: str | None


class RunCompleted(_Payload):
    """The run walked off the end of its journey."""

    SCHEMA_VERSION: ClassVar[int] = 1
    ENDS_RUN = True
    ENDS_DELAY = True
    type: Literal["RunCompleted"] = "RunCompleted"
    last_node_id: str | None


class RunFailed(_Payload):
    """The run cannot go on (e.g. its journey points at a missing node)."""

    SCHEMA_VERSION: ClassVar[int] = 1
    ENDS_RUN = True
    ENDS_DELAY = True
    type: Literal["RunFailed"] = "RunFailed"
    node_id: str | None
    reason: str


class RunCancelled(_Payload):
    """The run was cancelled on request."""

    SCHEMA_VERSION: ClassVar[int] = 1
    WRITTEN_BY = Actor.API
    ENDS_RUN = True
    ENDS_DELAY = True
    type: Literal["RunCancelled"] = "RunCancelled"
    node_id: str | None
    reason: str | None


class PatientErased(_Payload):
    """The patient's data key was destroyed (holds only its id); may follow a terminal event."""

    SCHEMA_VERSION: ClassVar[int] = 1
    WRITTEN_BY = Actor.API
    type: Literal["PatientErased"] = "PatientErased"
    key_id: UUID | None


AnyRunEvent = (
    RunStarted
    | MessageRequested
    | MessageDelivered
    | MessageFailed
    | DelayStarted
    | DelayElapsed
    | ConditionEvaluated
    | RunCompleted
    | RunFailed
    | RunCancelled
    | PatientErased
)
"""Every run event type: the one place that lists them."""

RunEvent = Annotated[AnyRunEvent, Field(discriminator="type")]

RunEventClass = type[AnyRunEvent]

EVENT_TYPES: dict[str, RunEventClass] = {cls.__name__: cls for cls in get_args(AnyRunEvent)}
"""Type name -> payload class, for decoding by the stored type name."""

WAKE_UP_TYPES: tuple[RunEventClass, ...] = tuple(cls for cls in EVENT_TYPES.values() if cls.WAKES_ENGINE)
"""Events after which the engine must decide the run's next steps."""


def is_wake_up(event: RunEvent) -> bool:
    """True for events the engine reacts to by calling the decider."""
    return event.WAKES_ENGINE


def is_terminal(event: RunEvent) -> bool:
    """True for events that finish a run."""
    return event.ENDS_RUN


def ends_delay(event: RunEvent) -> bool:
    """True for events after which the run no longer sleeps in a delay."""
    return event.ENDS_DELAY


def node_of(event: RunEvent) -> str | None:
    """The journey node an event is about, for read models that group by node."""
    match event:
        case RunStarted():
            return event.start_node_id
        case RunCompleted():
            return event.last_node_id
        case (
            MessageRequested()
            | MessageDelivered()
            | MessageFailed()
            | DelayStarted()
            | DelayElapsed()
            | ConditionEvaluated()
            | RunFailed()
            | RunCancelled()
        ):
            return event.node_id
        case PatientErased():
            return None
        case _:
            assert_never(event)


class NewEvent(BaseModel):
    """An event about to be appended to a run's stream: payload plus envelope metadata."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID
    run_id: UUID
    version: int = Field(ge=1, description="Position in the run's stream, 1-based.")
    recorded_at: UtcDatetime
    causation_id: UUID | None
    correlation_id: UUID | None
    event: RunEvent


class RecordedEvent(NewEvent):
    """An event as read back from the store, with its global position and its run's tenant."""

    position: int
    tenant_id: UUID | None = None  # None only where no store said it: the default tenant


EVENT_ID_NAMESPACE = UUID("5b0c7f3e-2a41-4d6e-9a57-3c1f0e8d9b21")  # never change: re-made decisions keep ids


def event_id_for(run_id: UUID, version: int) -> UUID:
    """The deterministic event id for stream slot (run, version): a re-made decision gets the same id."""
    return uuid5(EVENT_ID_NAMESPACE, f"{run_id}:{version}")


def stamp(
    run_id: UUID,
    expected_version: int,
    events: Sequence[RunEvent],
    *,
    now: datetime,
    causation_id: UUID | None,
    correlation_id: UUID | None,
) -> list[NewEvent]:
    """Wrap decided events in envelopes numbered expected_version+1, +2, ... for one append."""
    return [
        NewEvent(
            event_id=event_id_for(run_id, version),
            run_id=run_id,
            version=version,
            recorded_at=now,
            causation_id=causation_id,
            correlation_id=correlation_id,
            event=event,
        )
        for version, event in enumerate(events, start=expected_version + 1)
    ]
