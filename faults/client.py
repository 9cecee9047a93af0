"""The one HTTP client of the service's API for the suite, sending the scenario's API key."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from faults.config import API_PORT, HOST

_TIMEOUT_SECONDS = 10.0


class Api:
    def __init__(self, key: str) -> None:
        self._http = httpx.AsyncClient(
            base_url=f"http://{HOST}:{API_PORT}",
            timeout=_TIMEOUT_SECONDS,
            headers={"Authorization": f"Bearer {key}"},
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def ready(self) -> dict[str, Any] | None:
        """The /ready body (checks per dependency), or None when the API does not answer."""
        try:
            answer = await self._http.get("/ready", timeout=5)
        except httpx.HTTPError:
            return None
        body: dict[str, Any] = answer.json()
        return body

    async def create_journey(self, journey: dict[str, Any]) -> str:
        answer = await self._http.post("/journeys", json=journey)
        answer.raise_for_status()
        return str(answer.json()["journeyId"])

    async def trigger(self, journey_id: str, patient: dict[str, Any]) -> str | None:
        """Start a run; its id when the API acknowledged it (2xx), else None (it may or may not exist)."""
        try:
            answer = await self._http.post(
                f"/journeys/{journey_id}/trigger",
                json=patient,
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
        except httpx.HTTPError:
            return None
        return str(answer.json()["runId"]) if answer.is_success else None

    async def cancel(self, run_id: str) -> int | None:
        """The status code of a cancel, or None when no answer came."""
        try:
            answer = await self._http.post(f"/journeys/runs/{run_id}/cancel")
        except httpx.HTTPError:
            return None
        return answer.status_code
