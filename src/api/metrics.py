"""GET /metrics: Prometheus text, this process's (or every role's, in multiprocess mode) plus table gauges."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable, Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from api.auth import loopback_or_admin
from api.openapi import OPEN_FROM_LOOPBACK
from api.pipeline_gauges import pipeline_gauges
from api.pipeline_health import pipeline_health
from api.resources import Resources, get_resources
from events.dead_letters import PostgresDeadLetters
from events.pg import Queryable

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"}},
    dependencies=[Depends(loopback_or_admin)],
    openapi_extra=OPEN_FROM_LOOPBACK,
)
async def metrics(resources: Annotated[Resources, Depends(get_resources)]) -> Response:
    gauges = CollectorRegistry()
    gauges.register(_Values(await _delay_gauges(resources.pool)))
    gauges.register(_Values(_dead_letter_gauges(await waiting_dead_letters(resources.pool))))
    stall_seconds = resources.stall_warning_seconds
    health = await pipeline_health(resources.pool, stall_seconds)
    gauges.register(_Values(pipeline_gauges(health, stall_seconds)))
    text = _process_metrics() + generate_latest(gauges)
    return Response(content=text, media_type=CONTENT_TYPE_LATEST)


def _process_metrics() -> bytes:
    # In multiprocess mode every role (the timer's lateness histogram included) writes to a shared directory.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


async def _delay_gauges(db: Queryable) -> list[GaugeMetricFamily]:
    """The delay table's size and how many rows are past due, counted now; none if Postgres cannot answer."""
    try:
        async with asyncio.timeout(2):
            # Every tenant's delays, counted by a function that returns only the totals (migration 0015).
            row = await db.fetchrow("SELECT pending, overdue FROM delay_counts()")
    except Exception as error:  # a scrape must still return the process metrics
        log.warning("metrics: delay counts unavailable: %s", type(error).__name__)
        return []
    assert row is not None
    return [
        GaugeMetricFamily("pjs_timer_pending_delays", "Runs sleeping in a delay.", value=row["pending"]),
        GaugeMetricFamily(
            "pjs_timer_overdue_delays", "Delays past their resume_at not yet fired.", value=row["overdue"]
        ),
    ]


async def waiting_dead_letters(db: Queryable) -> dict[str, int] | None:
    """Dead letters waiting (neither retried nor discarded), per consumer group; None if Postgres cannot
    answer."""
    try:
        async with asyncio.timeout(2):
            return await PostgresDeadLetters(db).waiting_by_group()
    except Exception as error:  # a scrape or a probe must still answer
        log.warning("dead-letter counts unavailable: %s", type(error).__name__)
        return None


def _dead_letter_gauges(waiting: dict[str, int] | None) -> list[GaugeMetricFamily]:
    if waiting is None:
        return []
    gauge = GaugeMetricFamily(
        "pjs_dead_letters_waiting",
        "Records set aside by a consumer group, neither retried nor discarded yet.",
        labels=["group"],
    )
    for group, count in waiting.items():
        gauge.add_metric([group], count)
    return [gauge]


class _Values(Collector):
    """Hands already-computed metric families to a registry (collectors cannot await)."""

    def __init__(self, families: Iterable[GaugeMetricFamily]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        return iter(self._families)
