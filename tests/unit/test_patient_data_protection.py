"""Sealing, the master key ring, and the decider's side of erasure: pure logic, no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.decider import PATIENT_DATA_UNAVAILABLE, decide, decide_erase
from domain.journey import JourneyDefinition
from domain.run_state import RunStatus, evolve, initial_state
from domain.validation import validate_journey
from events.catalogue import PatientErased, RunCancelled, RunCompleted, RunFailed, RunStarted, stamp
from events.key_ring import KeyRingError, ensure_key_ring, ensure_secret, load_key_ring, save_key_ring
from events.sealing import UnreadableSealedValue, open_sealed, seal

NOW = datetime(2026, 1, 1, tzinfo=UTC)
RUN_ID = UUID("11111111-1111-4111-8111-111111111111")
KEY_ID = UUID("22222222-2222-4222-8222-222222222222")
DATA_KEY = b"k" * 32

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)


@given(json_values)
def test_a_sealed_value_opens_to_itself_and_never_shows_in_clear(value: Any) -> None:
    sealed = seal({"secret": value, "canary": "CANARY-0"}, KEY_ID, DATA_KEY, "patient_context")
    assert "CANARY-0" not in sealed.model_dump_json()
    assert open_sealed(sealed, DATA_KEY, "patient_context") == {"secret": value, "canary": "CANARY-0"}


@pytest.mark.parametrize(("key", "purpose"), [(b"x" * 32, "patient_context"), (DATA_KEY, "message")])
def test_a_sealed_value_does_not_open_with_another_key_or_purpose(key: bytes, purpose: str) -> None:
    sealed = seal({"id": "p-1"}, KEY_ID, DATA_KEY, "patient_context")
    with pytest.raises(UnreadableSealedValue):
        open_sealed(sealed, key, purpose)


def test_the_master_key_file_is_owner_only_and_rotation_still_unwraps_old_keys(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "master.key"
    ring = ensure_key_ring(path)
    assert path.stat().st_mode & 0o777 == 0o600
    wrapped = ring.wrap(KEY_ID, DATA_KEY)
    rotated = ring.rotated()
    save_key_ring(path, rotated)

    reloaded = load_key_ring(path)
    assert reloaded.current != ring.current
    assert reloaded.unwrap(ring.current, KEY_ID, wrapped) == DATA_KEY
    assert reloaded.unwrap(reloaded.current, KEY_ID, reloaded.wrap(KEY_ID, DATA_KEY)) == DATA_KEY
    assert reloaded.patient_ref("p-1") == ring.patient_ref("p-1")  # pseudonyms survive rotation
    with pytest.raises(KeyRingError):
        reloaded.only_current().unwrap(ring.current, KEY_ID, wrapped)
    assert "pseudonym" not in repr(reloaded) and str(DATA_KEY) not in repr(reloaded)


def test_a_missing_master_key_file_is_a_clear_error_that_says_to_restore_it(tmp_path: Path) -> None:
    with pytest.raises(KeyRingError, match="restore it from where it is kept") as missing:
        load_key_ring(tmp_path / "absent.key")
    assert "a new key cannot open the patient data sealed with the old one" in str(missing.value)


def test_the_analytics_secret_is_made_once_owner_only(tmp_path: Path) -> None:
    first = ensure_secret(tmp_path / "analytics.key")
    assert ensure_secret(tmp_path / "analytics.key") == first
    assert (tmp_path / "analytics.key").stat().st_mode & 0o777 == 0o600


def _journey() -> JourneyDefinition:
    definition = validate_journey(
        {
            "name": "j",
            "start_node_id": "a",
            "nodes": [{"id": "a", "type": "MESSAGE", "message": "Hi", "next_node_id": None}],
        }
    )
    assert isinstance(definition, JourneyDefinition)
    return definition


def _started(context: Any) -> tuple[Any, RunStarted]:
    event = RunStarted(journey_id=uuid4(), journey_version=1, start_node_id="a", patient_context=context)
    (envelope,) = stamp(RUN_ID, 0, [event], now=NOW, causation_id=None, correlation_id=None)
    return evolve(initial_state(RUN_ID), envelope), event


def _applied(state: Any, events: Any) -> Any:
    for envelope in stamp(RUN_ID, state.version, events, now=NOW, causation_id=None, correlation_id=None):
        state = evolve(state, envelope)
    return state


def test_a_run_whose_context_could_not_be_opened_fails_instead_of_guessing() -> None:
    state, wake_up = _started(seal({"id": "p"}, KEY_ID, DATA_KEY, "patient_context"))
    assert state.patient_key_id == KEY_ID

    assert decide(_journey(), state, wake_up, now=NOW) == [
        RunFailed(node_id="a", reason=PATIENT_DATA_UNAVAILABLE)
    ]
    opened = replace(state, patient_context={"id": "p"})  # what the engine hands the decider
    assert decide(_journey(), opened, wake_up, now=NOW)[-1] == RunCompleted(last_node_id="a")


def test_erasing_an_open_run_cancels_it_then_marks_it_and_a_repeat_decides_nothing() -> None:
    state, _ = _started(seal({"id": "p"}, KEY_ID, DATA_KEY, "patient_context"))

    events = decide_erase(state)
    erased = _applied(state, events)

    assert events == [
        RunCancelled(node_id="a", reason="the patient's data was erased"),
        PatientErased(key_id=KEY_ID),
    ]
    assert erased.status is RunStatus.CANCELLED and erased.erased and erased.patient_context is None
    assert erased.patient_key_id == KEY_ID
    assert decide_erase(erased) == []
    assert decide_erase(initial_state(RUN_ID)) == []


def test_a_finished_run_is_marked_erased_without_a_cancel() -> None:
    state, _ = _started({"id": "p"})
    finished = _applied(state, [RunCompleted(last_node_id="a")])

    events = decide_erase(finished)
    erased = _applied(finished, events)

    assert events == [PatientErased(key_id=None)]
    assert erased.status is RunStatus.COMPLETED and erased.erased and erased.patient_context is None
