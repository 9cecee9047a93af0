"""A journey naming a channel this service cannot send by (no endpoint in its settings) is refused at save,
naming the node, the channel and the setting; and a message that reaches a delivery role without that
channel anyway fails with a reason instead of being sent."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from domain.message_outcomes import NotSent
from domain.message_validation import CHANNELS
from domain.validation import validate_journey
from engine.channels import ChannelRouter, LogChannel, OutgoingMessage
from pjs.settings import Settings
from pjs.wiring import message_channels, unsendable_channels

NO_ENDPOINTS = {"webhook": "PJS_WEBHOOK_URL", "sms": "PJS_SMS_URL", "email": "PJS_SMTP_HOST"}


def journey(*channels: str | None) -> dict[str, Any]:
    nodes = [
        {"id": f"m{index}", "type": "MESSAGE", "message": "Hi", "next_node_id": f"m{index + 1}"}
        | ({} if channel is None else {"channel": channel})
        for index, channel in enumerate(channels)
    ]
    nodes[-1]["next_node_id"] = None
    return {"name": "Reminders", "start_node_id": "m0", "nodes": nodes}


def problems(raw: dict[str, Any], unsendable: dict[str, str] = NO_ENDPOINTS) -> dict[str, str]:
    parsed = validate_journey(raw, unsendable_channels=unsendable)
    assert isinstance(parsed, list), parsed
    return {problem.path: problem.message for problem in parsed}


def test_a_message_naming_a_channel_without_an_endpoint_is_refused_naming_node_channel_and_setting() -> None:
    found = problems(journey(None, "sms", "email"))

    assert list(found) == ["nodes[1].channel", "nodes[2].channel"]
    assert "'m1'" in found["nodes[1].channel"] and "sms" in found["nodes[1].channel"]
    assert "PJS_SMS_URL" in found["nodes[1].channel"]
    assert "email" in found["nodes[2].channel"] and "PJS_SMTP_HOST" in found["nodes[2].channel"]


def test_the_log_channel_and_a_message_naming_none_are_always_taken() -> None:
    assert not isinstance(validate_journey(journey(None, "log"), unsendable_channels=NO_ENDPOINTS), list)


def test_a_channel_with_an_endpoint_is_taken() -> None:
    parsed = validate_journey(journey("sms"), unsendable_channels={"email": "PJS_SMTP_HOST"})

    assert not isinstance(parsed, list)


def test_the_channel_problem_comes_with_every_other_problem_of_the_journey() -> None:
    found = problems({**journey("webhook"), "name": ""})

    assert set(found) == {"name", "nodes[0].channel"}
    assert "PJS_WEBHOOK_URL" in found["nodes[0].channel"]


@pytest.mark.parametrize(
    "endpoints",
    [{}, {"sms_url": "https://sms.example.org/send"}, {"smtp_host": "mail.example.org", "webhook_url": "x"}],
)
def test_the_unsendable_channels_are_exactly_those_the_delivery_role_would_not_have(
    endpoints: dict[str, str],
) -> None:
    settings = Settings(**endpoints)  # type: ignore[arg-type]

    assert set(unsendable_channels(settings)) == set(CHANNELS) - set(message_channels(settings))


def test_default_settings_name_the_setting_of_each_channel_they_cannot_send_by() -> None:
    assert unsendable_channels(Settings()) == NO_ENDPOINTS


async def test_a_message_reaching_a_delivery_role_without_its_channel_fails_with_a_reason() -> None:
    router = ChannelRouter({"log": LogChannel()}, "log")
    message = OutgoingMessage(uuid4(), "m0", 2, "Hi", None, channel="sms", address="+15551234567")

    outcome = await router.send(message)

    assert outcome == NotSent("channel sms is not configured", 0)
