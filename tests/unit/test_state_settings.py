"""PJS_STATE_DIR moves every local file with it, and a file's own setting still wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from pjs.settings import Settings

MOVED = ("PJS_MASTER_KEY_FILE", "PJS_ANALYTICS_PSEUDONYM_KEY_FILE", "PJS_ANALYTICS_DIR", "PJS_STATE_DIR")


@pytest.fixture(autouse=True)
def no_file_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in MOVED:
        monkeypatch.delenv(name, raising=False)


def test_the_master_key_and_analytics_files_live_under_the_state_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PJS_STATE_DIR", str(tmp_path))

    settings = Settings()

    assert settings.master_key_file == tmp_path / "master.key"
    assert settings.analytics_pseudonym_key_file == tmp_path / "analytics-pseudonym.key"
    assert settings.analytics_dir == tmp_path / "analytics"


def test_a_files_own_setting_wins_over_the_state_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PJS_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("PJS_MASTER_KEY_FILE", "/etc/pjs/master.key")

    settings = Settings(analytics_dir=Path("/var/lib/pjs/analytics"))

    assert settings.master_key_file == Path("/etc/pjs/master.key")
    assert settings.analytics_dir == Path("/var/lib/pjs/analytics")
    assert settings.analytics_pseudonym_key_file == tmp_path / "analytics-pseudonym.key"


def test_without_a_state_directory_everything_stays_in_dot_pjs() -> None:
    settings = Settings()

    assert (settings.state_dir, settings.master_key_file) == (Path(".pjs"), Path(".pjs/master.key"))
    assert settings.analytics_dir == Path(".pjs/analytics")


def test_a_file_setting_left_empty_counts_as_unset(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PJS_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("PJS_MASTER_KEY_FILE", "")

    assert Settings().master_key_file == tmp_path / "master.key"  # not the working directory itself
