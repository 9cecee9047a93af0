"""The searches' request bodies: filters in a JSON body, so a patient id never travels in a URL.

Read by `api.inputs.search_body`; `limit` is strict, so `"5"` or `true` is refused rather than taken as a
number.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from api.limits import LIST_PAGE_DEFAULT, LIST_PAGE_MAX, StoredText
from domain.run_state import RunStatus


class _Search(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True)

    patient_id: StoredText | None = Field(default=None, alias="patientId", max_length=255)
    cursor: StoredText | None = Field(default=None, description="The nextCursor of the previous page.")


class RunSearchIn(_Search):
    """Which runs to list: every filter optional, combined with AND."""

    journey_id: StoredText | None = Field(default=None, alias="journeyId")
    status: RunStatus | None = None
    limit: int = Field(
        default=LIST_PAGE_DEFAULT,
        ge=1,
        le=LIST_PAGE_MAX,
        strict=True,
        description="Runs per page (at most 500).",
    )


class AuditSearchIn(_Search):
    """Which audit entries to read: by run and/or patient, oldest first."""

    run_id: StoredText | None = Field(default=None, alias="runId")
    limit: int = Field(
        default=100, ge=1, le=1000, strict=True, description="Entries per page (at most 1000)."
    )
