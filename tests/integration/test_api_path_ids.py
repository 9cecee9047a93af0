"""A path id that is not a UUID is a 404 naming the path parameter, a query id (a listing's filter) a 400
naming the query parameter, neither echoing what was sent in it; the OpenAPI document declares both UUIDs."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from pydantic import SecretStr

from api.examples import SEED_PATIENT
from engine.signatures import SIGNATURE_HEADER, sign
from pjs.settings import Settings
from support.api import app_client

# What a caller might paste into a path by mistake: a patient's name and birth date.
PATIENT_DATA = "Jane Roe 1950-03-14"
RECEIPT_SECRET = "receipt-secret-for-tests"
BATCH = {"items": [{"idempotencyKey": "booking-4711", "patient": SEED_PATIENT}]}


@pytest.mark.parametrize(
    ("method", "path", "body", "parameter"),
    [
        ("GET", "/journeys/{}", None, "journeyId is not a journey id (a UUID)."),
        ("GET", "/journeys/{}/stats", None, "journeyId is not a journey id (a UUID)."),
        ("POST", "/journeys/{}/trigger", SEED_PATIENT, "journeyId is not a journey id (a UUID)."),
        ("POST", "/journeys/{}/trigger-batch", BATCH, "journeyId is not a journey id (a UUID)."),
        ("GET", "/journeys/runs/{}", None, "runId is not a run id (a UUID)."),
        ("GET", "/journeys/runs/{}/events", None, "runId is not a run id (a UUID)."),
        ("POST", "/journeys/runs/{}/cancel", None, "runId is not a run id (a UUID)."),
    ],
)
async def test_a_path_id_that_is_not_a_uuid_is_not_found_naming_the_parameter_not_its_value(
    api: httpx.AsyncClient, method: str, path: str, body: object, parameter: str
) -> None:
    response = await api.request(method, path.format(PATIENT_DATA), json=body)

    assert response.status_code == 404
    assert response.json()["message"] == parameter
    assert "Jane" not in response.text and "1950" not in response.text


@pytest.mark.parametrize(("path", "parameter"), [("/journeys/runs", "journeyId"), ("/audit", "runId")])
async def test_a_query_id_that_is_not_a_uuid_is_a_400_naming_the_parameter_not_its_value(
    api: httpx.AsyncClient, path: str, parameter: str
) -> None:
    response = await api.get(path, params={parameter: PATIENT_DATA})

    assert response.status_code == 400
    assert response.json() == {
        "message": f"{parameter} must be a UUID.",
        "problems": [{"path": parameter, "message": f"{parameter} must be a UUID."}],
    }
    assert "Jane" not in response.text and "1950" not in response.text


async def test_a_signed_receipt_for_a_delivery_id_that_is_not_a_uuid_is_not_found_without_echoing_it(
    settings: Settings,
) -> None:
    with_secret = settings.model_copy(update={"receipt_secret": SecretStr(RECEIPT_SECRET)})
    receipt = orjson.dumps({"status": "delivered", "providerMessageId": "SM1"})
    async with app_client(with_secret, None) as (provider, _):
        response = await provider.post(
            f"/deliveries/{PATIENT_DATA}/receipts",
            content=receipt,
            headers={SIGNATURE_HEADER: sign(RECEIPT_SECRET, receipt)},
        )

    assert response.status_code == 404
    assert response.json()["message"] == "deliveryId is not a delivery id (a UUID)."
    assert "Jane" not in response.text


def declared_ids(document: dict[str, Any], where: str) -> list[tuple[str, dict[str, Any]]]:
    """(name, schema) of every `where` ("path", "query") parameter whose name ends in Id, as declared."""
    return [
        (parameter["name"], parameter["schema"])
        for operations in document["paths"].values()
        for operation in operations.values()
        for parameter in operation.get("parameters", [])
        if parameter["in"] == where and parameter["name"].endswith("Id")
    ]


async def test_the_document_declares_every_path_id_a_uuid_string_and_the_patient_id_free_text(
    api: httpx.AsyncClient,
) -> None:
    document = (await api.get("/openapi.json")).json()

    declared = declared_ids(document, "path")

    assert {name for name, _ in declared} == {"journeyId", "runId", "deliveryId", "patientId"}
    for name, schema in declared:
        if name == "patientId":  # the clinic's own id for the patient: any text, not ours
            assert schema["type"] == "string" and "format" not in schema
        else:
            assert (schema["type"], schema.get("format")) == ("string", "uuid"), name


async def test_the_document_declares_every_query_id_a_uuid_string_and_the_patient_filter_free_text(
    api: httpx.AsyncClient,
) -> None:
    document = (await api.get("/openapi.json")).json()

    declared = declared_ids(document, "query")

    assert {name for name, _ in declared} == {"journeyId", "runId", "patientId"}
    for name, schema in declared:
        if name == "patientId":  # deprecated in the query, any text (up to 255 characters)
            assert "uuid" not in str(schema)
        else:  # an absent filter is not sent: a string, never null
            assert (schema["type"], schema["format"]) == ("string", "uuid"), name
            assert "anyOf" not in schema
