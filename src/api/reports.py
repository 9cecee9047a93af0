"""Report routes for ops, analysts and auditors: journey funnel stats and the audit log."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import APIRouter, Depends, Path, Query

from api.api_keys import Principal, Scope
from api.auth import requires
from api.errors import BadRequest, NotFound
from api.examples import EXAMPLE_ID
from api.inputs import existing_id, optional_uuid
from api.limits import INT64_MAX, StoredText
from api.openapi import error_responses
from api.resources import Resources, get_resources
from api.schemas import AuditEntryOut, AuditPageOut, JourneyStatsOut, NodeStatsOut, VersionStatsOut
from engine.run_status import read_run_counts
from projections.journey_stats import read_stats
from subscribers.audit import read_audit

router = APIRouter(tags=["reports"])

Deps = Annotated[Resources, Depends(get_resources)]
MAX_AUDIT_PAGE = 1000


@router.get(
    "/journeys/{journeyId}/stats",
    summary="Per journey version: runs per status, and per node: entered, ended, waiting, messages",
    responses=error_responses(404),
)
async def journey_stats(
    journey_id: Annotated[str, Path(alias="journeyId", examples=[EXAMPLE_ID])],
    resources: Deps,
    principal: Annotated[Principal, requires(Scope.JOURNEYS_READ)],
) -> JourneyStatsOut:
    known_id = existing_id(journey_id, "Journey")
    if await resources.journeys.latest(known_id) is None:
        raise NotFound(f"Journey {known_id} does not exist.")
    nodes = await read_stats(resources.pool, known_id)
    runs = await read_run_counts(resources.pool, known_id)
    versions = sorted(set(nodes) | set(runs))
    return JourneyStatsOut(
        journey_id=known_id,
        versions=[
            VersionStatsOut(
                version=version,
                runs=runs.get(version, {}),
                nodes=[NodeStatsOut.model_validate(row) for row in nodes.get(version, [])],
            )
            for version in versions
        ],
    )


@router.get(
    "/audit", summary="The audit log, oldest first, by run and/or patient", responses=error_responses(400)
)
async def audit(
    resources: Deps,
    principal: Annotated[Principal, requires(Scope.AUDIT_READ)],
    run_id: Annotated[str | None, Query(alias="runId", examples=[EXAMPLE_ID])] = None,
    patient_id: Annotated[StoredText | None, Query(alias="patientId", max_length=255)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_AUDIT_PAGE)] = 100,
    cursor: Annotated[StoredText | None, Query(description="The nextCursor of the previous page.")] = None,
) -> AuditPageOut:
    key_ids: list[UUID] = []
    if patient_id is not None:
        key_ids = (await resources.vault.keys.key_ids_of(resources.vault.patient_ref(patient_id))).key_ids
    rows = await read_audit(
        resources.pool,
        run_id=optional_uuid(run_id, "runId"),
        patient_id=patient_id,
        patient_key_ids=key_ids,
        after_id=_after_id(cursor),
        limit=limit + 1,
    )
    page = rows[:limit]
    return AuditPageOut(
        entries=[AuditEntryOut.model_validate(_entry(row)) for row in page],
        next_cursor=str(page[-1]["audit_id"]) if len(rows) > limit else None,
    )


def _entry(row: Any) -> dict[str, Any]:
    return {**dict(row), "details": orjson.loads(row["details"])}


def _after_id(cursor: str | None) -> int:
    if cursor is None:
        return 0
    # isdecimal alone would let "²"-like digits through; an audit id is a bigint.
    if not (cursor.isascii() and cursor.isdecimal()) or int(cursor) > INT64_MAX:
        raise BadRequest("cursor is not valid; pass back the nextCursor of a previous page.")
    return int(cursor)
