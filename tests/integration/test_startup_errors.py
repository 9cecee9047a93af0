"""A role that cannot start says why in one line an operator can act on: which user and server refused it,
which address it keeps trying, which key file is missing and that it is to be restored, not made anew."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

from pjs.settings import Settings
from support.ports import free_port_below_ephemeral_range
from support.roles import RoleProcess, eventually


def _with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=f"{parts.username}:{password}@{parts.hostname}:{parts.port}").geturl()


def _with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=f"{parts.username}:{parts.password}@{parts.hostname}:{port}").geturl()


def _exited(role: RoleProcess, seconds: float = 30) -> int:
    return role.wait(timeout=seconds)


async def _logged(log_file: Path, text: str, seconds: float = 30) -> str:
    async def check() -> str | None:
        log = await asyncio.to_thread(log_file.read_text)
        return log if text in log else None

    return await eventually(check, seconds=seconds, every=0.1)


def test_a_wrong_password_exits_with_one_line_naming_the_user_the_server_and_the_variable(
    settings: Settings, tmp_path: Path
) -> None:
    wrong = "not-the-password-4711"
    url = _with_password(settings.resolved_worker_database_url(), wrong)
    parts = urlsplit(url)
    log_file = tmp_path / "timer.log"

    role = RoleProcess("timer", settings.model_copy(update={"worker_database_url": url}), log_file=log_file)

    assert _exited(role) == 1
    log = log_file.read_text()
    failed = [line for line in log.splitlines() if "role timer failed" in line]
    assert len(failed) == 1
    assert f'password authentication failed for user "{parts.username}"' in failed[0]
    assert f"{parts.username}@{parts.hostname}:{parts.port}" in failed[0]
    assert "PJS_WORKER_DATABASE_URL" in failed[0]
    assert failed[0] == log.rstrip().splitlines()[-1]  # no stack after it
    assert wrong not in log and "Traceback" not in log and 'File "' not in log


def test_a_wrong_password_of_the_schema_owner_names_the_migration_variable(
    settings: Settings, tmp_path: Path
) -> None:
    url = _with_password(settings.resolved_migration_database_url(), "wrong")
    log_file = tmp_path / "engine.log"

    role = RoleProcess(
        "engine", settings.model_copy(update={"migration_database_url": url}), log_file=log_file
    )

    assert _exited(role) == 1
    failed = next(line for line in log_file.read_text().splitlines() if "role engine failed" in line)
    assert "PJS_MIGRATION_DATABASE_URL" in failed and "PJS_WORKER_DATABASE_URL" not in failed
    assert f"{urlsplit(url).username}@" in failed and ":wrong" not in failed


async def test_a_postgres_port_nothing_listens_on_is_retried_naming_the_address_until_sigterm(
    settings: Settings, tmp_path: Path
) -> None:
    port = free_port_below_ephemeral_range()
    url = _with_port(settings.resolved_migration_database_url(), port)
    parts = urlsplit(url)
    log_file = tmp_path / "timer.log"
    role = RoleProcess(
        "timer", settings.model_copy(update={"migration_database_url": url}), log_file=log_file
    )
    try:
        log = await _logged(log_file, "not done (ConnectionRefusedError), attempt 1; retrying")
        assert f"role timer migrating Postgres at {parts.username}@127.0.0.1:{port}/" in log
        assert str(parts.password) not in log
        await asyncio.sleep(1)
        assert role.is_running
    finally:
        exit_code, seconds = role.terminate_and_time(timeout=30)
    assert exit_code == 0 and seconds < 10


def test_a_missing_master_key_file_names_the_file_and_says_to_restore_it(
    settings: Settings, tmp_path: Path
) -> None:
    missing = tmp_path / "keys" / "master.key"
    log_file = tmp_path / "engine.log"

    role = RoleProcess("engine", settings.model_copy(update={"master_key_file": missing}), log_file=log_file)

    assert _exited(role) == 1
    failed = next(line for line in log_file.read_text().splitlines() if "role engine failed" in line)
    assert f"no master key file at {missing}" in failed
    assert "restore it from where it is kept" in failed
    assert "a new key cannot open the patient data sealed with the old one" in failed
    assert not missing.exists()
