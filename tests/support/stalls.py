"""Stall tests: settings that beat and warn fast, and what /ready says about the pipeline."""

from __future__ import annotations

import asyncpg
import httpx

from pjs.settings import Settings

HEARTBEAT_SECONDS = 0.3
STALL_SECONDS = 1.5


def beating_fast(settings: Settings, **update: object) -> Settings:
    """`settings` with a heartbeat every 0.3 s and warnings after 1.5 s of silence or stall."""
    return settings.model_copy(
        update={"heartbeat_seconds": HEARTBEAT_SECONDS, "stall_warning_seconds": STALL_SECONDS, **update}
    )


async def ready_details(api: httpx.AsyncClient) -> list[str]:
    """/ready's warnings; it must stay 200 "ready" whatever they say."""
    ready = await api.get("/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"
    details: list[str] = ready.json().get("details", [])
    return details


async def warning_starting(api: httpx.AsyncClient, prefix: str) -> str | None:
    """The /ready warning that starts with `prefix`, if there is one now."""
    return next((line for line in await ready_details(api) if line.startswith(prefix)), None)


async def no_warning_starting(api: httpx.AsyncClient, prefix: str) -> bool:
    return await warning_starting(api, prefix) is None


async def heartbeat_pids(pool: asyncpg.Pool, role: str) -> set[int]:
    """The pids of the processes whose heartbeat rows for `role` are stored now."""
    rows = await pool.fetch("SELECT pid FROM role_heartbeats WHERE role = $1", role)
    return {row["pid"] for row in rows}
