"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from api.auth import loopback_or_admin
from api.metrics import waiting_dead_letters
from api.openapi import OPEN_FROM_LOOPBACK
from api.pipeline_health import pipeline_health
from api.resources import Resources, get_resources
from api.stall_warnings import stall_warnings
from events.broker import broker_answers

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness: the process answers")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    summary="Readiness: the API can take work (Postgres answers); Kafka's state and warnings in the body",
    description="503 only when Postgres does not answer. Kafka down is a warning in `details`, still 200: "
    "triggers are kept in the outbox and published once Kafka answers. `details` also lists dead letters "
    "waiting, a role not heard from, a consumer group behind without progress, due delays not fired, "
    "events not published.",
    dependencies=[Depends(loopback_or_admin)],
    openapi_extra=OPEN_FROM_LOOPBACK,
    responses={
        200: {"description": "Ready: Postgres answers (warnings, if any, in `details`)"},
        503: {"description": "Not ready: Postgres does not answer (the same body, `status: not ready`)"},
    },
)
async def ready(resources: Annotated[Resources, Depends(get_resources)]) -> JSONResponse:
    checks = {
        "postgres": await _postgres_answers(resources),
        "kafka": await broker_answers(resources.kafka),
    }
    # Only Postgres decides: without Kafka the API still takes every request (the outbox keeps what it
    # appends), and a load balancer told "not ready" would turn a stalled pipeline into an outage.
    ready = checks["postgres"]
    body: dict[str, object] = {
        "status": "ready" if ready else "not ready",
        "checks": {k: "ok" if v else "down" for k, v in checks.items()},
    }
    details = [] if checks["kafka"] else [_kafka_down(resources)]
    details += await _warnings(resources) if checks["postgres"] else []
    if details:
        body["details"] = details
    return JSONResponse(body, status_code=200 if ready else 503)


def _kafka_down(resources: Resources) -> str:
    return (
        f"kafka: no broker answers at {resources.kafka.bootstrap}; triggers are still taken and kept in the "
        "outbox, and runs move on once the relay can publish them"
    )


async def _warnings(resources: Resources) -> list[str]:
    stall_seconds = resources.stall_warning_seconds
    waiting, health = await asyncio.gather(
        waiting_dead_letters(resources.pool), pipeline_health(resources.pool, stall_seconds)
    )
    return _dead_letter_warnings(waiting or {}) + stall_warnings(health, stall_seconds)


def _dead_letter_warnings(waiting: dict[str, int]) -> list[str]:
    if not waiting:
        return []
    per_group = ", ".join(f"{group}: {count}" for group, count in waiting.items())
    total = sum(waiting.values())
    return [f"{total} dead letter(s) waiting ({per_group}); see `pjs dead-letters list`"]


async def _postgres_answers(resources: Resources) -> bool:
    try:
        async with asyncio.timeout(2):
            return bool(await resources.pool.fetchval("SELECT 1") == 1)
    except Exception:  # any failure to answer means not ready; the probe itself must not fail
        return False
