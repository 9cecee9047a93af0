"""A setting outside its range stops every `pjs` command at once, with one line per problem naming the
environment variable, what is wrong and the range allowed: no traceback, exit code 2."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import Result
from pydantic import ValidationError
from typer.testing import CliRunner

from pjs.cli import app
from pjs.settings import Settings, get_settings


def pjs(*arguments: str, **environment: str) -> Result:
    """`pjs <arguments>` with these environment variables set, its settings read afresh."""
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, list(arguments), env=environment)
    finally:
        get_settings.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


REFUSED = [
    "PJS_ENGINE_BATCH_SIZE=-5",
    "PJS_ENGINE_BATCH_SIZE=0",
    "PJS_RELAY_BATCH_SIZE=0",
    "PJS_DELIVERY_CONCURRENCY=0",
    "PJS_API_POOL_SIZE=0",
    "PJS_RUN_EVENTS_PARTITIONS=0",
    "PJS_SHUTDOWN_SECONDS=-3",
    "PJS_SHUTDOWN_SECONDS=0",
    "PJS_STARTUP_POSTGRES_WAIT_SECONDS=0",
    "PJS_STARTUP_KAFKA_WAIT_SECONDS=0",
    "PJS_RELAY_POLL_SECONDS=0",
    "PJS_DB_STATEMENT_TIMEOUT_SECONDS=-1",
    "PJS_DB_KEEPALIVE_IDLE_SECONDS=0",
    "PJS_CONSUMER_POISON_RETRIES=-1",
    "PJS_HTTP_PORT=-1",
    "PJS_HTTP_PORT=0",
    "PJS_HTTP_PORT=65536",
    "PJS_SMTP_PORT=70000",
    "PJS_LOCAL_POSTGRES_PORT=0",
    "PJS_ROLE_METRICS_PORT=65536",
]
ACCEPTED = [  # 0 is "none" for a timeout or a retry count; the edges of a range are inside it
    "PJS_DB_STATEMENT_TIMEOUT_SECONDS=0",
    "PJS_CONSUMER_POISON_RETRIES=0",
    "PJS_REBALANCE_WAIT_SECONDS=0",
    "PJS_HTTP_PORT=65535",
    "PJS_ENGINE_BATCH_SIZE=1",
]


@pytest.mark.parametrize("assignment", [*REFUSED, *ACCEPTED])
def test_a_value_is_accepted_only_within_its_range(assignment: str, monkeypatch: pytest.MonkeyPatch) -> None:
    variable, value = assignment.split("=")
    monkeypatch.setenv(variable, value)
    if assignment in REFUSED:
        with pytest.raises(ValidationError):
            Settings()
    else:
        assert float(getattr(Settings(), variable.removeprefix("PJS_").lower())) == float(value)


def test_a_negative_batch_size_stops_a_command_naming_the_variable_and_the_range() -> None:
    result = pjs("migrate", PJS_ENGINE_BATCH_SIZE="-5")

    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: PJS_ENGINE_BATCH_SIZE=-5: Input should be greater than or equal to 1 (allowed: at least 1)"
    )
    assert "Traceback" not in result.output and "engine_batch_size" not in result.output


def test_a_word_where_a_number_belongs_names_the_variable_not_the_field() -> None:
    result = pjs("run", "timer", PJS_HTTP_PORT="abc")

    assert result.exit_code == 2
    assert "PJS_HTTP_PORT=abc: Input should be a valid integer" in result.stderr
    assert "(allowed: at least 1 and at most 65535)" in result.stderr
    assert "Traceback" not in result.output and "http_port" not in result.output


def test_every_problem_gets_a_line_of_its_own_for_every_command() -> None:
    for command in (["run", "engine"], ["services", "status"], ["keys", "list"], ["replay", "--all"]):
        result = pjs(*command, PJS_SHUTDOWN_SECONDS="-3", PJS_HTTP_PORT="-1")

        assert result.exit_code == 2, command
        port, shutdown = sorted(result.stderr.splitlines())
        assert port.startswith("error: PJS_HTTP_PORT=-1: ") and "at least 1" in port
        assert shutdown.startswith("error: PJS_SHUTDOWN_SECONDS=-3: ") and "above 0" in shutdown


def test_a_list_that_is_not_json_names_its_variable() -> None:
    result = pjs("migrate", PJS_ALLOWED_HOSTS="pjs.example.org")

    assert result.exit_code == 2
    assert result.stderr.strip() == 'error: PJS_ALLOWED_HOSTS: not valid JSON (a list is written ["a", "b"])'


def test_a_secret_that_breaks_a_rule_is_never_repeated() -> None:
    result = pjs("migrate", PJS_OIDC_CLIENT_SECRET="s3cret-value")

    assert result.exit_code == 2
    assert "PJS_OIDC_CLIENT_SECRET needs PJS_OIDC_CLIENT_ID" in result.stderr
    assert "s3cret-value" not in result.output


def test_an_unknown_message_channel_stops_a_command_naming_the_variable_and_the_channels() -> None:
    result = pjs("run", "delivery", PJS_MESSAGE_CHANNEL="sms2")

    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: PJS_MESSAGE_CHANNEL: not a channel; choose one of: email, log, sms, webhook"
    )
    assert "Traceback" not in result.output and "ValueError" not in result.output


@pytest.mark.parametrize(
    ("channel", "needed"),
    [("webhook", "PJS_WEBHOOK_URL"), ("sms", "PJS_SMS_URL"), ("email", "PJS_SMTP_HOST")],
)
def test_a_default_channel_without_its_endpoint_stops_a_command_naming_both_variables(
    channel: str, needed: str
) -> None:
    result = pjs("run", "delivery", PJS_MESSAGE_CHANNEL=channel)

    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: PJS_MESSAGE_CHANNEL={channel} needs {needed}: set it, or choose a configured channel "
        "(log needs none)"
    )
    assert "Traceback" not in result.output and "ValueError" not in result.output


def test_a_default_channel_with_its_endpoint_is_taken() -> None:
    settings = Settings(message_channel="sms", sms_url="https://sms.example.org/send")

    assert settings.message_channel == "sms"
