"""Patient data as the run explorer shows it by default: initials and an age band, nothing else.

Revealing the rest is a separate, audited act (api/ui/run_actions.py); these functions only ever hide.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

HIDDEN: Final = "hidden"
"""What a masked field reads as."""

_NAME_FIELDS: Final = ("first_name", "given_name", "last_name", "family_name")
_TOP_BAND: Final = 90


def initials(context: Mapping[str, Any] | None) -> str:
    """The initials of the patient's name fields (or of `name`), e.g. "L. G."; "—" without a name."""
    if context is None:
        return "—"
    parts = [context.get(field) for field in _NAME_FIELDS]
    names = [part for part in parts if isinstance(part, str) and part.strip()]
    if not names and isinstance(context.get("name"), str):
        names = context["name"].split()
    letters = [_initial(name.strip()[0]) + "." for name in names if name.strip()]
    return " ".join(letters[:3]) or "—"


def _initial(letter: str) -> str:
    upper = letter.upper()
    return upper if len(upper) == 1 else letter  # a few letters upper-case to two characters


def age_band(context: Mapping[str, Any] | None) -> str:
    """The decade the patient's age falls in, e.g. "70-79" ("90+" at the top); "—" when unknown."""
    age = None if context is None else context.get("age")
    if isinstance(age, bool) or not isinstance(age, int | float) or age < 0:
        return "—"
    if age >= _TOP_BAND:
        return f"{_TOP_BAND}+"
    low = int(age) // 10 * 10
    return f"{low}-{low + 9}"


def masked_patient(context: Mapping[str, Any] | None, erased: bool) -> dict[str, str]:
    """What a page shows of a patient unless revealed."""
    if erased:
        return {"initials": "erased", "age_band": "erased"}
    return {"initials": initials(context), "age_band": age_band(context)}


def masked_event_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """A timeline event's data with the patient context and the rendered message hidden (both sealed)."""
    shown = dict(data)
    for field in ("patient_context", "message"):
        if field in shown:
            shown[field] = HIDDEN
    return shown
