"""On the real API: a query parameter an operation does not take, or one sent twice, is a 400 naming it,
never ignored (a misspelt filter would otherwise widen a listing to every run of the clinic)."""

from __future__ import annotations

import httpx
import pytest

from api.examples import SEED_JOURNEY, SEED_PATIENT


@pytest.fixture
async def journey_id(api: httpx.AsyncClient) -> str:
    journey_id: str = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
    other: str = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
    for journey in (journey_id, other):
        response = await api.post(f"/journeys/{journey}/trigger", json=SEED_PATIENT)
        assert response.status_code == 202, response.text
    return journey_id


def refused_names(response: httpx.Response) -> list[str]:
    assert response.status_code == 400, response.text
    assert "runs" not in response.json()
    return [problem["path"] for problem in response.json()["problems"]]


@pytest.mark.parametrize("misspelt", ["journey_id", "journeyid", "patientid"])
async def test_a_misspelt_runs_filter_is_refused_naming_it_and_the_parameters_taken(
    api: httpx.AsyncClient, journey_id: str, misspelt: str
) -> None:
    response = await api.get("/journeys/runs", params={misspelt: journey_id})

    assert refused_names(response) == [misspelt]
    message = response.json()["problems"][0]["message"]
    assert "journeyId" in message and "status" in message and "cursor" in message


async def test_the_spelt_filter_still_lists_only_that_journeys_runs(
    api: httpx.AsyncClient, journey_id: str
) -> None:
    response = await api.get("/journeys/runs", params={"journeyId": journey_id})

    assert response.status_code == 200, response.text
    assert [run["journeyId"] for run in response.json()["runs"]] == [journey_id]


async def test_a_parameter_sent_twice_is_refused_rather_than_one_value_picked(
    api: httpx.AsyncClient, journey_id: str
) -> None:
    response = await api.get("/journeys/runs?status=running&status=completed&limit=5")

    assert refused_names(response) == ["status"]
    assert "2 times" in response.json()["problems"][0]["message"]


@pytest.mark.parametrize(
    "path",
    [
        "/journeys/{journey_id}?versoin=1",
        "/audit?run_id=x",
        "/journeys/runs/search?limit=5",
        "/journeys?page=2",
    ],
)
async def test_every_operation_refuses_a_parameter_it_does_not_take(
    api: httpx.AsyncClient, journey_id: str, path: str
) -> None:
    url = path.format(journey_id=journey_id)
    method = "POST" if url.startswith("/journeys/runs/search") else "GET"

    response = await api.request(method, url, json={} if method == "POST" else None)

    assert response.status_code == 400, response.text
    assert response.json()["problems"][0]["message"].startswith("Unknown query parameter")


async def test_a_parameter_name_that_could_be_patient_text_is_not_echoed(
    api: httpx.AsyncClient, journey_id: str
) -> None:
    response = await api.get("/journeys/runs", params={"Jane Doe 1970-01-01": "1"})

    assert refused_names(response) == ["(unnamed)"]
    assert "Jane" not in response.text
