"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from api.resources import Resources, get_resources
from pjs.services.processes import port_is_open

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness: the process answers")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="Readiness: Postgres and Kafka are reachable")
async def ready(resources: Annotated[Resources, Depends(get_resources)]) -> JSONResponse:
    checks = {"postgres": await _postgres_answers(resources), "kafka": await _kafka_answers(resources)}
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


async def _kafka_answers(resources: Resources) -> bool:
    def check() -> bool:
        return any(
            port_is_open(host, int(port), timeout=1.0)
            for host, _, port in (
                address.rpartition(":")
                for address in resources.settings.resolved_kafka_bootstrap().split(",")
            )
        )

    return await asyncio.to_thread(check)
