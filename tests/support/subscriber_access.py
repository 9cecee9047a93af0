"""The local broker's read-only subscriber user, let read a test's own topic as `up` lets it read pjs's."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from typing import Any

import pytest
from typer.testing import CliRunner

from events.broker import KafkaConnection
from pjs.cli import app
from pjs.services.credentials import load_credentials
from pjs.services.kafka_access import allow_subscriber_to_read
from pjs.services.stack import LocalStack
from pjs.settings import Settings, get_settings


def services_status() -> dict[str, Any]:
    """What `pjs services status --json` prints, in this suite's environment."""
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["services", "status", "--json"], env=dict(os.environ))
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    status: dict[str, Any] = json.loads(result.output)
    return status


def connection_of(access: dict[str, Any]) -> KafkaConnection:
    """A `KafkaConnection` from one of `pjs services status --json`'s Kafka entries."""
    return KafkaConnection(
        str(access["bootstrap"]),
        security_protocol=str(access["securityProtocol"]),
        sasl_mechanism=str(access["saslMechanism"]),
        username=str(access["username"]),
        password=str(access["password"]),
    )


async def subscriber_reading(settings: Settings) -> KafkaConnection:
    """The subscriber user `pjs services status --json` gives out, allowed to read this test's topic."""
    stack = LocalStack(Settings())
    if stack.settings.kafka_bootstrap is not None:
        pytest.skip("the suite's broker is not the local one: its users and ACLs are its operator's")
    java = shutil.which("java")
    assert java is not None, "the local broker runs on Java"
    credentials = load_credentials(stack.settings.state_dir)
    tools = stack.kafka.tools(java)
    await asyncio.to_thread(allow_subscriber_to_read, tools, credentials, settings.run_events_topic)
    return connection_of(services_status()["kafka"]["subscriber"])
