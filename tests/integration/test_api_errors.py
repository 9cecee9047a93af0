"""Bad input never gets a 500: malformed JSON, wrong content, unknown routes are JSON errors."""

from __future__ import annotations

import httpx
import pytest

from api.examples import SEED_JOURNEY


@pytest.fixture
async def trigger_path(api: httpx.AsyncClient) -> str:
    journey_id = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
    return f"/journeys/{journey_id}/trigger"


JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize("body", [b'{"name": "x",', b"{'name': 'x'}", b"", b"NaN"], ids=repr)
async def test_malformed_json_is_a_bad_request(api: httpx.AsyncClient, body: bytes) -> None:
    response = await api.post("/journeys", content=body, headers=JSON)

    assert response.status_code == 400
    assert response.json()["message"]


@pytest.mark.parametrize("body", [b"[]", b'"journey"', b"42", b"null"], ids=repr)
async def test_a_journey_that_is_not_an_object_is_a_bad_request(api: httpx.AsyncClient, body: bytes) -> None:
    response = await api.post("/journeys", content=body, headers=JSON)

    assert response.status_code == 400
    assert response.json()["problems"] == [{"path": "", "message": response.json()["problems"][0]["message"]}]


async def test_a_body_that_is_not_json_content_is_an_unsupported_media_type(api: httpx.AsyncClient) -> None:
    response = await api.post("/journeys", content=b"name=x", headers={"Content-Type": "text/plain"})

    assert response.status_code == 415
    assert "application/json" in response.json()["message"]


async def test_malformed_patient_json_is_a_bad_request(api: httpx.AsyncClient, trigger_path: str) -> None:
    response = await api.post(trigger_path, content=b'{"id": "patient-123", "age": }', headers=JSON)

    assert response.status_code == 400


async def test_an_empty_idempotency_key_is_a_bad_request(api: httpx.AsyncClient, trigger_path: str) -> None:
    response = await api.post(
        trigger_path, json={"id": "p", "age": 1, "language": "en"}, headers={"Idempotency-Key": ""}
    )

    assert response.status_code == 400
    assert [problem["path"] for problem in response.json()["problems"]] == ["Idempotency-Key"]


async def test_an_unknown_route_is_a_json_not_found(api: httpx.AsyncClient) -> None:
    response = await api.get("/nowhere")

    assert response.status_code == 404
    assert response.json() == {"message": "Not found."}


async def test_a_wrong_method_is_a_json_error(api: httpx.AsyncClient) -> None:
    response = await api.delete("/journeys")

    assert response.status_code == 405
    assert response.json()["message"]
