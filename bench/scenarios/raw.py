"""`raw`: the ceilings, plain asyncpg INSERTs and a plain aiokafka producer and group consumer."""

from __future__ import annotations

from bench.ceilings import kafka, postgres
from bench.scenario import Figures, Scenario, ScenarioContext


async def run(context: ScenarioContext) -> Figures:
    sizes, box = context.config.sizes, context.sandbox
    pg = await postgres.measure(box.migration_database_url, sizes)
    topic = await box.topic("raw")
    broker = await kafka.measure(box.kafka, topic, box.group("raw"), sizes, sizes.kafka_messages)
    return {
        "pg_insert_rows_per_s": pg.rows_per_s,
        "pg_insert_single_rows_per_s": pg.single_rows_per_s,
        "pg_payload_bytes": pg.payload_bytes,
        "kafka_send_msgs_per_s": broker.send_msgs_per_s,
        "kafka_consume_msgs_per_s": broker.consume_msgs_per_s or 0.0,
        "kafka_group_join_s": broker.group_join_seconds or 0.0,
        "kafka_record_bytes": broker.record_bytes,
    }


SCENARIO = Scenario(
    "raw", "ceilings: plain asyncpg batched INSERTs, plain aiokafka send and group consume", run
)
