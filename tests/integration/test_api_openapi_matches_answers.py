"""On the real API: the OpenAPI document declares what the answers carry: the `Location` of each 201 and
202 that sends one, /ready's 503, and which operations need no API key."""

from __future__ import annotations

from typing import Any

import httpx

from api.examples import SEED_JOURNEY, SEED_PATIENT


async def test_every_answer_that_sends_a_location_is_documented_with_it(api: httpx.AsyncClient) -> None:
    document = (await api.get("/openapi.json")).json()
    created = await api.post("/journeys", json=SEED_JOURNEY)
    journey_id = created.json()["journeyId"]
    edited = await api.put(f"/journeys/{journey_id}", json=SEED_JOURNEY)
    triggered = await api.post(f"/journeys/{journey_id}/trigger", json=SEED_PATIENT)

    answers = [
        ("/journeys", "post", "201", created),
        ("/journeys/{journeyId}", "put", "201", edited),
        ("/journeys/{journeyId}/trigger", "post", "202", triggered),
    ]

    for path, method, status, response in answers:
        assert str(response.status_code) == status and "Location" in response.headers
        documented: dict[str, Any] = document["paths"][path][method]["responses"][status]
        assert "Location" in documented["headers"], (path, method)
        assert "application/json" in documented["content"], (path, method)


async def test_readiness_documents_its_503_and_the_description_names_the_open_operations(
    api: httpx.AsyncClient,
) -> None:
    document = (await api.get("/openapi.json")).json()

    assert "503" in document["paths"]["/ready"]["get"]["responses"]
    description = document["info"]["description"]
    assert "receipt" in description and "/ready" in description and "/metrics" in description


async def test_a_method_a_path_does_not_take_is_405_allowing_every_method_its_routes_take(
    api: httpx.AsyncClient,
) -> None:
    journey_id = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]

    on_journeys = await api.options("/journeys")
    on_one = await api.delete(f"/journeys/{journey_id}")

    assert on_journeys.status_code == on_one.status_code == 405
    assert on_journeys.headers["Allow"] == "GET, HEAD, POST"
    assert on_one.headers["Allow"] == "GET, HEAD, PUT"


async def test_the_patient_schema_is_as_strict_as_the_trigger_and_refuses_what_it_refuses(
    api: httpx.AsyncClient,
) -> None:
    schemas = (await api.get("/openapi.json")).json()["components"]["schemas"]
    patient = schemas["PatientContextIn"]["properties"]
    journey_id = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]

    empty_id = await api.post(f"/journeys/{journey_id}/trigger", json={**SEED_PATIENT, "id": ""})
    bad_language = await api.post(f"/journeys/{journey_id}/trigger", json={**SEED_PATIENT, "language": "e"})

    assert patient["id"]["minLength"] == 1 and patient["id"]["maxLength"] == 255
    assert "pattern" in patient["language"]
    assert schemas["BatchTriggerIn"]["properties"]["items"]["minItems"] == 1
    assert empty_id.status_code == bad_language.status_code == 400
