"""Report routes for ops, analysts and auditors: journey funnel stats and the audit log."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query

from api.api_keys import Principal, Scope
from api.auth import requires
from api.errors import BadRequest, NotFound
from api.examples import AUDIT_SEARCH_EXAMPLES
from api.inputs import (
    JourneyIdPath,
    existing_id,
    optional_uuid,
    patient_id_query,
    search_body,
    uuid_query,
)
from api.limits import INT64_MAX, StoredText
from api.openapi import error_responses, json_request
from api.query_params import integer_query
from api.resources import Resources, get_resources
from api.schemas import (
    AuditEntryOut,
    AuditPageOut,
    JourneyStatsOut,
    NodeStatsOut,
    VersionStatsOut,
)
from api.search_schemas import AuditSearchIn
from domain.validation import Problem
from engine.run_status import read_run_counts
from projections.journey_stats import read_stats
from subscribers.audit_reads import audit_position, read_audit

router = APIRouter(tags=["reports"])

Deps = Annotated[Resources, Depends(get_resources)]
MAX_AUDIT_PAGE = 1000
_INVALID_CURSOR = "cursor is not valid; pass back the nextCursor of a previous page."


@router.get(
    "/journeys/{journeyId}/stats",
    summary="Per journey version: runs per status, and per node: entered, ended, waiting, messages",
    responses=error_responses(404),
)
async def journey_stats(
    journey_id: JourneyIdPath,
    resources: Deps,
    principal: Annotated[Principal, requires(Scope.JOURNEYS_READ)],
) -> JourneyStatsOut:
    known_id = existing_id(journey_id, "journeyId")
    async with resources.for_tenant(principal) as scope:
        if await scope.journeys.latest(known_id) is None:
            raise NotFound(f"Journey {known_id} does not exist.")
        nodes = await read_stats(scope.db, known_id)
        runs = await read_run_counts(scope.db, known_id)
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


Auditor = Annotated[Principal, requires(Scope.AUDIT_READ)]


@router.get(
    "/audit",
    summary="The audit log, oldest first, by run and/or patient (by patient: prefer POST /audit/search)",
    responses=error_responses(400),
)
async def audit(
    resources: Deps,
    principal: Auditor,
    run_id: Annotated[StoredText | None, uuid_query("runId")] = None,
    patient_id: Annotated[StoredText | None, patient_id_query("/audit/search")] = None,
    limit: Annotated[int, integer_query(ge=1, le=MAX_AUDIT_PAGE)] = 100,
    cursor: Annotated[
        StoredText | None,
        Query(description="The nextCursor of the previous page, or the auditId of the last entry read."),
    ] = None,
) -> AuditPageOut:
    search = AuditSearchIn(run_id=run_id, patient_id=patient_id, limit=limit, cursor=cursor)
    return await search_audit(resources, principal, search)


@router.post(
    "/audit/search",
    summary="The audit log, oldest first, by run and/or patient (the patient id in the body)",
    openapi_extra=json_request(AuditSearchIn, AUDIT_SEARCH_EXAMPLES),
    responses=error_responses(400, 413, 415),
)
async def audit_search(
    principal: Auditor, search: Annotated[AuditSearchIn, search_body(AuditSearchIn)], resources: Deps
) -> AuditPageOut:
    return await search_audit(resources, principal, search)


async def search_audit(resources: Resources, principal: Principal, search: AuditSearchIn) -> AuditPageOut:
    """One page of the caller's tenant's audit entries; reading the audit log is audited too."""
    run_id, after_id, limit = optional_uuid(search.run_id, "runId"), _after_id(search.cursor), search.limit
    async with resources.for_tenant(principal) as scope:
        after = await audit_position(scope.db, after_id)
        if after is None:
            raise BadRequest(_INVALID_CURSOR, [Problem("cursor", _INVALID_CURSOR)])
        key_ids = [] if search.patient_id is None else await scope.patient_key_ids(search.patient_id)
        rows = await read_audit(
            scope.db,
            run_id=run_id,
            patient_id=search.patient_id,
            patient_key_ids=key_ids,
            after=after,
            limit=limit + 1,
        )
        details = {
            "runId": None if run_id is None else str(run_id),
            "patientFilter": search.patient_id is not None,
        }
        await scope.audit(
            principal,
            "AuditRead",
            resources.clock(),
            details=details,
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
        raise BadRequest(_INVALID_CURSOR, [Problem("cursor", _INVALID_CURSOR)])
    return int(cursor)
