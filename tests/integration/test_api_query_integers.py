"""On the real API: an integer in a query string (or the run explorer's one integer path segment) is its
digits, with a minus sign if negative; `75.0`, `7_5`, `+75` and the like are a 400 naming the parameter, as
the limits table says, never read as 75."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote
from uuid import uuid4

import httpx
import pytest

from api.examples import SEED_JOURNEY, SEED_PATIENT
from pjs.settings import Settings
from support.api import app_client
from support.ui import sign_in

# Every integer query parameter of the API, with a value it takes.
PARAMETERS = [
    ("/journeys/{journey_id}", "version", "1"),
    ("/journeys/runs", "limit", "75"),
    ("/journeys/runs/{run_id}/events", "limit", "75"),
    ("/journeys/runs/{run_id}/events", "afterVersion", "0"),
    ("/audit", "limit", "75"),
]
# The run explorer's, which its pages and their script send.
EXPLORER_PARAMETERS = [
    ("/ui/journeys/{journey_id}", "version", "1"),
    ("/ui/live/runs/{run_id}", "after", "0"),
]
NOT_DIGITS = ["75.0", "7.5e1", "7_5", "+75", " 75", "0x4b", "\u0667\u0665", ""]


@pytest.fixture
async def ids(api: httpx.AsyncClient) -> dict[str, str]:
    journey_id = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
    run_id = (await api.post(f"/journeys/{journey_id}/trigger", json=SEED_PATIENT)).json()["runId"]
    return {"journey_id": journey_id, "run_id": run_id}


@pytest.mark.parametrize("written", NOT_DIGITS)
@pytest.mark.parametrize(("path", "name", "taken"), PARAMETERS)
async def test_a_query_integer_written_other_than_as_digits_is_a_400_naming_the_parameter(
    api: httpx.AsyncClient, ids: dict[str, str], path: str, name: str, taken: str, written: str
) -> None:
    response = await api.get(path.format(**ids), params={name: written})

    assert response.status_code == 400, response.text
    [problem] = response.json()["problems"]
    assert problem["path"] == name
    assert "digits" in problem["message"]


@pytest.mark.parametrize(("path", "name", "taken"), PARAMETERS)
async def test_a_query_integer_written_as_digits_is_taken(
    api: httpx.AsyncClient, ids: dict[str, str], path: str, name: str, taken: str
) -> None:
    response = await api.get(path.format(**ids), params={name: taken})

    assert response.status_code == 200, response.text


@pytest.mark.parametrize(("path", "name", "taken"), PARAMETERS)
async def test_a_negative_query_integer_is_read_as_one_and_held_to_the_parameters_range(
    api: httpx.AsyncClient, ids: dict[str, str], path: str, name: str, taken: str
) -> None:
    response = await api.get(path.format(**ids), params={name: "-1"})

    assert response.status_code == 400, response.text
    [problem] = response.json()["problems"]
    assert problem["path"] == name
    assert "greater than or equal to" in problem["message"]


async def test_leading_zeros_are_still_digits(api: httpx.AsyncClient, ids: dict[str, str]) -> None:
    response = await api.get("/journeys/runs", params={"limit": "0001"})

    assert response.status_code == 200, response.text
    assert len(response.json()["runs"]) == 1
    assert response.json()["nextCursor"] is None


def integer_query_parameters(document: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(method, path template, name, schema) of every query parameter the document calls an integer."""
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                schema = parameter["schema"]
                integer = next(
                    (s for s in [schema, *schema.get("anyOf", [])] if s.get("type") == "integer"), None
                )
                if parameter["in"] == "query" and integer is not None:
                    found.append((method, path, parameter["name"], integer))
    return found


async def test_the_openapi_document_still_gives_every_query_integer_as_an_integer_with_its_bounds(
    api: httpx.AsyncClient,
) -> None:
    document = (await api.get("/openapi.json")).json()

    found = integer_query_parameters(document)

    templates = {(path, name) for _, path, name, _ in found}
    for path, name, _ in PARAMETERS:
        assert (path.replace("{journey_id}", "{journeyId}").replace("{run_id}", "{runId}"), name) in templates
    for _, _, _, schema in found:
        assert {"minimum", "maximum"} <= schema.keys() and not {"ge", "le"} & schema.keys(), schema


async def test_every_query_integer_in_the_openapi_document_refuses_one_written_as_a_float(
    api: httpx.AsyncClient,
) -> None:
    document = (await api.get("/openapi.json")).json()

    for method, path, name, _ in integer_query_parameters(document):
        url = re.sub(r"\{[^}]+\}", str(uuid4()), path)
        response = await api.request(method, url, params={name: "75.0"})

        assert response.status_code == 400, (method, path, name, response.text)
        assert [problem["path"] for problem in response.json()["problems"]] == [name]


@pytest.fixture
async def browser(settings: Settings, api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings, None) as (client, _):
        await sign_in(client, api_key)
        yield client


@pytest.mark.parametrize(("path", "name", "taken"), EXPLORER_PARAMETERS)
async def test_the_run_explorers_query_integers_are_digits_too(
    browser: httpx.AsyncClient, ids: dict[str, str], path: str, name: str, taken: str
) -> None:
    url = path.format(**ids)

    refused = [(await browser.get(url, params={name: written})).status_code for written in NOT_DIGITS]

    assert refused == [400] * len(NOT_DIGITS)
    assert (await browser.get(url, params={name: taken})).status_code == 200


LIVE_COUNTS = "/ui/live/journeys/{journey_id}/versions/{version}"


@pytest.mark.parametrize("written", ["1.0", "+1", " 1", "1 ", "1_0", "1e0", "\u0661", "abc"])
async def test_the_version_in_the_live_counters_path_is_its_digits_as_a_query_integer_is(
    browser: httpx.AsyncClient, ids: dict[str, str], written: str
) -> None:
    response = await browser.get(LIVE_COUNTS.format(journey_id=ids["journey_id"], version=quote(written)))

    assert response.status_code == 400, response.text
    [problem] = response.json()["problems"]
    assert problem == {
        "path": "version",
        "message": "Must be an integer written as digits, with a minus sign if negative (e.g. 75).",
    }


async def test_the_live_counters_version_takes_digits_leading_zeros_included_and_holds_its_range(
    browser: httpx.AsyncClient, ids: dict[str, str]
) -> None:
    def counts(version: str) -> str:
        return LIVE_COUNTS.format(journey_id=ids["journey_id"], version=version)

    first, padded = await browser.get(counts("1")), await browser.get(counts("001"))
    below = [await browser.get(counts(written)) for written in ("0", "-1")]

    assert (first.status_code, padded.status_code) == (200, 200)
    assert padded.json() == first.json() and first.json()["runs"] == {"in_progress": 1}
    assert [response.status_code for response in below] == [400, 400]
    assert {response.json()["problems"][0]["path"] for response in below} == {"version"}
