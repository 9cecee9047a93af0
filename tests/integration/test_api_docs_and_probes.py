"""The OpenAPI and AsyncAPI documents, Swagger UI, health, readiness and metrics."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import jsonschema_rs
import orjson
import pytest
import yaml

from api.examples import SEED_JOURNEY, SEED_PATIENT
from api.header_deadline import timeout_response
from events.catalogue import EVENT_TYPES
from pjs.settings import Settings
from support.api import app_client
from support.ports import free_port_below_ephemeral_range


async def test_the_openapi_document_is_served_at_both_urls(api: httpx.AsyncClient) -> None:
    standard = await api.get("/openapi.json")
    alias = await api.get("/api-json")

    assert standard.status_code == alias.status_code == 200
    assert standard.json() == alias.json()


async def test_every_request_body_has_a_schema_and_the_seed_journey_as_example(
    api: httpx.AsyncClient,
) -> None:
    document = (await api.get("/openapi.json")).json()
    paths = document["paths"]

    for path, method in [("/journeys", "post"), ("/journeys/{journeyId}", "put")]:
        content = paths[path][method]["requestBody"]["content"]["application/json"]
        assert content["schema"] == {"$ref": "#/components/schemas/JourneyIn"}
        assert content["examples"]["seed"]["value"]["name"] == "Pre-op reminders"
    trigger = paths["/journeys/{journeyId}/trigger"]["post"]["requestBody"]["content"]["application/json"]
    assert trigger["examples"]["senior"]["value"]["id"] == "patient-123"
    assert {"JourneyIn", "PatientContextIn", "ConditionalNode"} <= set(document["components"]["schemas"])


async def test_every_operation_documents_the_408_of_a_request_too_slow_to_arrive(
    api: httpx.AsyncClient,
) -> None:
    document = (await api.get("/openapi.json")).json()
    error_out = {"$ref": "#/components/schemas/ErrorOut"}
    sent = orjson.loads(timeout_response(10.0, []).partition(b"\r\n\r\n")[2])

    timeouts = [op["responses"].get("408") for ops in document["paths"].values() for op in ops.values()]

    assert len(timeouts) >= 16
    for documented in timeouts:
        assert documented["content"]["application/json"]["schema"] == error_out
        assert "PJS_API_HEADER_TIMEOUT_SECONDS" in documented["description"]
        assert documented["headers"]["Connection"]["schema"]["const"] == "close"
    error_shape = {**error_out, "components": document["components"]}
    assert jsonschema_rs.validator_for(error_shape).is_valid(sent)  # what the header deadline writes


async def test_swagger_ui_is_at_api(api: httpx.AsyncClient) -> None:
    response = await api.get("/api")

    assert response.status_code == 200
    assert "swagger" in response.text.lower()


async def test_health_and_readiness_answer_when_postgres_and_kafka_are_up(api: httpx.AsyncClient) -> None:
    assert (await api.get("/health")).json() == {"status": "ok"}
    ready = await api.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"postgres": "ok", "kafka": "ok"}


async def test_with_kafka_down_the_api_stays_ready_and_says_so_and_still_takes_triggers(
    settings: Settings, api_key: str
) -> None:
    kafka_gone = f"127.0.0.1:{free_port_below_ephemeral_range()}"
    async with app_client(settings.model_copy(update={"kafka_bootstrap": kafka_gone}), api_key) as (api, _):
        ready = await api.get("/ready")
        journey_id = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
        trigger = await api.post(f"/journeys/{journey_id}/trigger", json=SEED_PATIENT)

    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"
    assert ready.json()["checks"] == {"postgres": "ok", "kafka": "down"}
    [kafka] = [line for line in ready.json()["details"] if line.startswith("kafka:")]
    assert kafka_gone in kafka and "outbox" in kafka
    assert trigger.status_code == 202, trigger.text


async def test_metrics_count_pending_and_overdue_delays(api: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    now = datetime.now(UTC)
    await pool.executemany(
        "INSERT INTO delays (run_id, node_id, resume_at, started_version) VALUES ($1, 'wait', $2, 2)",
        [(uuid.uuid4(), now - timedelta(minutes=5)), (uuid.uuid4(), now + timedelta(hours=1))],
    )

    response = await api.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()
    assert "pjs_timer_overdue_delays 1.0" in lines
    assert "pjs_timer_pending_delays 2.0" in lines


async def test_metrics_in_multiprocess_mode_still_show_the_delay_gauges(
    api: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))

    response = await api.get("/metrics")

    assert response.status_code == 200
    assert "pjs_timer_overdue_delays 0.0" in response.text.splitlines()


async def test_the_asyncapi_document_of_the_configured_topic_is_served_open_as_json_and_yaml(
    settings: Settings,
) -> None:
    async with app_client(settings, None, client=("203.0.113.7", 40000)) as (keyless, _):
        as_json = await keyless.get("/asyncapi.json")
        as_yaml = await keyless.get("/asyncapi.yaml")

    assert as_json.status_code == as_yaml.status_code == 200
    assert as_yaml.headers["content-type"].startswith("application/yaml")
    document = as_json.json()
    assert yaml.safe_load(as_yaml.text) == document
    assert document["asyncapi"] == "3.0.0"
    assert document["channels"]["runEvents"]["address"] == settings.run_events_topic
    assert set(document["components"]["messages"]) == set(EVENT_TYPES)


async def test_the_served_asyncapi_document_names_the_configured_local_broker_port(
    settings: Settings,
) -> None:
    moved = settings.model_copy(update={"local_kafka_port": 24321})
    async with app_client(moved, None, client=("203.0.113.7", 40000)) as (keyless, _):
        document = (await keyless.get("/asyncapi.json")).json()

    local = document["servers"]["local"]
    assert local["host"] == "127.0.0.1:{port}"
    assert local["variables"]["port"]["default"] == "24321"
