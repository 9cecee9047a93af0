"""Erasure of a patient (crypto-shredding): cancel their open runs, record PatientErased, destroy their keys.

Every step is idempotent and the steps run in an order that a retry can always finish: a crash anywhere
leaves runs already marked (skipped on retry) and keys destroyed or not (destroyed on retry). Runs are found
by the keys their contexts are sealed with, so the patient id itself is never looked up in clear. A destroyed
key keeps no patient reference: only an erasure reference that the next master key rotation makes
uncomputable (`PatientRefs`), by which a retry or a repeat finds it until then.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol
from uuid import UUID

from domain.decider import decide_erase
from domain.run_state import RunState
from engine.commands import RunContended
from engine.ports import RunAppends
from events.catalogue import RunCancelled, stamp
from events.patient_keys import PatientKeys, PatientRefs
from events.store import AppendRequest

log = logging.getLogger(__name__)

_MAX_ROUNDS: Final = 10


class PatientRuns(Protocol):
    """The runs whose contexts are sealed with any of the given keys."""

    async def sealed_with(self, key_ids: Collection[UUID]) -> dict[UUID, RunState]: ...


@dataclass(frozen=True)
class PatientErasure:
    erased_at: datetime
    runs_cancelled: int
    runs: tuple[UUID, ...]  # the runs this erasure marked erased (a repeat finds none left to mark)


async def erase_patient(
    store: RunAppends, runs: PatientRuns, keys: PatientKeys, *, patient: PatientRefs, now: datetime
) -> PatientErasure:
    """Erase the patient `patient` names; a repeat finds everything done and changes nothing."""
    marked: dict[UUID, int] = {}  # the runs marked erased, each with the cancels appended to it
    await _mark_runs(store, runs, keys, patient, now, marked)
    await keys.destroy(patient, now)
    # A run triggered with the key between the first pass and its destruction is marked now.
    await _mark_runs(store, runs, keys, patient, now, marked)
    cancelled = sum(marked.values())
    destroyed_at = (await keys.key_ids_of(patient)).destroyed_at
    log.info("patient erased: %d run(s) cancelled", cancelled)
    return PatientErasure(destroyed_at or now, cancelled, tuple(marked))


async def _mark_runs(
    store: RunAppends,
    runs: PatientRuns,
    keys: PatientKeys,
    patient: PatientRefs,
    now: datetime,
    marked: dict[UUID, int],
) -> None:
    """Cancel each open run of the patient and append PatientErased to every run not yet erased; note
    each run marked in `marked` with the cancels appended to it."""
    key_ids = (await keys.key_ids_of(patient)).key_ids
    for _ in range(_MAX_ROUNDS):
        requests = [
            AppendRequest(
                state.run_id,
                state.version,
                stamp(
                    state.run_id,
                    state.version,
                    events,
                    now=now,
                    causation_id=None,
                    correlation_id=state.run_id,
                ),
            )
            for state in (await runs.sealed_with(key_ids)).values()
            if (events := decide_erase(state))
        ]
        if not requests:
            return
        outcome = await store.append_many(requests)
        for run_id, written in outcome.appended.items():
            cancels = sum(isinstance(event.event, RunCancelled) for event in written)
            marked[run_id] = marked.get(run_id, 0) + cancels
        if not outcome.conflicts:
            return
    raise RunContended("the patient's runs kept changing while they were being erased")
