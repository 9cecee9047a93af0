"""Operators discard dead letters that can never be handled: kept as history, no longer waiting."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import asyncpg
import httpx
import pytest
from aiokafka import ConsumerRecord
from test_dead_letters import GARBLED_TYPE

from events.catalogue import RecordedEvent
from events.consumer_group import GroupLoop
from events.dead_letters import Filed
from pjs.roles import group_config
from pjs.settings import Settings
from pjs.wiring import dead_letters
from support.cli import dead_letters_cli
from support.kafka import RawRecord, ce_headers, produce
from support.roles import eventually, running_tasks

JUNK = b"\x00\xffnot an event at all"


async def park_junk(pool: asyncpg.Pool, topic: str, offset: int, *groups: str) -> list[int]:
    """The ids of the rows `groups` each filed for one junk record at `offset` on partition 0."""
    record = ConsumerRecord(topic, 0, offset, 0, 0, None, JUNK, None, 0, len(JUNK), [])
    for group in groups:
        await dead_letters(pool).add(group, record, "InvalidEventPayload", "headers or payload are invalid")
    rows = await pool.fetch(
        "SELECT dead_letter_id FROM dead_letters WHERE record_offset = $1 ORDER BY dead_letter_id", offset
    )
    return [row["dead_letter_id"] for row in rows]


async def test_discarding_every_groups_row_of_a_junk_record_clears_ready_and_the_gauge_but_keeps_the_rows(
    settings: Settings, pool: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    topic = settings.run_events_topic
    junk = await park_junk(pool, topic, 40, "pjs-test-engine", "pjs-test-audit", "pjs-test-analytics")
    other = await park_junk(pool, topic, 41, "pjs-test-audit")
    assert (await api.get("/ready")).json()["details"] == [
        "4 dead letter(s) waiting (pjs-test-analytics: 1, pjs-test-audit: 2, pjs-test-engine: 1);"
        " see `pjs dead-letters list`"
    ]

    reason = "junk bytes produced by a load test"
    discard = ("discard", str(junk[1]), "--all-groups", "--reason", reason, "--by", "alice")
    discarded = await asyncio.to_thread(dead_letters_cli, settings, *discard)

    assert discarded.exit_code == 0, discarded.output
    assert (await api.get("/ready")).json()["details"] == [
        "1 dead letter(s) waiting (pjs-test-audit: 1); see `pjs dead-letters list`"
    ]
    metrics = (await api.get("/metrics")).text
    assert 'pjs_dead_letters_waiting{group="pjs-test-audit"} 1.0' in metrics
    assert "pjs-test-engine" not in metrics and "pjs-test-analytics" not in metrics
    listed = (await asyncio.to_thread(dead_letters_cli, settings, "list")).output.splitlines()
    rows = {line.split("\t")[0]: line.split("\t") for line in listed[1:] if "\t" in line}
    for letter_id in junk:
        assert rows[str(letter_id)][5] == "discarded"
        assert rows[str(letter_id)][7].endswith(f"ago by alice: {reason}")
    assert rows[str(other[0])][5:] == ["waiting", "-", "-"]
    waiting = (await asyncio.to_thread(dead_letters_cli, settings, "list", "--waiting")).output
    assert all(f"\n{letter_id}\t" not in waiting for letter_id in junk)


async def test_discarding_one_groups_row_leaves_the_other_groups_rows_of_that_record_waiting(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    _, audit = await park_junk(pool, settings.run_events_topic, 42, "pjs-test-engine", "pjs-test-audit")

    discarded = await asyncio.to_thread(dead_letters_cli, settings, "discard", str(audit), "--reason", "junk")

    assert discarded.exit_code == 0, discarded.output
    assert await dead_letters(pool).waiting_by_group() == {"pjs-test-engine": 1}
    letter = await dead_letters(pool).get(audit)
    assert letter is not None and (letter.status, letter.discard_reason) == ("discarded", "junk")
    assert letter.discarded_by  # the OS user running the command


async def test_discarding_a_dead_letter_twice_changes_nothing_the_second_time(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    [letter_id] = await park_junk(pool, settings.run_events_topic, 43, "pjs-test-audit")
    first = await asyncio.to_thread(dead_letters_cli, settings, "discard", str(letter_id), "--reason", "junk")
    before = await dead_letters(pool).get(letter_id)

    again = await asyncio.to_thread(
        dead_letters_cli, settings, "discard", str(letter_id), "--reason", "other words", "--by", "bob"
    )

    assert (first.exit_code, again.exit_code) == (0, 0), again.output
    assert "none (already retried or discarded)" in again.output
    assert await dead_letters(pool).get(letter_id) == before


async def test_discarding_an_unknown_dead_letter_exits_1_naming_it_and_discards_none_of_the_others(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    [letter_id] = await park_junk(pool, settings.run_events_topic, 44, "pjs-test-audit")

    result = await asyncio.to_thread(
        dead_letters_cli, settings, "discard", str(letter_id), "999999", "--reason", "junk"
    )

    assert result.exit_code == 1
    assert "no dead letter 999999; nothing discarded" in result.output
    assert await dead_letters(pool).waiting_by_group() == {"pjs-test-audit": 1}


async def test_a_discard_without_a_short_one_line_reason_is_refused(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    [letter_id] = await park_junk(pool, settings.run_events_topic, 45, "pjs-test-audit")

    missing = await asyncio.to_thread(dead_letters_cli, settings, "discard", str(letter_id))
    too_long = await asyncio.to_thread(
        dead_letters_cli, settings, "discard", str(letter_id), "--reason", "x" * 201
    )
    two_lines = await asyncio.to_thread(
        dead_letters_cli, settings, "discard", str(letter_id), "--reason", "junk\nmore"
    )

    assert (missing.exit_code, too_long.exit_code, two_lines.exit_code) == (2, 2, 2)
    assert "--reason" in too_long.output
    assert await dead_letters(pool).waiting_by_group() == {"pjs-test-audit": 1}


async def _sets_aside_once(settings: Settings, pool: asyncpg.Pool, group: str) -> Filed:
    """Run `group` from the topic's start until it has set the junk record aside: its row of it."""
    loop = GroupLoop(group_config(settings, group, 100), _ignore, dead_letters(pool))

    async def filed() -> Filed | None:
        row = await pool.fetchrow(
            "SELECT dead_letter_id, status FROM dead_letters WHERE consumer_group = $1", group
        )
        return None if row is None else Filed(row["dead_letter_id"], row["status"])

    async with running_tasks(loop.run):
        return await eventually(filed, seconds=60)


async def _ignore(_events: Sequence[RecordedEvent]) -> None:
    return None


async def test_a_group_behind_that_fails_on_a_record_discarded_for_every_group_skips_it_with_a_log_line(
    settings: Settings, pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    junk = RawRecord(0, JUNK, [("ce_type", GARBLED_TYPE), *ce_headers(None)])
    await produce(settings.kafka_connection(), settings.run_events_topic, [junk])
    ahead, behind = f"{settings.projector_group}-ahead", f"{settings.projector_group}-behind"
    first = await _sets_aside_once(settings, pool, ahead)
    discard = ("discard", str(first.dead_letter_id), "--all-groups", "--reason", "junk", "--by", "alice")
    assert (await asyncio.to_thread(dead_letters_cli, settings, *discard)).exit_code == 0

    with caplog.at_level(logging.INFO, logger="events.consumer_group"):
        late = await _sets_aside_once(settings, pool, behind)

    assert late.status == "discarded" and await dead_letters(pool).waiting_by_group() == {}
    letter = await dead_letters(pool).get(late.dead_letter_id)
    assert letter is not None and (letter.discarded_by, letter.discard_reason) == ("alice", "junk")
    lines = [record for record in caplog.records if behind in record.getMessage()]
    assert [record.levelname for record in lines] == ["WARNING"]
    assert lines[0].getMessage().endswith(f"an operator discarded it (dead letter {late.dead_letter_id})")


async def test_a_record_discarded_for_one_group_only_still_waits_for_a_group_behind_that_fails_on_it(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    await _discarded_for_audit_alone(settings, pool, 47)

    [_, analytics] = await park_junk(pool, settings.run_events_topic, 47, "pjs-test-analytics")

    letter = await dead_letters(pool).get(analytics)
    assert letter is not None and letter.status == "waiting"
    assert await dead_letters(pool).waiting_by_group() == {"pjs-test-analytics": 1}


async def test_a_group_that_reads_again_a_record_discarded_for_it_files_nothing_new(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    audit = await _discarded_for_audit_alone(settings, pool, 48)
    record = ConsumerRecord(settings.run_events_topic, 0, 48, 0, 0, None, JUNK, None, 0, len(JUNK), [])

    again = await dead_letters(pool).add("pjs-test-audit", record, "InvalidEventPayload", "invalid")

    assert again == Filed(audit, "discarded")
    assert await pool.fetchval("SELECT count(*) FROM dead_letters") == 1


async def _discarded_for_audit_alone(settings: Settings, pool: asyncpg.Pool, offset: int) -> int:
    """The id of the audit group's row of a junk record at `offset`, discarded for that group only."""
    [audit] = await park_junk(pool, settings.run_events_topic, offset, "pjs-test-audit")
    discarded = await asyncio.to_thread(dead_letters_cli, settings, "discard", str(audit), "--reason", "junk")
    assert discarded.exit_code == 0, discarded.output
    return audit


async def test_a_record_discarded_for_one_group_then_for_every_group_is_skipped_by_a_group_behind(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    audit = await _discarded_for_audit_alone(settings, pool, 49)
    every_group = ("discard", str(audit), "--all-groups", "--reason", "junk for everyone")
    assert (await asyncio.to_thread(dead_letters_cli, settings, *every_group)).exit_code == 0

    [_, analytics] = await park_junk(pool, settings.run_events_topic, 49, "pjs-test-analytics")

    letter = await dead_letters(pool).get(analytics)
    assert letter is not None and letter.status == "discarded"
    assert await dead_letters(pool).waiting_by_group() == {}
