"""A run's state, folded from its events: `evolve` is the only way it changes, live and on replay."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypedDict, assert_never
from uuid import UUID

from events.catalogue import (
    ConditionEvaluated,
    DelayElapsed,
    DelayStarted,
    MessageBounced,
    MessageDelivered,
    MessageFailed,
    MessageRequested,
    NewEvent,
    PatientErased,
    RecordedEvent,
    RunCancelled,
    RunCompleted,
    RunFailed,
    RunStarted,
    Sealed,
)

StoredPatientContext = Sealed | Mapping[str, Any] | None
"""Sealed (the service's own runs), a plain mapping (legacy clear events, or opened in memory by the
service for the decider), or None once the patient was erased."""


class RunStatus(StrEnum):
    """A run's status; these values are the API's."""

    IN_PROGRESS = "in_progress"
    WAITING_DELAY = "waiting_delay"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED_STATUSES = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED})


class EventOutOfOrder(ValueError):
    """An envelope is for another run or is not the next version of this one."""


@dataclass(frozen=True)
class RunState:
    """Everything the decider and the API need to know about one run.

    `status` is None until RunStarted (version 0: the run does not exist). `awaiting_decision` is True
    between a wake-up event (RunStarted, DelayElapsed) and the batch the engine decides from it, so a
    redelivered wake-up after that batch is recognised as stale.

    `node_visits` counts, per node id, the visits that made an event (a message, a branch, a delay started),
    for the run's visit cap.

    `patient_context` is as stored (see `StoredPatientContext`); `patient_key_id` names the data key it is
    sealed with and stays after an erasure, which sets `erased` and drops the context.

    `evolve` makes successors without calling `__init__` (see `_with`): a `__post_init__` would not run.
    """

    run_id: UUID
    version: int = 0
    status: RunStatus | None = None
    journey_id: UUID | None = None
    journey_version: int | None = None
    current_node_id: str | None = None
    patient_context: StoredPatientContext = field(default_factory=dict)
    resume_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    awaiting_decision: bool = False
    reason: str | None = None
    node_visits: Mapping[str, int] = field(default_factory=dict)
    patient_key_id: UUID | None = None
    erased: bool = False

    @property
    def exists(self) -> bool:
        """True once the run has started."""
        return self.version > 0

    @property
    def finished(self) -> bool:
        """True once the run has completed, failed or been cancelled."""
        return self.status in FINISHED_STATUSES

    @property
    def needs_decision(self) -> bool:
        """True while a wake-up waits for the engine's decision; a stale or redelivered one finds it False."""
        return self.awaiting_decision and self.status is RunStatus.IN_PROGRESS

    @property
    def waiting_at(self) -> str | None:
        """The DELAY node the run sleeps in, or None when it is not waiting."""
        return self.current_node_id if self.status is RunStatus.WAITING_DELAY else None


def initial_state(run_id: UUID) -> RunState:
    """The state of a run with no events."""
    return RunState(run_id=run_id)


class _Changes(TypedDict, total=False):
    """The fields of `RunState` one event sets; the others keep their value."""

    version: int
    updated_at: datetime
    status: RunStatus
    journey_id: UUID
    journey_version: int
    current_node_id: str | None
    patient_context: StoredPatientContext
    patient_key_id: UUID | None
    erased: bool
    resume_at: datetime | None
    created_at: datetime
    awaiting_decision: bool
    reason: str | None
    node_visits: Mapping[str, int]


def evolve(state: RunState, envelope: NewEvent | RecordedEvent) -> RunState:
    """The state after one more event. Events after a terminal one only advance the version."""
    if envelope.run_id != state.run_id or envelope.version != state.version + 1:
        raise EventOutOfOrder(
            f"Cannot apply run {envelope.run_id} v{envelope.version} "
            f"to run {state.run_id} at v{state.version}"
        )
    advanced: _Changes = {"version": envelope.version, "updated_at": envelope.recorded_at}
    if isinstance(envelope.event, PatientErased):
        # Applies to finished runs too: an erased run's context is gone whatever its status.
        return _with(state, advanced | {"patient_context": None, "erased": True})
    if state.finished:
        return _with(state, advanced)
    return _with(state, advanced | _changes(state, envelope))


def _changes(state: RunState, envelope: NewEvent | RecordedEvent) -> _Changes:
    """What the event changes in a run that has not finished."""
    event = envelope.event
    match event:
        case RunStarted():
            return {
                "status": RunStatus.IN_PROGRESS,
                "journey_id": event.journey_id,
                "journey_version": event.journey_version,
                "current_node_id": event.start_node_id,
                "patient_context": event.patient_context,
                "patient_key_id": _key_of(event.patient_context),
                "created_at": envelope.recorded_at,
                "awaiting_decision": True,
            }
        case MessageRequested() | ConditionEvaluated():
            return {
                "current_node_id": event.node_id,
                "awaiting_decision": False,
                "node_visits": _visited(state, event.node_id),
            }
        case MessageDelivered() | MessageFailed() | MessageBounced():
            # Delivery outcomes and receipts arrive later; the run has not waited for them.
            return {}
        case DelayStarted():
            return {
                "status": RunStatus.WAITING_DELAY,
                "current_node_id": event.node_id,
                "resume_at": event.resume_at,
                "awaiting_decision": False,
                "node_visits": _visited(state, event.node_id),
            }
        case DelayElapsed():
            return {
                "status": RunStatus.IN_PROGRESS,
                "current_node_id": event.node_id,
                "resume_at": None,
                "awaiting_decision": True,
            }
        case RunCompleted():
            return _finish(RunStatus.COMPLETED, None, None)
        case RunFailed():
            return _finish(RunStatus.FAILED, event.node_id, event.reason)
        case RunCancelled():
            return _finish(RunStatus.CANCELLED, event.node_id, event.reason)
        case PatientErased():
            return {"patient_context": None, "erased": True}
        case _:
            assert_never(event)


def _key_of(context: StoredPatientContext) -> UUID | None:
    return context.key_id if isinstance(context, Sealed) else None


def _visited(state: RunState, node_id: str) -> dict[str, int]:
    # A new mapping, never an update: earlier states may still be held (a fold's intermediate results).
    return {**state.node_visits, node_id: state.node_visits.get(node_id, 0) + 1}


def _finish(status: RunStatus, node_id: str | None, reason: str | None) -> _Changes:
    return {
        "status": status,
        "current_node_id": node_id,
        "resume_at": None,
        "awaiting_decision": False,
        "reason": reason,
    }


def _with(state: RunState, changes: _Changes) -> RunState:
    """`dataclasses.replace(state, **changes)`, made once per event at a fraction of its cost.

    Replays fold millions of events. `replace` looks up the dataclass's fields on every call and then runs
    the frozen `__init__`, which stores each of the thirteen fields through `object.__setattr__`: together
    the largest cost of `evolve`. A copy of the state's attribute dict, updated, is the same object (every
    field is given and RunState has no `__post_init__` to run), made about four times faster.
    """
    successor = object.__new__(RunState)
    successor.__dict__.update(vars(state), **changes)
    return successor


def fold(run_id: UUID, envelopes: Iterable[NewEvent | RecordedEvent]) -> RunState:
    """The state after applying a run's events in stream order."""
    state = initial_state(run_id)
    for envelope in envelopes:
        state = evolve(state, envelope)
    return state
