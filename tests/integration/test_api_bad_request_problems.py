"""On the real API: every 400 lists its problems, an id that is not a UUID is never echoed, an empty
cursor means the same on every listing, and an Idempotency-Key's surrounding spaces are not part of it."""

from __future__ import annotations

import httpx
import pytest

from api.examples import SEED_JOURNEY, SEED_PATIENT


@pytest.fixture
async def journey_id(api: httpx.AsyncClient) -> str:
    journey_id: str = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
    return journey_id


async def test_a_patient_id_sent_as_the_journey_filter_is_refused_without_echoing_it(
    api: httpx.AsyncClient,
) -> None:
    response = await api.post("/journeys/runs/search", json={"journeyId": "Jane Doe 1970-01-01"})

    assert response.status_code == 400, response.text
    assert [problem["path"] for problem in response.json()["problems"]] == ["journeyId"]
    assert "Jane" not in response.text


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("GET", "/journeys/runs?cursor=", None),
        ("POST", "/journeys/runs/search", {"cursor": ""}),
        ("GET", "/audit?cursor=", None),
        ("GET", "/journeys/runs?cursor=bm9wZQ", None),
    ],
)
async def test_an_empty_or_made_up_cursor_is_refused_alike_on_every_listing(
    api: httpx.AsyncClient, method: str, url: str, body: object
) -> None:
    response = await api.request(method, url, json=body)

    assert response.status_code == 400, response.text
    assert [problem["path"] for problem in response.json()["problems"]] == ["cursor"]


async def test_a_400_with_no_field_to_name_lists_the_request_as_its_problem(
    api: httpx.AsyncClient, journey_id: str
) -> None:
    response = await api.post(
        f"/journeys/{journey_id}/trigger", content=b" ", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400, response.text
    assert response.json()["problems"] == [{"path": "", "message": response.json()["message"]}]


async def test_an_idempotency_key_with_surrounding_spaces_is_the_same_key_without_them(
    api: httpx.AsyncClient, journey_id: str
) -> None:
    keys = ["booking-4711", "booking-4711  ", "\tbooking-4711 "]

    responses = [
        await api.post(f"/journeys/{journey_id}/trigger", json=SEED_PATIENT, headers={"Idempotency-Key": key})
        for key in keys
    ]

    assert [response.status_code for response in responses] == [202] * 3
    assert len({response.json()["runId"] for response in responses}) == 1


async def test_a_blank_idempotency_key_is_refused(api: httpx.AsyncClient, journey_id: str) -> None:
    response = await api.post(
        f"/journeys/{journey_id}/trigger", json=SEED_PATIENT, headers={"Idempotency-Key": "   "}
    )

    assert response.status_code == 400, response.text
    assert response.json()["problems"][0]["path"] == "Idempotency-Key"
