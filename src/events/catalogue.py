"""The run event catalogue: frozen payload models, their discriminated union, and their envelopes."""

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, ClassVar, Literal, assert_never, get_args
from uuid import UUID, uuid5

from pydantic import BaseModel, ConfigDict, Field

from events.message_events import MessageBounced, MessageDelivered, MessageFailed, MessageRequested
from events.payloads import Actor, EventPayload, PatientContext, Sealed, Seconds, UtcDatetime

__all__ = [
    "Actor",
    "MessageBounced",
    "MessageDelivered",
    "MessageFailed",
    "MessageRequested",
    "PatientContext",
    "Sealed",
    "UtcDatetime",
]


class RunStarted(EventPayload):
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


class DelayStarted(EventPayload):
    """The run is waiting in a DELAY node (or before a MESSAGE, for quiet hours) until `resume_at`.

    v2 added `reason`: None for duration_seconds, else until_local_time, until_field, moment_already_past
    (continues at once) or quiet_hours; v1 events read as None.
    """

    SCHEMA_VERSION: ClassVar[int] = 2
    type: Literal["DelayStarted"] = "DelayStarted"
    node_id: str
    duration_seconds: Seconds
    resume_at: UtcDatetime
    reason: str | None = None


class DelayElapsed(EventPayload):
    """The timer fired for a waiting run; the run continues after the DELAY node."""

    SCHEMA_VERSION: ClassVar[int] = 1
    WRITTEN_BY = Actor.TIMER
    WAKES_ENGINE = True
    ENDS_DELAY = True
    type: Literal["DelayElapsed"] = "DelayElapsed"
    node_id: str
    resume_at: UtcDatetime
    fired_at: UtcDatetime


class ConditionEvaluated(EventPayload):
    """A CONDITIONAL node was evaluated against the patient context and a branch chosen."""

    SCHEMA_VERSION: ClassVar[int] = 1
    type: Literal["ConditionEvaluated"] = "ConditionEvaluated"
    node_id: str
    field: str
    operator: str
    result: bool
    next_node_id: str | None


class RunCompleted(EventPayload):
    """The run walked off the end of its journey."""

    SCHEMA_VERSION: ClassVar[int] = 1
    ENDS_RUN = True
    ENDS_DELAY = True
    type: Literal["RunCompleted"] = "RunCompleted"
    last_node_id: str | None


class RunFailed(EventPayload):
    """The run cannot go on (e.g. its journey points at a missing node)."""

    SCHEMA_VERSION: ClassVar[int] = 1
    ENDS_RUN = True
    ENDS_DELAY = True
    type: Literal["RunFailed"] = "RunFailed"
    node_id: str | None
    reason: str


class RunCancelled(EventPayload):
    """The run was cancelled on request."""

    SCHEMA_VERSION: ClassVar[int] = 1
    WRITTEN_BY = Actor.API
    ENDS_RUN = True
    ENDS_DELAY = True
    type: Literal["RunCancelled"] = "RunCancelled"
    node_id: str | None
    reason: str | None


class PatientErased(EventPayload):
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
    | MessageBounced
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
            | MessageBounced()
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
    # W3C trace context of the span that appended it (events/tracing.py); None while tracing is off.
    traceparent: str | None = None
    tracestate: str | None = None


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
