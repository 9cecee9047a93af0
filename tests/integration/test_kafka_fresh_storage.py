"""A fresh local broker's storage is formatted, and its users made, with no password on a command line.

The broker runs in its own temporary state dir on its own ports, never the shared local Kafka.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from pjs.services.credentials import ensure_credentials
from pjs.services.kafka import LocalKafka
from pjs.services.kafka_access import ACL_COMMAND, CONFIG_COMMAND
from support.local_kafka import link_stack_jars
from support.ports import free_port_below_ephemeral_range


def test_a_fresh_local_broker_gets_its_users_with_no_password_on_any_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a broker never started, whose Kafka commands are recorded as they run
    kafka = LocalKafka(tmp_path, free_port_below_ephemeral_range(), free_port_below_ephemeral_range())
    link_stack_jars(kafka)
    commands: list[list[str]] = []
    run = subprocess.run

    def recorded(command: Sequence[str], *args: Any, **kwargs: Any) -> subprocess.CompletedProcess[Any]:
        commands.append([str(part) for part in command])
        return run(command, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", recorded)

    # When it is started: its storage formatted with the service's user, then the subscriber's user and
    # ACLs added by Kafka's tools logging in as the service's user
    try:
        assert kafka.up() is True
    finally:
        kafka.down()

    # Then the format read its arguments from a file, gone since, and no password was on a command line
    credentials = ensure_credentials(tmp_path)
    passwords = (credentials.kafka_password, credentials.kafka_subscriber_password)
    assert not [command for command in commands for password in passwords if password in " ".join(command)]
    java_runs = [command[command.index("-cp") + 2] for command in commands if "-cp" in command]
    assert java_runs == [f"@{kafka.root / 'format.arguments'}", CONFIG_COMMAND, ACL_COMMAND, ACL_COMMAND]
    assert not (kafka.root / "format.arguments").exists()
    assert not (kafka.root / "subscriber-scram.properties").exists()
