"""Patient routes: erasure (crypto-shredding) of everything the service holds about one patient.

Erasure needs the `patients:erase` scope.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from api.api_keys import Principal, Scope
from api.auth import requires
from api.errors import NotFound
from api.limits import StoredText
from api.openapi import error_responses
from api.resources import Resources, get_resources
from api.schemas import PatientErasureOut
from engine.erasure import erase_patient

router = APIRouter(prefix="/patients", tags=["patients"])

Deps = Annotated[Resources, Depends(get_resources)]


@router.post(
    "/{patientId}/erasure",
    status_code=202,
    summary="Erase a patient: cancel their open runs and destroy their data key (idempotent)",
    description=(
        "Every run of the patient then answers `patientContext: null` and `erased: true`; what was "
        "sealed with the destroyed key (events, topic records, backups) can never be read again."
    ),
    responses=error_responses(400, 404),
)
async def erase(
    patient_id: Annotated[StoredText, Path(alias="patientId", min_length=1, max_length=255)],
    resources: Deps,
    principal: Annotated[Principal, requires(Scope.PATIENTS_ERASE)],
) -> PatientErasureOut:
    async with resources.for_tenant(principal) as scope:
        now = resources.clock()
        # A patient the caller's tenant never had (another tenant's, or none) is not found: never 403.
        patient = scope.vault.patient(principal.tenant_id, patient_id)
        if not (await scope.vault.keys.key_ids_of(patient)).key_ids:
            raise NotFound("No patient with this id.")
        erasure = await erase_patient(scope.store, scope.heads, scope.vault.keys, patient=patient, now=now)
        # The runs it marked, as a listing names them: the request is found beside the cancels it caused.
        details = {"runsCancelled": erasure.runs_cancelled, "runs": [str(run) for run in erasure.runs]}
        await scope.audit(
            principal,
            "PatientErasureRequested",
            now,
            details=details,
        )
    return PatientErasureOut(
        patient_id=patient_id, erased_at=erasure.erased_at, runs_cancelled=erasure.runs_cancelled
    )
