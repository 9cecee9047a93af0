"""`relay`: events/s that `events.relay.Relay` publishes to Kafka while draining a pre-filled store."""

from __future__ import annotations

import asyncio
import contextlib
import time

import asyncpg

from bench import workload
from bench.ceilings import kafka
from bench.errors import BenchFailure
from bench.measure import rate, share, wait_until
from bench.scenario import Figures, Scenario, ScenarioContext
from bench.topics import records_on
from events.relay import Relay, RelayConfig
from events.store import AppendRequest
from pjs.settings import Settings
from pjs.wiring import event_store

_FILL_RUNS_PER_APPEND = 100


async def _fill(database_url: str, events: int, batch_events: int) -> None:
    """Pre-fill the store (untimed): runs of `batch_events` events, many runs per transaction."""
    batches = workload.batches("relay", events // batch_events, batch_events)
    async with asyncpg.create_pool(database_url, min_size=1, max_size=2) as pool:
        store = event_store(pool)
        for start in range(0, len(batches), _FILL_RUNS_PER_APPEND):
            chunk = batches[start : start + _FILL_RUNS_PER_APPEND]
            await store.append_many([AppendRequest(batch[0].run_id, 0, batch) for batch in chunk])


async def _drain_seconds(relay: Relay, expected: int, limit: float) -> float:
    """Run the relay from a cold start until its checkpoint covers `expected` events; then stop it."""
    stop = asyncio.Event()
    started = time.perf_counter()
    task = asyncio.create_task(relay.run(stop))
    try:
        await wait_until(lambda: relay.published >= expected or task.done(), limit, "relay drain")
        seconds = time.perf_counter() - started
        if task.done():
            task.result()
            raise BenchFailure(f"relay stopped after publishing {relay.published} of {expected}")
        return seconds
    finally:
        stop.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), 15)
        task.cancel()


async def run(context: ScenarioContext) -> Figures:
    sizes, box = context.config.sizes, context.sandbox
    expected = sizes.relay_events // sizes.batch_events * sizes.batch_events
    await _fill(box.worker_database_url, expected, sizes.batch_events)
    topic = await box.topic("relay")
    defaults = Settings()
    config = RelayConfig(
        box.worker_database_url, box.kafka, topic, defaults.relay_batch_size, defaults.relay_poll_seconds
    )
    relay = Relay(config)
    seconds = await _drain_seconds(relay, expected, sizes.phase_seconds)
    on_topic = await records_on(box.kafka, topic, box.partitions)
    if on_topic < expected:
        raise BenchFailure(f"relay checkpointed {relay.published} events but the topic holds {on_topic}")

    ceiling = context.earlier_figure("raw", "kafka_send_msgs_per_s")
    ceiling_source = "raw"
    if ceiling is None:  # run alone: measure the producer ceiling here, on a topic of its own
        measured = await kafka.measure(box.kafka, await box.topic("ceiling"), None, sizes, expected)
        ceiling, ceiling_source = measured.send_msgs_per_s, "relay"
    events_per_s = rate(expected, seconds)
    return {
        "events_per_s": events_per_s,
        "share_of_kafka_raw": share(events_per_s, ceiling) or 0.0,
        "drain_seconds": round(seconds, 2),
        "relay_batch_size": defaults.relay_batch_size,
        "records_on_topic": on_topic,
        "ceiling_measured_in": ceiling_source,
    }


SCENARIO = Scenario(
    "relay", "the outbox relay draining a pre-filled store to Kafka, vs a plain producer", run
)
