"""What a failure looks like: a run explorer page gets a page with the pages' headers, the API its JSON;
neither says what went wrong inside."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI

from api.errors import install_error_handlers

INSIDE = "relation run_status does not exist; patient Jane Roe"


def failing_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/ui/runs")
    @app.get("/journeys/runs")
    @app.get("/patients/{patientId}/erasure")
    async def broken() -> None:
        raise RuntimeError(INSIDE)

    return app


async def get(path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=failing_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://pjs") as client:
        return await client.get(path)


async def test_a_failure_on_a_page_is_an_error_page_that_cannot_be_framed() -> None:
    response = await get("/ui/runs")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "Internal server error." in response.text and INSIDE not in response.text


async def test_a_failure_in_the_api_is_json_that_says_nothing_of_the_inside() -> None:
    response = await get("/journeys/runs")
    assert response.status_code == 500
    assert response.json() == {"message": "Internal server error."}


async def test_the_log_of_a_failure_names_the_route_never_a_patient_id_in_the_path(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="api.errors"):
        assert (await get("/patients/MRN-8812-4410/erasure")).status_code == 500
    assert "/patients/{patientId}/erasure" in caplog.text
    assert "MRN-8812-4410" not in caplog.text
