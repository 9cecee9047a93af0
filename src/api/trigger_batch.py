"""Bulk trigger: `POST /journeys/{journeyId}/trigger-batch`, up to PJS_MAX_BATCH_TRIGGERS patients at once.

Each item carries its own idempotency key and patient context and gets its own answer, in request order:
a run id (new, or the one its key started before) or an error shaped like the single trigger's. The new
runs are appended in one transaction; every per-patient limit and check applies to each item alone. An
error no check foresaw in one item's values (or its event too large) is that item's alone: the batch is
run again in halves, each its own transaction and audit row, down to the item at fault, whose answer is
the error (a 500 or 413 in its `status`); the others get their runs. The halving has a budget of
transactions (`api.group_commit.runs_allowed`) that sets a few such items apart; past it, an error that
likely every item hits is the answer of the items still failing. A lost store fails the request (503)
and a retry with the same keys finds the runs that did start.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Final
from uuid import UUID

import orjson
from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from api.api_keys import Principal, Scope
from api.auth import requires
from api.errors import (
    ApiError,
    BadRequest,
    ContentTooLarge,
    body,
    invalid,
    item_failure,
    refused,
    store_failure,
)
from api.examples import SEED_PATIENT
from api.group_commit import answers_apart
from api.inputs import BatchBody, JourneyIdPath, existing_id
from api.limits import Limits, beyond_limits, json_problems, unstorable_text
from api.openapi import error_responses, json_request
from api.resources import Resources, get_resources
from api.schemas import ErrorOut, PatientContextIn
from api.untrimmed_keys import run_ids_for_keys
from domain.patient_context import validate_patient_context
from domain.validation import Problem
from engine.batch_trigger import BatchItem, ItemOutcome, trigger_runs
from engine.commands import RunAccepted

router = APIRouter(prefix="/journeys", tags=["runs"])

ROUTE: Final = "POST /journeys/{journeyId}/trigger-batch"
MAX_KEY_LENGTH: Final = 255
BATCH_FIELDS: Final = ("items",)
ITEM_FIELDS: Final = ("idempotencyKey", "patient")


class BatchItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    idempotency_key: str = Field(
        alias="idempotencyKey", min_length=1, max_length=MAX_KEY_LENGTH, examples=["booking-4711"]
    )
    patient: PatientContextIn


class BatchTriggerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[BatchItemIn] = Field(
        min_length=1, description="1 to PJS_MAX_BATCH_TRIGGERS (default 1000) patients."
    )


class BatchItemOut(BaseModel):
    idempotency_key: str | None = Field(alias="idempotencyKey")
    run_id: UUID | None = Field(default=None, alias="runId", description="Set when the item has a run.")
    created: bool | None = Field(default=None, description="False: an earlier request with the key made it.")
    status: int | None = Field(default=None, description="Refused items: the single trigger's status.")
    error: ErrorOut | None = Field(default=None, description="Refused items: why.")


class BatchTriggerOut(BaseModel):
    accepted: int = Field(description="Items that have a run.")
    refused: int = Field(description="Items refused, each with its error.")
    items: list[BatchItemOut] = Field(description="One per item, in request order.")


BATCH_EXAMPLES: Final = {
    "two_patients": {
        "summary": "Two patients, each with its own idempotency key",
        "value": {
            "items": [
                {"idempotencyKey": "booking-4711", "patient": SEED_PATIENT},
                {
                    "idempotencyKey": "booking-4712",
                    "patient": {**SEED_PATIENT, "id": "patient-456", "age": 40},
                },
            ]
        },
    }
}


@router.post(
    "/{journeyId}/trigger-batch",
    status_code=202,
    summary="Start runs of the journey's latest version for many patients at once (one transaction)",
    openapi_extra=json_request(BatchTriggerIn, BATCH_EXAMPLES),
    response_model=BatchTriggerOut,
    responses=error_responses(400, 404, 413, 415),
)
async def trigger_batch(
    principal: Annotated[Principal, requires(Scope.RUNS_TRIGGER)],  # first: 401/403 before the body is read
    journey_id: JourneyIdPath,
    raw: BatchBody,
    resources: Annotated[Resources, Depends(get_resources)],
) -> Response:
    known_id = existing_id(journey_id, "journeyId")
    entries = _entries(raw, resources.limits, resources.limits.max_batch_triggers)
    # A key that is not text is answered as null: the answer's schema says text or null, and the entry's
    # place in the request order already tells the caller which item it is.
    answers: list[dict[str, Any]] = [
        {"idempotencyKey": key if isinstance(key, str) else None} for key, _ in entries
    ]
    keys: list[tuple[str, str]] = []
    contexts: list[dict[str, Any]] = []
    positions: list[int] = []
    for position, (key, patient) in enumerate(entries):
        checked = _item(key, patient, resources.limits)
        if isinstance(checked, ApiError):
            answers[position].update(_error(checked))
            continue
        keys.append((key, checked[0]))
        contexts.append(checked[1])
        positions.append(position)
    run_ids = await run_ids_for_keys(resources, principal, known_id, keys)
    items = [BatchItem(run_id, context) for run_id, context in zip(run_ids, contexts, strict=True)]

    async def start(part: Sequence[BatchItem]) -> list[ItemOutcome]:
        async with resources.for_tenant(principal) as scope:
            now = resources.clock()
            outcomes = await trigger_runs(
                scope.store, scope.heads, scope.journeys,
                journey_id=known_id, items=part, now=now, sealer=scope.vault,
            )  # fmt: skip
            if not isinstance(outcomes, list):
                raise refused(outcomes)
            accepted = [outcome for outcome in outcomes if isinstance(outcome, RunAccepted)]
            runs = [str(outcome.run_id) for outcome in accepted]
            replayed = [str(outcome.run_id) for outcome in accepted if not outcome.created]
            await scope.audit(
                principal, "RunsTriggered", now, details={"runs": runs, "replayedRuns": replayed}
            )
        return outcomes

    for position, outcome in zip(positions, await answers_apart(start, items, _whole_request), strict=True):
        if isinstance(outcome, Exception) and _whole_request(outcome):
            raise outcome
        answers[position].update(_answer(outcome))
    runs = [answer["runId"] for answer in answers if "runId" in answer]
    content = {"accepted": len(runs), "refused": len(answers) - len(runs), "items": answers}
    return Response(orjson.dumps(content), status_code=202, media_type="application/json")


def _entries(raw: Any, limits: Limits, most: int) -> list[tuple[Any, Any]]:
    """The items' (key, patient) pairs as sent; a body not shaped as a batch is refused whole."""
    items = raw.get("items") if isinstance(raw, dict) else None
    if not isinstance(items, list) or not items:
        raise BadRequest('The body must be a JSON object {"items": [...]} with at least one item.')
    if len(items) > most:
        raise ContentTooLarge(
            f"A batch can hold at most {most} patients (PJS_MAX_BATCH_TRIGGERS); this one has {len(items)}. "
            "Split it into several requests."
        )
    if not all(isinstance(item, dict) for item in items):
        raise BadRequest(
            'Every one of the items must be a JSON object {"idempotencyKey": ..., "patient": {...}}.'
        )
    unknown = _unknown_fields(raw, items)
    if unknown:
        raise invalid("batch", unknown)
    return [(item.get("idempotencyKey"), item.get("patient")) for item in items]


def _unknown_fields(raw: dict[str, Any], items: list[dict[str, Any]]) -> list[Problem]:
    """Fields a batch does not have: ignoring one (`dryRun`, a per-item `priority`) would start runs the
    caller did not mean, so the whole batch is refused, naming each (the patient's own fields are free)."""
    unknown = [Problem(key, _unknown("A batch", key, BATCH_FIELDS)) for key in raw if key not in BATCH_FIELDS]
    for index, item in enumerate(items):
        unknown.extend(
            Problem(f"items[{index}].{key}", _unknown("An item", key, ITEM_FIELDS))
            for key in item
            if key not in ITEM_FIELDS
        )
    return unknown


def _unknown(what: str, key: str, known: tuple[str, ...]) -> str:
    return f"Unknown field {key!r}: {what} takes {', '.join(known)}."


def _item(key: Any, patient: Any, limits: Limits) -> tuple[str, dict[str, Any]] | ApiError:
    """The item's key and context, checked as the single trigger checks its header and body."""
    if isinstance(key, str):
        key = key.strip(" \t")  # surrounding spaces and tabs are not part of a key, as in the header
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_LENGTH or unstorable_text(key):
        return BadRequest(f"Each item needs an idempotencyKey: text of 1 to {MAX_KEY_LENGTH} characters.")
    problems = json_problems(patient, limits)
    if problems:  # first: orjson cannot measure an integer beyond 64 bits
        return beyond_limits("patient context", problems)
    if len(orjson.dumps(patient)) > limits.max_patient_context_bytes:
        return ContentTooLarge(
            f"The patient context is larger than {limits.max_patient_context_bytes} bytes of JSON "
            "(PJS_MAX_PATIENT_CONTEXT_BYTES)."
        )
    context = validate_patient_context(patient)
    if isinstance(context, list):
        return invalid("patient context", context)
    return key, context


def _whole_request(error: Exception) -> bool:
    """A refusal of the whole request (its journey is gone) or the store's failure: not one item's fault."""
    return isinstance(error, ApiError) or store_failure(error)


def _answer(outcome: ItemOutcome | Exception) -> dict[str, Any]:
    if isinstance(outcome, Exception):
        return _error(item_failure(outcome, ROUTE))
    if isinstance(outcome, RunAccepted):
        return {"runId": str(outcome.run_id), "created": outcome.created}
    return _error(refused(outcome))


def _error(error: ApiError) -> dict[str, Any]:
    return {"status": error.status_code, "error": body(error.message, error.problems)}
