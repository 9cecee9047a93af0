"""The searches read their JSON body as the trigger routes do: a body that is not JSON, malformed or too
deep gets the same clear refusal (415 for another media type, else 400), and a `limit` that is not a whole
number is refused, never coerced."""

from __future__ import annotations

import httpx
import pytest

from api.examples import SEED_JOURNEY, SEED_PATIENT

SEARCHES = ["/journeys/runs/search", "/audit/search"]


def message(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    text: str = response.json()["message"]
    return text


@pytest.mark.parametrize("path", SEARCHES)
async def test_malformed_json_is_named_as_such(api: httpx.AsyncClient, path: str) -> None:
    response = await api.post(path, content=b"{nope", headers={"Content-Type": "application/json"})

    assert message(response).startswith("The request body is not valid JSON:")


@pytest.mark.parametrize("path", SEARCHES)
async def test_a_body_that_is_not_json_names_its_content_type(api: httpx.AsyncClient, path: str) -> None:
    response = await api.post(path, content=b'{"limit": 5}', headers={"Content-Type": "text/plain"})

    assert response.status_code == 415, response.text
    assert response.json()["message"] == (
        "The request body must be JSON (Content-Type: application/json), not text/plain."
    )


@pytest.mark.parametrize("path", SEARCHES)
@pytest.mark.parametrize("depth", [40, 500_000])
async def test_a_body_nested_too_deep_is_refused_plainly(
    api: httpx.AsyncClient, path: str, depth: int
) -> None:
    body = b"[" * depth + b"]" * depth

    response = await api.post(path, content=body, headers={"Content-Type": "application/json"})

    text = message(response)
    assert "PJS_MAX_JSON_DEPTH" in text or text.startswith("The request body is not valid JSON:")
    assert "There was an error parsing the body" not in response.text


@pytest.mark.parametrize("path", SEARCHES)
@pytest.mark.parametrize("limit", ["5", True, 5.5, None])
async def test_a_limit_that_is_not_a_whole_number_is_refused(
    api: httpx.AsyncClient, path: str, limit: object
) -> None:
    response = await api.post(path, json={"limit": limit})

    assert [problem["path"] for problem in response.json()["problems"]] == ["limit"], response.text
    assert response.status_code == 400


@pytest.mark.parametrize("path", SEARCHES)
async def test_a_filter_the_search_does_not_have_is_named(api: httpx.AsyncClient, path: str) -> None:
    response = await api.post(path, json={"patientID": "p-1"})

    assert message(response) == "The search is not valid (1 problem)."
    assert [problem["path"] for problem in response.json()["problems"]] == ["patientID"]


@pytest.mark.parametrize("path", SEARCHES)
async def test_a_body_that_is_not_an_object_is_refused(api: httpx.AsyncClient, path: str) -> None:
    assert "JSON object" in message(await api.post(path, json=[]))


async def test_valid_searches_still_answer_with_whole_number_limits(api: httpx.AsyncClient) -> None:
    journey_id = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
    await api.post(f"/journeys/{journey_id}/trigger", json=SEED_PATIENT)

    runs = await api.post("/journeys/runs/search", json={"patientId": SEED_PATIENT["id"], "limit": 5})
    audit = await api.post("/audit/search", json={})

    assert runs.status_code == 200 and len(runs.json()["runs"]) == 1
    assert audit.status_code == 200 and audit.json()["entries"]
