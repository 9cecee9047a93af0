"""What the run explorer shows of a patient unless revealed: initials and an age band, never more."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from api.ui.masking import HIDDEN, age_band, initials, masked_event_data, masked_patient

names = st.text(alphabet=st.characters(categories=("L",)), min_size=2, max_size=20)


def test_initials_come_from_the_name_fields_and_the_age_falls_in_its_decade() -> None:
    patient = {"id": "p-1", "age": 70, "first_name": "lucía", "last_name": "García", "phone": "+34600"}
    assert masked_patient(patient, erased=False) == {"initials": "L. G.", "age_band": "70-79"}


def test_a_patient_without_a_name_or_age_shows_dashes_and_an_erased_one_says_so() -> None:
    assert masked_patient({"id": "p-1"}, erased=False) == {"initials": "—", "age_band": "—"}
    assert masked_patient(None, erased=True) == {"initials": "erased", "age_band": "erased"}
    assert age_band({"age": 93}) == "90+" and age_band({"age": True}) == "—"


@given(first=names, last=names, age=st.integers(min_value=0, max_value=89))
def test_the_masked_view_never_carries_a_whole_name_or_the_exact_age(first: str, last: str, age: int) -> None:
    shown = masked_patient({"first_name": first, "last_name": last, "age": age}, erased=False)
    low, _, high = shown["age_band"].partition("-")
    assert int(low) <= age <= int(high) and int(high) - int(low) == 9
    assert first not in shown["initials"] and last not in shown["initials"]
    assert len(initials({"name": f"{first} {last}"}).replace(".", "").replace(" ", "")) == 2


def test_a_timeline_event_hides_its_patient_context_and_message_text() -> None:
    data: dict[str, Any] = {"patient_context": {"id": "p-1"}, "message": "Hi Lucía", "node_id": "welcome"}
    assert masked_event_data(data) == {"patient_context": HIDDEN, "message": HIDDEN, "node_id": "welcome"}
