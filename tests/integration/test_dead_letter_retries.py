"""Retrying a record several groups set aside: one copy, no row left waiting for it, nothing handled twice."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import asyncpg
import httpx
from aiokafka import TopicPartition
from test_dead_letter_discards import park_junk
from test_dead_letters import GARBLED_TYPE, with_subscriber_groups

from engine.delivery_worker import DeliveryConfig
from events.broker import KafkaConnection
from events.catalogue import RecordedEvent
from events.consumer_group import GroupLoop
from events.group_config import GroupConfig
from pjs.roles import group_config
from pjs.settings import Settings
from pjs.wiring import dead_letters, delivery_worker, event_store
from support import kafka as topic_support
from support.cli import dead_letters_cli
from support.kafka import RawRecord, ce_headers, produce, publish_everything
from support.messaging import RecordingChannel
from support.ports import free_port_below_ephemeral_range
from support.roles import eventually, in_process, running_tasks
from support.workload import write_mixed_workload


async def rows_by_status(pool: asyncpg.Pool) -> Counter[tuple[str, int | None]]:
    """How many dead letters there are per (status, retry_of)."""
    rows = await pool.fetch("SELECT status, retry_of FROM dead_letters")
    return Counter((row["status"], row["retry_of"]) for row in rows)


async def test_a_retry_leaves_no_group_s_row_of_the_record_waiting_and_a_failing_copy_waits_once_per_group(
    settings: Settings, pool: asyncpg.Pool, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    settings = with_subscriber_groups(settings, tmp_path)
    junk = RawRecord(0, b'{"node_id": "welcome"}', [("ce_type", GARBLED_TYPE), *ce_headers(None)])
    await produce(settings.kafka_connection(), settings.run_events_topic, [junk])
    groups = ("projector", "audit", "analytics", "engine", "delivery")
    deliveries = delivery_worker(pool, RecordingChannel(), DeliveryConfig(), settings)
    delivery = GroupLoop(
        group_config(settings, settings.delivery_group, 100), deliveries.handle, dead_letters(pool)
    )

    async with in_process(settings, *groups[:4]), running_tasks(delivery.run):
        await eventually(lambda: _counted(pool, {("waiting", None): len(groups)}), seconds=60)
        chosen = min((await dead_letters(pool).listing()), key=lambda letter: letter.dead_letter_id)

        retried = await asyncio.to_thread(dead_letters_cli, settings, "retry", str(chosen.dead_letter_id))

        assert retried.exit_code == 0, retried.output
        copies = {("retried", None): len(groups), ("waiting", chosen.dead_letter_id): len(groups)}
        await eventually(lambda: _counted(pool, copies), seconds=60)
        await asyncio.sleep(1)  # time for a group to (wrongly) set aside the copy twice or the original again
        assert await rows_by_status(pool) == copies

    assert sum((await dead_letters(pool).waiting_by_group()).values()) == len(groups)
    details = (await api.get("/ready")).json()["details"]
    assert details[0].startswith(f"{len(groups)} dead letter(s) waiting")
    again = await asyncio.to_thread(dead_letters_cli, settings, "retry", str(chosen.dead_letter_id))
    assert again.exit_code == 1 and "was retried already" in again.output
    shown = await asyncio.to_thread(dead_letters_cli, settings, "show", str(chosen.dead_letter_id))
    assert shown.output.count(f"waiting  {chosen.dead_letter_id}") == len(groups)


async def test_a_retried_record_that_now_succeeds_is_handled_once_by_every_group(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    kafka, topic = settings.kafka_connection(), settings.run_events_topic
    await write_mixed_workload(event_store(pool), runs=3)
    ends = await publish_everything(settings, pool)
    poisoned = await pool.fetchval("SELECT event_id FROM events ORDER BY position LIMIT 1")
    broken = True
    handled: dict[str, Counter[uuid.UUID]] = {"first": Counter(), "second": Counter()}

    def reader(name: str) -> GroupLoop:
        async def handle(batch: Sequence[RecordedEvent]) -> None:
            if broken and any(event.event_id == poisoned for event in batch):
                raise ValueError("this reader cannot take that event yet")
            handled[name].update(event.event_id for event in batch)

        group = f"{settings.projector_group}-{name}"
        config = GroupConfig(kafka, topic, group, retry_seconds=0.01, max_retry_seconds=0.05)
        return GroupLoop(config, handle, dead_letters(pool))

    async with in_process(settings, "projector"), running_tasks(reader("first").run, reader("second").run):
        await eventually(lambda: _counted(pool, {("waiting", None): 2}), seconds=60)
        await eventually(lambda: _moved_past(kafka, settings.projector_group, ends), seconds=60)
        stats = await pool.fetch("SELECT * FROM journey_stats ORDER BY 1, 2, 3")
        broken = False  # the operator fixed the cause
        letter_id = await pool.fetchval("SELECT min(dead_letter_id) FROM dead_letters")

        retried = await asyncio.to_thread(dead_letters_cli, settings, "retry", str(letter_id))

        assert retried.exit_code == 0, retried.output
        grown = await topic_support.end_offsets(kafka, topic, settings.run_events_partitions)

        async def both_handled_it() -> bool:
            return all(handled[name][poisoned] for name in handled)

        await eventually(both_handled_it, seconds=60)
        await eventually(lambda: _moved_past(kafka, settings.projector_group, grown), seconds=60)
        await asyncio.sleep(1)  # time for a group to (wrongly) handle the copy twice

    stored = await pool.fetch("SELECT event_id FROM events")
    assert all(handled[name] == Counter({row["event_id"]: 1 for row in stored}) for name in handled)
    assert await rows_by_status(pool) == {("retried", None): 2}
    assert await pool.fetch("SELECT * FROM journey_stats ORDER BY 1, 2, 3") == stats


async def test_a_group_behind_that_sets_aside_a_record_already_retried_files_its_row_as_retried(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    [audit] = await park_junk(pool, settings.run_events_topic, 50, "pjs-test-audit")
    retried = await asyncio.to_thread(dead_letters_cli, settings, "retry", str(audit))
    assert retried.exit_code == 0, retried.output

    [_, analytics] = await park_junk(pool, settings.run_events_topic, 50, "pjs-test-analytics")

    letter = await dead_letters(pool).get(analytics)
    assert letter is not None and letter.status == "retried"  # it reads the copy later, like the others
    assert await dead_letters(pool).waiting_by_group() == {}


async def test_a_record_retried_after_a_discard_for_every_group_is_filed_as_retried_by_a_group_behind(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    [audit] = await park_junk(pool, settings.run_events_topic, 53, "pjs-test-audit")
    discard = ("discard", str(audit), "--all-groups", "--reason", "junk", "--by", "alice")
    assert (await asyncio.to_thread(dead_letters_cli, settings, *discard)).exit_code == 0
    [_, analytics] = await park_junk(pool, settings.run_events_topic, 53, "pjs-test-analytics")
    retried = await asyncio.to_thread(dead_letters_cli, settings, "retry", str(audit))
    assert retried.exit_code == 0, retried.output

    [*_, engine] = await park_junk(pool, settings.run_events_topic, 53, "pjs-test-engine")

    letter = await dead_letters(pool).get(engine)
    assert letter is not None and letter.status == "retried" and letter.retried_at is not None
    assert (letter.discarded_at, letter.discarded_by, letter.discard_reason) == (None, None, None)
    still_discarded = await dead_letters(pool).get(analytics)
    assert still_discarded is not None and still_discarded.status == "discarded"


async def test_a_retry_while_kafka_cannot_be_reached_exits_1_in_one_line_and_changes_nothing(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    engine, audit = await park_junk(pool, settings.run_events_topic, 51, "pjs-test-engine", "pjs-test-audit")
    before = [await dead_letters(pool).get(letter_id) for letter_id in (engine, audit)]
    nobody = f"127.0.0.1:{free_port_below_ephemeral_range()}"

    result = await asyncio.to_thread(
        dead_letters_cli, settings.model_copy(update={"kafka_bootstrap": nobody}), "retry", str(audit)
    )

    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"error: Kafka at {nobody} did not take the copy (KafkaConnectionError); nothing changed, dead letter"
        f" {audit} is as it was: check PJS_KAFKA_BOOTSTRAP and that the broker runs, then retry"
    ]
    assert [await dead_letters(pool).get(letter_id) for letter_id in (engine, audit)] == before
    assert await dead_letters(pool).waiting_by_group() == {"pjs-test-engine": 1, "pjs-test-audit": 1}


async def _counted(pool: asyncpg.Pool, expected: dict[tuple[str, int | None], int]) -> bool:
    return await rows_by_status(pool) == Counter(expected)


async def _moved_past(kafka: KafkaConnection, group: str, ends: dict[TopicPartition, int]) -> bool:
    committed = await topic_support.committed_offsets(kafka, group)
    return all(committed.get(tp, 0) >= end for tp, end in ends.items() if end > 0)
