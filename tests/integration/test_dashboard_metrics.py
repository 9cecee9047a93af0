"""Every metric the Grafana dashboard queries is on /metrics of a running stack, traffic behind it."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import asyncpg
import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from domain.run_state import RunStatus
from engine.delivery_worker import DeliveryConfig
from events.catalogue import MessageRequested
from events.consumer_group import GroupLoop
from pjs.roles import group_config
from pjs.settings import Settings
from pjs.wiring import dead_letters, delivery_worker
from support.dashboard import Exposition, load_dashboard, metric_names, panel_expressions, queried_metrics
from support.journeys import delay, message
from support.kafka import RawRecord, ce_headers, produce
from support.messaging import RecordingChannel
from support.roles import eventually, free_port, in_process, role_processes, running_tasks

RUNS = 3


async def test_every_metric_the_dashboard_queries_is_exposed_by_the_running_roles(
    api: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool
) -> None:
    before = await _scrape(api)
    channel = RecordingChannel()
    deliveries = delivery_worker(pool, channel, DeliveryConfig(), settings)
    delivery = GroupLoop(
        group_config(settings, settings.delivery_group, 100, (MessageRequested,)),
        deliveries.handle,
        dead_letters(pool),
    )
    async with in_process(settings, "relay", "engine", "timer", "projector"), running_tasks(delivery.run):
        run_ids = await _runs_through_a_short_delay(api)
        for run_id in run_ids:
            await eventually(lambda run_id=run_id: _finished(api, run_id), seconds=60)
        # One record nobody can decode, so the dead-letter panels have something to show.
        await produce(
            settings.kafka_connection(), settings.run_events_topic, [RawRecord(0, b"\x00{", ce_headers(None))]
        )
        waiting = f'pjs_dead_letters_waiting{{group="{settings.projector_group}"}}'
        await eventually(lambda: _shows(api, waiting), seconds=60)
        text = await _scrape(api)

    dashboard = load_dashboard()
    assert all(metric_names(expression) for expression in panel_expressions(dashboard))  # none drops out
    assert Exposition(text).missing(queried_metrics(dashboard)) == []
    earlier, after = _samples(before), _samples(text)
    published = "pjs_relay_published_events_total"
    assert _value(after, published) - _value(earlier, published) >= 4 * RUNS  # 2 messages, delay, start
    assert _value(after, "pjs_timer_fired_total") - _value(earlier, "pjs_timer_fired_total") >= RUNS
    engine = {"group": settings.engine_group}
    assert _value(after, "pjs_consumer_records_total", engine) >= RUNS
    assert _value(after, "pjs_consumer_batch_records_count", engine) >= 1
    assert _value(after, "pjs_consumer_dead_letters_total", {"group": settings.projector_group}) == 1
    assert any(
        s.name == "pjs_consumer_lag_records" and s.labels["group"] == settings.engine_group for s in after
    )
    trigger = {"method": "POST", "route": "/journeys/{journeyId}/trigger", "status_class": "2xx"}
    assert _value(after, "pjs_http_request_duration_seconds_count", trigger) >= RUNS
    assert not any(str(run_id) in text for run_id in run_ids)  # no run id in any label


async def _runs_through_a_short_delay(api: httpx.AsyncClient) -> list[UUID]:
    journey = {
        "name": "Metrics walk",
        "start_node_id": "hello",
        "nodes": [message("hello", "wait"), delay("wait", 1, "bye"), message("bye")],
    }
    created = await api.post("/journeys", json=journey)
    assert created.status_code == 201, created.text
    journey_id = created.json()["journeyId"]
    run_ids = []
    for number in range(RUNS):
        patient = {"id": f"p-{number}", "age": 40, "language": "en"}
        triggered = await api.post(f"/journeys/{journey_id}/trigger", json=patient)
        assert triggered.status_code == 202, triggered.text
        run_ids.append(UUID(triggered.json()["runId"]))
    return run_ids


async def _finished(api: httpx.AsyncClient, run_id: UUID) -> bool:
    return bool((await api.get(f"/journeys/runs/{run_id}")).json()["status"] == RunStatus.COMPLETED)


async def _scrape(api: httpx.AsyncClient) -> str:
    response = await api.get("/metrics")  # the test client calls from loopback, as the probe requires
    assert response.status_code == 200
    return response.text


async def _shows(api: httpx.AsyncClient, series: str) -> bool:
    return any(line.startswith(series) for line in (await _scrape(api)).splitlines())


def _samples(text: str) -> list[Sample]:
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def _value(samples: list[Sample], name: str, labels: dict[str, str] | None = None) -> float:
    """The sum of the samples named `name` whose labels include `labels` (histogram series summed over le)."""
    wanted = labels or {}
    return sum(s.value for s in _matching(samples, name, wanted))


def _matching(samples: list[Sample], name: str, wanted: dict[str, str]) -> Iterator[Sample]:
    return (s for s in samples if s.name == name and wanted.items() <= s.labels.items())


async def test_a_worker_role_given_a_port_serves_its_own_metrics_on_loopback(settings: Settings) -> None:
    port = free_port()
    with role_processes(settings, "relay", PJS_ROLE_METRICS_PORT=str(port)):

        async def scraped() -> str | None:
            try:
                async with httpx.AsyncClient() as client:
                    response = await client.get(f"http://127.0.0.1:{port}/metrics")
            except httpx.TransportError:
                return None  # not listening yet
            return response.text if "pjs_relay_lag_seconds" in response.text else None

        text = await eventually(scraped, seconds=60, every=0.5)

    exposed = Exposition(text)
    assert {"pjs_relay_lag_events", "pjs_relay_lag_seconds", "pjs_relay_published_events"} <= set(
        exposed.types
    )
