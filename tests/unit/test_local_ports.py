"""Local service ports stay out of the kernel's ephemeral range, where a client could connect to itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pjs.services.credentials import ensure_credentials
from pjs.services.ports import ephemeral_ports, require_outside_ephemeral_range
from pjs.services.processes import ServiceError
from pjs.settings import Settings

LINUX_DEFAULT_EPHEMERAL = range(32768, 61000)


def test_the_range_is_read_as_the_kernel_writes_it(tmp_path: Path) -> None:
    range_file = tmp_path / "ip_local_port_range"
    range_file.write_text("32768\t60999\n")
    assert ephemeral_ports(range_file) == range(32768, 61000)


@pytest.mark.parametrize("content", [None, "", "not numbers\n"])
def test_a_machine_that_does_not_say_has_no_range_to_refuse(tmp_path: Path, content: str | None) -> None:
    range_file = tmp_path / "ip_local_port_range"
    if content is not None:
        range_file.write_text(content)
    assert ephemeral_ports(range_file) is None
    require_outside_ephemeral_range(45000, "Kafka", "PJS_LOCAL_KAFKA_PORT", None)


def test_a_port_inside_the_range_is_refused_naming_the_range_and_the_setting() -> None:
    with pytest.raises(ServiceError) as refused:
        require_outside_ephemeral_range(59092, "Kafka", "PJS_LOCAL_KAFKA_PORT", LINUX_DEFAULT_EPHEMERAL)
    message = str(refused.value)
    assert "port 59092" in message and "ephemeral port range 32768-60999" in message
    assert "set PJS_LOCAL_KAFKA_PORT to a port below 32768" in message


@given(
    low=st.integers(1024, 65535),
    width=st.integers(0, 40000),
    port=st.integers(1, 65535),
)
def test_a_port_is_refused_exactly_when_it_lies_within_the_range(low: int, width: int, port: int) -> None:
    ephemeral = range(low, min(low + width, 65535) + 1)
    try:
        require_outside_ephemeral_range(port, "Postgres", "PJS_LOCAL_POSTGRES_PORT", ephemeral)
        refused = False
    except ServiceError:
        refused = True
    assert refused == (ephemeral.start <= port <= ephemeral.stop - 1)


def test_the_default_local_ports_lie_below_linux_default_ephemeral_range() -> None:
    names = ("local_postgres_port", "local_kafka_port", "local_kafka_controller_port")
    defaults = [Settings.model_fields[name].default for name in names]
    assert all(port < LINUX_DEFAULT_EPHEMERAL.start for port in defaults)


def test_the_local_database_url_uses_the_configured_port(tmp_path: Path) -> None:
    ensure_credentials(tmp_path)
    settings = Settings(database_url=None, local_postgres_port=24432, state_dir=tmp_path)
    assert settings.resolved_database_url().endswith("@127.0.0.1:24432/pjs")
