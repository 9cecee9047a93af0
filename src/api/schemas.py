"""The HTTP request and response shapes (own types, not the event models); requests document only.

Request bodies are read as raw JSON and checked by `domain.validation` and `domain.patient_context`,
which report every problem at once; the request models here describe the contract in the OpenAPI
document.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from domain.message_validation import LANGUAGE_TAG_PATTERN
from domain.run_state import RunStatus


class _Out(BaseModel):
    """Responses: camelCase on the wire (except the journey's own snake_case contract fields)."""

    model_config = ConfigDict(frozen=True, validate_by_name=True, validate_by_alias=True)


# ---- requests (documentation) ----


class _In(BaseModel):
    """Requests: a field the contract does not have is refused (400 naming it), never dropped."""

    model_config = ConfigDict(extra="forbid")


def _absent(value: object) -> bool:
    """Optional journey fields left out of responses when unset, so the seed's shape reads back unchanged."""
    return value is None


class Condition(_In):
    field: str = Field(description="Dotted path into the patient context, e.g. `patient.age` or `age`.")
    operator: str = Field(description="One of = == eq != ne > gt >= gte < lt <= lte in nin.")
    value: Any = Field(description="A number or string; a list for `in` / `nin`.")


class MessageNode(_In):
    id: str
    type: Literal["MESSAGE"]
    message: str = Field(
        description="A template over the patient context (Jinja2, sandboxed), e.g. "
        '`Hello {{ patient.first_name | default("there") }}`; checked when the journey is saved.'
    )
    translations: dict[str, str] | None = Field(
        default=None,
        exclude_if=_absent,
        description="Language tag (BCP 47) -> template; the patient's `language` picks one, else `message`.",
        examples=[{"es": "Hola {{ patient.first_name }}", "pt-BR": "Olá {{ patient.first_name }}"}],
    )
    channel: Literal["sms", "email", "webhook", "log"] | None = Field(
        default=None,
        exclude_if=_absent,
        description="How to send it; unset = the service's default (PJS_MESSAGE_CHANNEL).",
    )
    next_node_id: str | None = None


class DelayNode(_In):
    """Exactly one form: `duration_seconds`, `until_local_time`, or `until_field` (with its options)."""

    id: str
    type: Literal["DELAY"]
    duration_seconds: float | None = Field(default=None, exclude_if=_absent, ge=0)
    until_local_time: str | None = Field(
        default=None,
        exclude_if=_absent,
        description="The next HH:MM strictly after now on the patient's clock.",
        examples=["09:00"],
    )
    until_field: str | None = Field(
        default=None,
        exclude_if=_absent,
        description="An ISO 8601 date or datetime in the context (a past moment continues at once).",
        examples=["patient.appointment_at"],
    )
    offset_seconds: float | None = Field(
        default=None, exclude_if=_absent, description="Shift of until_field.", examples=[-86400]
    )
    at_local_time: str | None = Field(
        default=None,
        exclude_if=_absent,
        description="With until_field: this HH:MM on the shifted day.",
        examples=["09:00"],
    )
    next_node_id: str | None = None


class ConditionalNode(_In):
    id: str
    type: Literal["CONDITIONAL"]
    condition: Condition
    on_true_next_node_id: str | None = None
    on_false_next_node_id: str | None = None


Node = Annotated[MessageNode | DelayNode | ConditionalNode, Field(discriminator="type")]


class QuietHours(_In):
    start: str = Field(description="HH:MM on the patient's clock.", examples=["21:00"])
    end: str = Field(description="HH:MM; before start means the next morning.", examples=["08:00"])


class JourneyIn(_In):
    """A journey definition, as POSTed or PUT."""

    name: str
    start_node_id: str
    nodes: list[Node]
    timezone: str | None = Field(
        default=None,
        exclude_if=_absent,
        description="IANA zone for patients without one; unset = UTC.",
        examples=["Europe/Madrid"],
    )
    quiet_hours: QuietHours | None = Field(
        default=None,
        exclude_if=_absent,
        description="A MESSAGE due inside them waits until they end (reason quiet_hours).",
    )


class PatientContextIn(BaseModel):
    """The patient a run is for: id, age and language are required; other fields are kept for conditions
    and templates. `timezone`, `phone` (E.164) and `email` are checked at trigger when given or needed."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1, max_length=255, description="Up to PJS_MAX_ID_LENGTH (255) characters.")
    age: float = Field(ge=0)
    language: str = Field(
        pattern=LANGUAGE_TAG_PATTERN, description="A language tag (BCP 47).", examples=["es", "pt-BR"]
    )
    timezone: str | None = Field(default=None, description="IANA zone.", examples=["Asia/Tokyo"])


# ---- responses ----


class Problem(_Out):
    path: str = Field(
        description='Where the problem is ("" for the whole body), e.g. `nodes[2].next_node_id`.'
    )
    message: str


class ErrorOut(_Out):
    message: str
    problems: list[Problem] | None = Field(default=None, description="Every problem found (400 only).")


class JourneyCreated(_Out):
    journey_id: UUID = Field(alias="journeyId")


class JourneyVersionCreated(_Out):
    journey_id: UUID = Field(alias="journeyId")
    version: int


class JourneyOut(_Out):
    journey_id: UUID = Field(alias="journeyId")
    version: int
    name: str
    start_node_id: str
    nodes: list[Node]
    timezone: str | None = Field(default=None, exclude_if=_absent)
    quiet_hours: QuietHours | None = Field(default=None, exclude_if=_absent)
    created_at: datetime = Field(alias="createdAt")


class JourneySummaryOut(_Out):
    journey_id: UUID = Field(alias="journeyId")
    name: str
    latest_version: int = Field(alias="latestVersion")
    updated_at: datetime = Field(alias="updatedAt", description="When the latest version was saved.")


class JourneyListOut(_Out):
    journeys: list[JourneySummaryOut]
    next_cursor: str | None = Field(
        alias="nextCursor", description="Pass as `cursor` for the next page; null on the last."
    )


class RunAcceptedOut(_Out):
    run_id: UUID = Field(alias="runId")


class RunOut(_Out):
    run_id: UUID = Field(alias="runId")
    journey_id: UUID = Field(alias="journeyId")
    journey_version: int = Field(alias="journeyVersion")
    status: RunStatus
    current_node_id: str | None = Field(alias="currentNodeId")
    patient_context: dict[str, Any] | None = Field(
        alias="patientContext", description="null once the patient was erased."
    )
    erased: bool = Field(description="The patient's data was erased (crypto-shredded).")
    resume_at: datetime | None = Field(alias="resumeAt")
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")


class PatientErasureOut(_Out):
    patient_id: str = Field(alias="patientId")
    erased_at: datetime = Field(alias="erasedAt")
    runs_cancelled: int = Field(alias="runsCancelled", description="Open runs this request cancelled.")


class RunCancelledOut(_Out):
    run_id: UUID = Field(alias="runId")
    status: Literal["cancelled"] = "cancelled"


class RunEventOut(_Out):
    type: str
    version: int
    recorded_at: datetime = Field(alias="recordedAt")
    node_id: str | None = Field(alias="nodeId")
    data: dict[str, Any]


class RunTimelineOut(_Out):
    run_id: UUID = Field(alias="runId")
    events: list[RunEventOut]
    next_after_version: int | None = Field(
        alias="nextAfterVersion", description="Pass as `afterVersion` for the next page; null on the last."
    )


class RunListOut(_Out):
    runs: list[RunOut]
    next_cursor: str | None = Field(
        alias="nextCursor", description="Pass as `cursor` for the next page; null on the last."
    )


class NodeStatsOut(_Out):
    node_id: str = Field(alias="nodeId")
    entered: int
    completed: int
    failed: int
    cancelled: int
    waiting: int
    messages_requested: int = Field(alias="messagesRequested")
    messages_delivered: int = Field(alias="messagesDelivered")
    messages_failed: int = Field(alias="messagesFailed")


class VersionStatsOut(_Out):
    version: int
    runs: dict[str, int] = Field(description="Runs of this version per status (exact).")
    nodes: list[NodeStatsOut] = Field(description="Per node counters (from the journey_stats projection).")


class JourneyStatsOut(_Out):
    journey_id: UUID = Field(alias="journeyId")
    versions: list[VersionStatsOut]


class AuditEntryOut(_Out):
    audit_id: int = Field(alias="auditId")
    run_id: UUID | None = Field(alias="runId")
    patient_id: str | None = Field(alias="patientId")
    journey_id: UUID | None = Field(alias="journeyId")
    actor: str
    action: str
    occurred_at: datetime = Field(alias="occurredAt")
    logged_at: datetime = Field(alias="loggedAt")
    details: dict[str, Any]


class AuditPageOut(_Out):
    entries: list[AuditEntryOut]
    next_cursor: str | None = Field(alias="nextCursor")
