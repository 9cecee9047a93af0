"""The demo journey `pjs dev` loads (pjs/demo/*.json), under a fixed id, and curl lines to try it."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Final
from uuid import UUID

import orjson

from api.key_store import create_tenant, tenant_id_of
from domain.journey import JourneyDefinition
from domain.validation import validate_journey
from engine.journey_repository import PostgresJourneyRepository
from events.tenancy import bind_tenant
from pjs import wiring
from pjs.operators import operator_actor
from pjs.settings import Settings

DEMO_JOURNEY_ID: Final = UUID("7d3c1e52-4b8a-4f0e-9c6d-2a5b8e1f0c37")
"""Fixed, so restarting `pjs dev` finds the demo journey instead of creating another."""


def _demo_file(name: str) -> Any:
    return orjson.loads(resources.files("pjs").joinpath("demo", name).read_bytes())


def demo_journey() -> JourneyDefinition:
    """The demo journey, validated like any posted journey."""
    parsed = validate_journey(_demo_file("pre_op_reminders.json"))
    if isinstance(parsed, list):
        raise ValueError("the demo journey is invalid: " + "; ".join(p.message for p in parsed))
    return parsed


def demo_patient() -> dict[str, Any]:
    patient: dict[str, Any] = _demo_file("patient.json")
    return patient


async def load_demo_journey(settings: Settings) -> UUID:
    """Make sure the demo journey is stored (a new version if its file changed) in the development tenant,
    whose key `pjs dev` prints; returns its id."""
    definition = demo_journey()
    # As the schema owner: it may create the tenant, which the workers' role may not (events/grants.py).
    pool = await wiring.create_pool(settings, max_size=1, admin=True)
    try:
        async with pool.acquire() as connection, connection.transaction():
            tenant = await tenant_id_of(connection, settings.dev_tenant)
            await bind_tenant(
                connection,
                tenant or await create_tenant(connection, settings.dev_tenant, by=operator_actor(None)),
            )
            journeys = PostgresJourneyRepository(connection)
            latest = await journeys.latest(DEMO_JOURNEY_ID)
            now = datetime.now(UTC)
            if latest is None:
                await journeys.create(DEMO_JOURNEY_ID, definition, now=now)
            elif latest.definition != definition:
                await journeys.add_version(DEMO_JOURNEY_ID, definition, now=now)
    finally:
        await pool.close()
    return DEMO_JOURNEY_ID


def demo_curl(base_url: str = "http://127.0.0.1:8000", key_file: Path = Path(".pjs/dev-api-key")) -> str:
    """Shell lines that trigger the demo journey and follow the run, with the dev key from `key_file`."""
    patient = orjson.dumps(demo_patient()).decode()
    return f"""\
# Every request carries the development API key `pjs dev` wrote:
AUTH="Authorization: Bearer $(cat {key_file})"
# Start the demo journey for a patient (note the runId in the 202 response):
curl -si -X POST {base_url}/journeys/{DEMO_JOURNEY_ID}/trigger -H "$AUTH" \\
  -H 'Content-Type: application/json' -H 'Idempotency-Key: demo-1' -d '{patient}'
# Follow the run, its timeline, or cancel it:
curl -s -H "$AUTH" {base_url}/journeys/runs/<runId>
curl -s -H "$AUTH" {base_url}/journeys/runs/<runId>/events
curl -s -H "$AUTH" -X POST {base_url}/journeys/runs/<runId>/cancel
# Every journey, and the API's docs:
curl -s -H "$AUTH" {base_url}/journeys      # Swagger UI: {base_url}/api (Authorize with the key)
"""
