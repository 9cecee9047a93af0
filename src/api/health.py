"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from api.resources import Resources, get_resources
from events.broker import broker_answers

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness: the process answers")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="Readiness: Postgres and Kafka are reachable")
async def ready(resources: Annotated[Resources, Depends(get_resources)]) -> JSONResponse:
    checks = {
        "postgres": await _postgres_answers(resources),
        "kafka": await broker_answers(resources.kafka_bootstrap),
    }
    ready = all(checks.values())
    return JSONResponse(
        {
            "status": "ready" if ready else "not ready",
            "checks": {k: "ok" if v else "down" for k, v in checks.items()},
        },
        status_code=200 if ready else 503,
    )


async def _postgres_answers(resources: Resources) -> bool:
    try:
        async with asyncio.timeout(2):
            return bool(await resources.pool.fetchval("SELECT 1") == 1)
    except Exception:  # any failure to answer means not ready; the probe itself must not fail
        return False
