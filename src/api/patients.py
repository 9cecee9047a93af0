"""Patient routes: erasure (crypto-shredding) of everything the service holds about one patient.

Erasure needs the `patients:erase` scope.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from api.api_keys import Principal, Scope
from api.auth import requires
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
    responses=error_responses(400),
)
async def erase(
    patient_id: Annotated[StoredText, Path(alias="patientId", min_length=1, max_length=255)],
    resources: Deps,
    principal: Annotated[Principal, requires(Scope.PATIENTS_ERASE)],
) -> PatientErasureOut:
    vault = resources.vault
    erasure = await erase_patient(
        resources.store,
        resources.heads,
        vault.keys,
        patient_ref=vault.patient_ref(patient_id),
        now=resources.clock(),
    )
    return PatientErasureOut(
        patient_id=patient_id, erased_at=erasure.erased_at, runs_cancelled=erasure.runs_cancelled
    )
