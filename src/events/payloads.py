"""The building blocks of run events: the payload base with its per-type facts, sealed values, UTC times."""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar
from uuid import UUID

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


class EventPayload(BaseModel):
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
