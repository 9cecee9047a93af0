"""Proof on a sample that the bulk fast path (`bench.bulk`) wrote what the store and a trigger would write."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import orjson

from bench.bulk import codec_json
from bench.errors import BenchFailure
from domain.run_state import RunState, evolve, initial_state
from engine import run_status
from events.codec import payload_dict
from events.key_ring import KeyRing
from events.patient_keys import PostgresPatientKeys
from events.patient_vault import PatientVault
from events.pg import Connection
from events.stored_rows import EVENT_COLUMNS, recorded_event_from_row


async def check_against_store(connection: Connection, ring: KeyRing, run_ids: Sequence[UUID]) -> None:
    """Read sample runs back and fail unless the bulk rows are what the store would have written.

    Each stored payload must decode through the codec (upcasting and validation), and one written in its
    type's current schema version must re-encode to the same JSON (an older version, as a store upgraded
    in place holds, is checked by its upcast); folding the run's events with `evolve` must give its
    `run_status` row; a run asleep in a delay must have exactly its delay row; its context must open with
    its patient's key (`_check_sealed`).
    """
    rows = await connection.fetch(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE run_id = ANY($1::uuid[]) ORDER BY run_id, version",
        list(run_ids),
    )
    if not rows:
        raise BenchFailure("bulk check: no sample events found")
    states = await run_status.load_states(connection, run_ids)
    delays = {
        r["run_id"]: r for r in await connection.fetch("SELECT * FROM delays WHERE run_id = ANY($1)", run_ids)
    }
    folded: dict[UUID, RunState] = {}
    for row in rows:
        event = recorded_event_from_row(row)  # decodes through the codec: upcasting and validation
        current = row["schema_version"] == type(event.event).SCHEMA_VERSION
        if current and orjson.loads(row["data"]) != orjson.loads(codec_json(payload_dict(event.event))):
            raise BenchFailure(f"bulk check: {row['type']} payload differs from the codec's")
        state = folded.get(event.run_id) or initial_state(event.run_id)
        folded[event.run_id] = evolve(state, event)
    for run, state in folded.items():
        if states.get(run) != state:
            raise BenchFailure(f"bulk check: run_status of {run} differs from what evolve gives")
        delay = delays.get(run)
        expected = (state.current_node_id, state.resume_at) if state.status == "waiting_delay" else None
        found = None if delay is None else (delay["node_id"], delay["resume_at"])
        if found != expected or (delay is not None and delay["started_version"] != state.version):
            raise BenchFailure(
                f"bulk check: delay row of {run} is {found}, the projection would write {expected}"
            )
    await _check_sealed(connection, ring, folded)


async def _check_sealed(connection: Connection, ring: KeyRing, states: dict[UUID, RunState]) -> None:
    """Every sampled context is sealed, opens through the vault, and its key is filed under its patient."""
    vault = PatientVault(PostgresPatientKeys(connection, ring), ring)
    opened = await vault.open_contexts({run: state.patient_context for run, state in states.items()})
    refs = {
        row["key_id"]: row["patient_ref"]
        for row in await connection.fetch(
            "SELECT key_id, patient_ref FROM patient_keys WHERE key_id = ANY($1::uuid[])",
            [state.patient_key_id for state in states.values()],
        )
    }
    for run, state in states.items():
        context = opened[run]
        if state.patient_key_id is None or context is None:
            raise BenchFailure(f"bulk check: the context of {run} is not sealed with a live patient key")
        if refs.get(state.patient_key_id) != vault.patient_ref(str(context["id"])):
            raise BenchFailure(f"bulk check: the key of {run} is not filed under its patient")
