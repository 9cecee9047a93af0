"""The local-files part of the settings: the state directory, and the files that live under it unless set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings

DEFAULT_STATE_DIR = Path(".pjs")
_UNDER_STATE_DIR = {  # setting -> its path inside PJS_STATE_DIR when the setting itself is not given
    "analytics_dir": "analytics",
    "master_key_file": "master.key",
    "analytics_pseudonym_key_file": "analytics-pseudonym.key",
}


class StateSettings(BaseSettings):
    """Mixed into `pjs.settings.Settings`, whose configuration (the PJS_ prefix) applies to these fields.

    Moving PJS_STATE_DIR moves everything local with it: a second checkout or a test run with its own
    state directory never shares the first one's master key or analytics files by accident.
    """

    state_dir: Path = Field(
        default=DEFAULT_STATE_DIR,
        description="Where local services keep data, logs and passwords, and the files below by default.",
    )
    analytics_dir: Path = Field(
        default=DEFAULT_STATE_DIR / "analytics",
        description="Where analytics day files go; unset = <PJS_STATE_DIR>/analytics.",
    )
    master_key_file: Path = Field(
        default=DEFAULT_STATE_DIR / "master.key",
        description="Master key ring wrapping every patient's data key (mode 0600; `pjs dev` makes one); "
        "unset = <PJS_STATE_DIR>/master.key.",
    )
    master_key_check_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often a running role looks whether the master key file changed (a rotation), and "
        "reads it again if so; `pjs keys rotate-master` waits a few of these between its steps.",
    )
    analytics_pseudonym_key_file: Path = Field(
        default=DEFAULT_STATE_DIR / "analytics-pseudonym.key",
        description="Secret of the analytics pseudonyms (HMAC-SHA256), made on first use, mode 0600; "
        "unset = <PJS_STATE_DIR>/analytics-pseudonym.key.",
    )

    @model_validator(mode="before")
    @classmethod
    def _under_the_state_dir(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        state_dir = Path(values.get("state_dir") or DEFAULT_STATE_DIR)
        unset = {
            name: state_dir / path
            for name, path in _UNDER_STATE_DIR.items()
            if values.get(name) in (None, "")
        }
        return {**values, **unset}
