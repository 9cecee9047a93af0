"""Bulk fast path for set-up: runs written with COPY as the rows an append and its inline projections write.

Appending a million sleeping runs through the store would take longer than the figures they are for, so
the `timer` and `replay` scenarios load them here: the `events` rows (the store's columns, deterministic
event ids, the store's metadata) and the `run_status`, `delays` and `message_deliveries` rows the inline
projections would have written for them, in one transaction per chunk. Each run's patient context is
sealed as the trigger seals it, with a data key of the patient's own, COPied into `patient_keys` with the
runs (`bench.bulk_patients`). Payloads are built as JSON text from templates, not through pydantic, for
speed; `bench.bulk_check.check_against_store` proves, on a sample, that they are what the codec writes, that
the rows are what `domain.run_state.evolve` and the projections make of them, and that every sampled
context opens with its patient's key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

import orjson

from bench.bulk_patients import PATIENT_KEYS_COLUMNS, sealed_patient
from engine import run_status
from events.catalogue import EVENT_TYPES, Sealed, event_id_for
from events.key_ring import KeyRing
from events.pg import Connection

JOURNEY_ID = UUID("00000000-0000-4000-8000-0000000b01c0")
_RUN_NAMESPACE = UUID("1f0b6a52-7d3c-4b8e-9e41-5a2c8d7f3b60")
_LANGUAGES = ("en", "fr", "de", "nl", "pl")
_STEP = timedelta(milliseconds=3)  # between the events one engine batch writes for a run

EVENTS_COLUMNS = (
    "event_id",
    "run_id",
    "version",
    "type",
    "schema_version",
    "data",
    "metadata",
    "recorded_at",
)
RUN_STATUS_COLUMNS = tuple(column.strip() for column in run_status.COLUMNS.split(","))
DELAYS_COLUMNS = ("run_id", "node_id", "resume_at", "started_version")
DELIVERIES_COLUMNS = ("run_id", "node_id", "visit", "request_event_id", "status")

Row = tuple[Any, ...]


@dataclass
class Rows:
    """Rows for the tables a trigger and an append write, in the order they would write them."""

    patient_keys: list[Row] = field(default_factory=list)
    events: list[Row] = field(default_factory=list)
    run_status: list[Row] = field(default_factory=list)
    delays: list[Row] = field(default_factory=list)
    deliveries: list[Row] = field(default_factory=list)

    @property
    def runs(self) -> int:
        return len(self.run_status)


def run_id(seed: str, number: int) -> UUID:
    return uuid5(_RUN_NAMESPACE, f"{seed}:{number}")


def _context(seed: str, number: int) -> dict[str, Any]:
    # One patient per run, distinct across seeds: each patient has one live key (patient_keys_live).
    return {
        "id": f"patient-{seed}-{number:09d}",
        "age": 30 + number % 60,
        "language": _LANGUAGES[number % len(_LANGUAGES)],
        "procedure": "knee-arthroscopy",
        "clinic": "north-orthopaedics",
    }


def codec_json(value: object) -> str:
    # The codec's JSON: pydantic's mode="json" dump writes UTC datetimes with a "Z", as OPT_UTC_Z does.
    return orjson.dumps(value, option=orjson.OPT_UTC_Z).decode()


def _metadata(causation: UUID | None, correlation: UUID) -> str:
    return codec_json({"causation_id": causation and str(causation), "correlation_id": str(correlation)})


class _Stream:
    """One run's events as `events` rows, numbered from version 1, each caused by the one before it."""

    def __init__(self, run: UUID) -> None:
        self.run = run
        self.rows: list[Row] = []
        self._cause: UUID | None = None

    def add(self, type_name: str, payload: dict[str, Any], recorded_at: datetime) -> UUID:
        version = len(self.rows) + 1
        event_id = event_id_for(self.run, version)
        schema = EVENT_TYPES[type_name].SCHEMA_VERSION
        self.rows.append(
            (
                event_id,
                self.run,
                version,
                type_name,
                schema,
                codec_json(payload),
                _metadata(self._cause, self.run),
                recorded_at,
            )
        )
        self._cause = event_id
        return event_id


def _status_row(
    run: UUID,
    version: int,
    status: str,
    node: str,
    context: Sealed,
    resume_at: datetime | None,
    awaiting: bool,
    created_at: datetime,
    updated_at: datetime,
    visits: dict[str, int],
) -> Row:
    """The row `run_status.save_states` writes: a sealed run keeps no clear patient id, only its key."""
    return (
        run,
        version,
        status,
        JOURNEY_ID,
        1,
        node,
        None,
        run_status.context_json(context),
        resume_at,
        awaiting,
        None,
        created_at,
        updated_at,
        codec_json(visits),
        context.key_id,
        False,
    )


def sleeping_runs(
    ring: KeyRing,
    seed: str,
    numbers: Iterable[int],
    started_at: Callable[[int], datetime],
    resume_at: Callable[[int], datetime],
) -> Rows:
    """Runs of a journey that starts with a DELAY node, asleep in it: RunStarted, DelayStarted (v1-v2)."""
    rows = Rows()
    for number in numbers:
        run, started, resume = run_id(seed, number), started_at(number), resume_at(number)
        patient = sealed_patient(ring, _context(seed, number), started)
        rows.patient_keys.append(patient.key_row)
        stream = _Stream(run)
        stream.add("RunStarted", _run_started(patient.context, "wait"), started)
        stream.add("DelayStarted", _delay_started("wait", started, resume), started + _STEP)
        rows.events.extend(stream.rows)
        updated = started + _STEP
        rows.run_status.append(
            _status_row(
                run, 2, "waiting_delay", "wait", patient.context, resume, False, started, updated, {"wait": 1}
            )
        )
        rows.delays.append((run, "wait", resume, 2))
    return rows


def finished_delay_runs(
    ring: KeyRing, seed: str, numbers: Sequence[int], started_at: Callable[[int], datetime]
) -> Rows:
    """Runs that sent an SMS, branched on age, slept 24 h and woke up (5 events, awaiting the engine).

    Written cohort by cohort, version by version, as the engine's batches interleave runs in the store.
    """
    rows = Rows()
    streams: list[tuple[int, _Stream]] = []
    for number in numbers:
        run, started = run_id(seed, number), started_at(number)
        patient = sealed_patient(ring, _context(seed, number), started)
        rows.patient_keys.append(patient.key_row)
        resume = started + 3 * _STEP + timedelta(hours=24)
        stream = _Stream(run)
        stream.add("RunStarted", _run_started(patient.context, "pre-op-sms"), started)
        request = stream.add("MessageRequested", _message_requested(), started + _STEP)
        stream.add("ConditionEvaluated", _condition(number), started + 2 * _STEP)
        stream.add(
            "DelayStarted", _delay_started("wait-24h", started + 3 * _STEP, resume), started + 3 * _STEP
        )
        fired = resume + timedelta(milliseconds=4)
        stream.add("DelayElapsed", {"node_id": "wait-24h", "resume_at": resume, "fired_at": fired}, fired)
        streams.append((number, stream))
        visits = {"pre-op-sms": 1, "age-check": 1, "wait-24h": 1}  # what evolve counts (not DelayElapsed)
        rows.run_status.append(
            _status_row(
                run, 5, "in_progress", "wait-24h", patient.context, None, True, started, fired, visits
            )
        )
        rows.deliveries.append((run, "pre-op-sms", 2, request, "requested"))
    for version in range(5):
        rows.events.extend(stream.rows[version] for _, stream in streams)
    return rows


def _run_started(context: Sealed, start_node: str) -> dict[str, Any]:
    return {
        "journey_id": str(JOURNEY_ID),
        "journey_version": 1,
        "start_node_id": start_node,
        "patient_context": context.model_dump(mode="json"),
    }


def _message_requested() -> dict[str, Any]:
    # The journey's fixed text, no patient field in it: nothing to seal (a template would be sealed).
    return {
        "node_id": "pre-op-sms",
        "message": "pre-op-instructions",
        "channel": "sms",
        "language": None,
        "failure": None,
    }


def _condition(number: int) -> dict[str, Any]:
    return {
        "node_id": "age-check",
        "field": "age",
        "operator": "gt",
        "result": 30 + number % 60 > 65,
        "next_node_id": "wait-24h",
    }


def _delay_started(node: str, started: datetime, resume: datetime) -> dict[str, Any]:
    return {
        "node_id": node,
        "duration_seconds": (resume - started).total_seconds(),
        "resume_at": resume,
        "reason": None,
    }


async def copy_rows(connection: Connection, rows: Rows) -> None:
    """One transaction, as one append of these runs would be (the caller may notify inside it).

    The patient keys come first, as the trigger makes them before it appends.
    """
    if rows.patient_keys:
        await connection.copy_records_to_table(
            "patient_keys", records=rows.patient_keys, columns=PATIENT_KEYS_COLUMNS
        )
    await connection.copy_records_to_table("events", records=rows.events, columns=EVENTS_COLUMNS)
    await connection.copy_records_to_table("run_status", records=rows.run_status, columns=RUN_STATUS_COLUMNS)
    if rows.delays:
        await connection.copy_records_to_table("delays", records=rows.delays, columns=DELAYS_COLUMNS)
    if rows.deliveries:
        await connection.copy_records_to_table(
            "message_deliveries", records=rows.deliveries, columns=DELIVERIES_COLUMNS
        )


async def load(connection: Connection, builders: Sequence[Callable[[], Rows]]) -> int:
    """Copy chunk after chunk, one transaction each, building the next in a thread meanwhile; returns runs."""
    if not builders:
        return 0
    runs = 0
    building = asyncio.ensure_future(asyncio.to_thread(builders[0]))
    for index in range(len(builders)):
        rows = await building
        if index + 1 < len(builders):  # Postgres inserts this chunk while Python builds the next one
            building = asyncio.ensure_future(asyncio.to_thread(builders[index + 1]))
        async with connection.transaction():
            await copy_rows(connection, rows)
        runs += rows.runs
    return runs
