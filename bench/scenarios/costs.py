"""`costs`: the CPU of single pieces of a run's work, each measured alone, to read `capacity` against.

`capacity` says what a run costs in all; this says what its parts cost, by cause rather than from a
profiler's samples (which, on a saturated machine, pile up wherever a process is preempted):
- a Postgres round trip (`SELECT 1`) and an empty transaction, client and backend, on asyncio's loop
  and on uvloop;
- decoding a consumed record and encoding a published one; the checks every appended event passes;
  validating the reference journey (what a trigger once paid on every request);
- an idle consumer group of the service (`GroupLoop`), with the fetch wait the service uses and with
  a ten times longer one;
- a message sent by the webhook channel (the SMS channel's too) to a stub provider in its own process,
  one at a time and as many at a time as the delivery role sends.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from uuid import uuid4

import orjson

from bench.provider_stub import provider_stub
from bench.scenario import Figures, Scenario, ScenarioContext
from bench.scenarios.pipeline import REFERENCE_JOURNEY
from bench.unit_costs import (
    LOOPS,
    idle_consumer_ms_per_s,
    in_thread,
    per_call_us,
    round_trips,
    webhook_send_us,
)
from domain.validation import validate_journey
from engine.delivery_worker import DeliveryConfig
from events.append_checks import validated_payloads
from events.catalogue import RecordedEvent, stamp
from events.envelope import from_kafka_record, to_kafka_record
from events.event_size import DEFAULT_MAX_EVENT_BYTES
from events.message_events import MessageRequested
from events.store import AppendRequest
from pjs.roles import group_config
from pjs.settings import Settings

QUICK_COUNTS = (300, 2_000, 2.0)  # round trips (and webhook sends), codec calls, idle consumer seconds
FULL_COUNTS = (3_000, 20_000, 10.0)


async def run(context: ScenarioContext) -> Figures:
    trips, calls, idle_seconds = QUICK_COUNTS if context.config.quick else FULL_COUNTS
    box = context.sandbox
    figures: Figures = {}
    for loop_name in LOOPS:
        measured = await in_thread(loop_name, partial(round_trips, box.worker_database_url, trips))
        figures |= {f"{name}_{loop_name}": value for name, value in measured.items()}
    figures |= _codec_costs(calls)
    topic = await box.topic("costs")
    settings = Settings()
    service_wait = settings.consumer_fetch_max_wait_ms
    for wait_ms in (service_wait, 10 * service_wait):
        # The service's own group config, pointed at this sandbox: only the fetch wait differs.
        config = replace(
            group_config(settings, box.group(f"idle-{wait_ms}"), settings.projector_batch_size),
            kafka=box.kafka,
            topic=topic,
            fetch_max_wait_ms=wait_ms,
        )
        idle = partial(idle_consumer_ms_per_s, config, box.worker_database_url, idle_seconds)
        figures[f"idle_consumer_cpu_ms_per_s_wait_{wait_ms}ms"] = await in_thread("asyncio", idle)
    return figures | await _webhook_costs(trips)


async def _webhook_costs(sends: int) -> Figures:
    figures: Figures = {}
    async with provider_stub() as url:
        for at_once in (1, DeliveryConfig().concurrency):
            cost = await in_thread("asyncio", partial(webhook_send_us, url, sends, at_once))
            figures[f"webhook_send_us_{at_once}_at_a_time"] = cost
    return figures


def _codec_costs(calls: int) -> Figures:
    run_id = uuid4()
    requested = MessageRequested(node_id="welcome", message="Surgery booked. Please arrive at 7:30.")
    [new] = stamp(run_id, 0, [requested], now=datetime.now(UTC), causation_id=uuid4(), correlation_id=run_id)
    recorded = RecordedEvent(**dict(new), position=1_000_000, tenant_id=uuid4())
    record = to_kafka_record(recorded)
    consumed = _Consumed(record.value, record.headers)
    journey = orjson.loads(orjson.dumps(REFERENCE_JOURNEY))
    append = [AppendRequest(run_id, 0, [new])]
    return {
        "decode_us_per_record": per_call_us(lambda: from_kafka_record(consumed), calls),
        "encode_us_per_record": per_call_us(lambda: to_kafka_record(recorded), calls),
        "append_checks_us_per_event": per_call_us(
            lambda: validated_payloads(append, DEFAULT_MAX_EVENT_BYTES), calls
        ),
        "journey_validation_us": per_call_us(
            lambda: validate_journey(journey, min_loop_delay_seconds=0), max(calls // 20, 50)
        ),
    }


class _Consumed:
    """A consumed record as aiokafka hands it over: its value and headers."""

    def __init__(self, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        self.value = value
        self.headers = headers


SCENARIO = Scenario(
    "costs", "CPU of single pieces of work: a round trip, a decode, the append checks, an idle consumer", run
)
