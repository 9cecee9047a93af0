"""The documents served without a key (/asyncapi.*, /openapi.json, /api): no clinic's data, no secret."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest

from api.examples import CLINIC_PATIENT, SEED_JOURNEY
from pjs.settings import Settings
from support.api import app_client

pytestmark = pytest.mark.integration

OPEN_DOCUMENTS = ("/asyncapi.json", "/asyncapi.yaml", "/openapi.json", "/api", "/api/redoc")
JOURNEY_NAME = "Knee surgery follow-up of Ward 7B"
PATIENT = {**CLINIC_PATIENT, "id": "MRN-5521-0097"}


@pytest.fixture
async def anonymous(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings, None) as (client, _):
        yield client


async def test_the_open_documents_hold_no_clinics_data_and_no_secret(
    api: httpx.AsyncClient, anonymous: httpx.AsyncClient, settings: Settings, api_key: str
) -> None:
    journey_id = (await api.post("/journeys", json={**SEED_JOURNEY, "name": JOURNEY_NAME})).json()[
        "journeyId"
    ]
    run_id = (await api.post(f"/journeys/{journey_id}/trigger", json=PATIENT)).json()["runId"]
    secrets = [
        api_key,
        urlsplit(settings.resolved_database_url()).password or "",
        settings.kafka_connection().password or "",
    ]
    assert all(secrets)
    for path in OPEN_DOCUMENTS:
        document = await anonymous.get(path)
        assert document.status_code == 200, path
        for private in (JOURNEY_NAME, journey_id, run_id, str(PATIENT["id"]), *secrets):
            assert private not in document.text, path


@pytest.mark.parametrize("path", ["/api", "/api/redoc"])
async def test_the_api_docs_cannot_be_framed_by_another_site(anonymous: httpx.AsyncClient, path: str) -> None:
    docs = await anonymous.get(path)
    assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]
    assert docs.headers["x-content-type-options"] == "nosniff"
