"""Channel adapters: the log channel never logs message text or patient data; the webhook retries safely."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from domain.message_outcomes import NotSent, Sent
from engine.channels import ChannelRouter, LogChannel, OutgoingMessage, WebhookChannel, WebhookConfig
from support.webhook import scripted_webhook

MESSAGE = OutgoingMessage(
    run_id=uuid.UUID("00000000-0000-4000-8000-00000000000a"),
    node_id="pre-op",
    visit=2,
    message="Your surgery is on Monday, Ana",
    patient_id="patient-123",
)


def webhook(url: str, attempts: int = 3) -> WebhookChannel:
    return WebhookChannel(
        WebhookConfig(url=url, timeout_seconds=2, max_attempts=attempts, backoff_seconds=0.05)
    )


async def test_the_log_channel_logs_ids_but_never_the_text_or_the_patient(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO):
        outcome = await LogChannel().send(MESSAGE)

    assert outcome == Sent(provider_message_id=None, attempts=1)
    assert "message sent" in caplog.text and str(MESSAGE.run_id) in caplog.text and "pre-op" in caplog.text
    assert "surgery" not in caplog.text and "Ana" not in caplog.text and "patient-123" not in caplog.text


async def test_the_webhook_posts_the_message_with_its_idempotency_key() -> None:
    with scripted_webhook([200]) as server:
        channel = webhook(server.url)
        outcome = await channel.send(MESSAGE)
        await channel.aclose()

    assert outcome == Sent(provider_message_id="provider-1", attempts=1)
    [received] = server.received
    assert received.idempotency_key == f"{MESSAGE.run_id}:pre-op:2"
    assert received.body == {
        "runId": str(MESSAGE.run_id),
        "nodeId": "pre-op",
        "visit": 2,
        "deliveryId": None,
        "message": MESSAGE.message,
        "language": None,
        "patientId": "patient-123",
    }


async def test_the_webhook_retries_server_errors_with_growing_backoff_and_the_same_key() -> None:
    with scripted_webhook([503, 500, 200]) as server:
        channel = webhook(server.url)
        outcome = await channel.send(MESSAGE)
        await channel.aclose()

    assert outcome == Sent(provider_message_id="provider-3", attempts=3)
    assert {r.idempotency_key for r in server.received} == {MESSAGE.idempotency_key}
    first, second, third = (r.at for r in server.received)
    assert second - first >= 0.05 and third - second >= 0.1


async def test_the_webhook_gives_up_after_max_attempts_with_a_reason_free_of_patient_data() -> None:
    with scripted_webhook([503]) as server:
        channel = webhook(server.url, attempts=3)
        outcome = await channel.send(MESSAGE)
        await channel.aclose()

    assert outcome == NotSent(reason="webhook answered HTTP 503 after 3 attempts", attempts=3)
    assert len(server.received) == 3


async def test_each_failed_attempt_is_logged_with_its_reason_and_never_the_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with scripted_webhook([503, 500, 200]) as server, caplog.at_level(logging.WARNING):
        channel = webhook(server.url)
        await channel.send(MESSAGE)
        await channel.aclose()

    failures = [r.getMessage() for r in caplog.records if r.name == "engine.channels.send_failures"]
    assert failures == [
        "message send attempt 1 of 3 failed: webhook answered HTTP 503",
        "message send attempt 2 of 3 failed: webhook answered HTTP 500",
    ]
    assert "surgery" not in caplog.text and "Ana" not in caplog.text and "patient-123" not in caplog.text


async def test_a_refused_request_is_not_retried() -> None:
    with scripted_webhook([422]) as server:
        channel = webhook(server.url)
        outcome = await channel.send(MESSAGE)
        await channel.aclose()

    assert outcome == NotSent(reason="webhook answered HTTP 422", attempts=1)
    assert len(server.received) == 1


@pytest.mark.parametrize("status", [302, 307])
async def test_a_redirect_is_not_followed_so_the_signed_message_goes_nowhere_else(status: int) -> None:
    with scripted_webhook([status, 200]) as server:
        channel = webhook(server.url)
        outcome = await channel.send(MESSAGE)
        await channel.aclose()

    assert outcome == NotSent(reason=f"webhook answered HTTP {status}", attempts=1)
    assert len(server.received) == 1


async def test_an_unreachable_webhook_is_retried_then_given_up() -> None:
    with scripted_webhook([200]) as server:
        url = server.url  # the server is gone once the block ends
    channel = webhook(url, attempts=2)
    outcome = await channel.send(MESSAGE)
    await channel.aclose()

    assert isinstance(outcome, NotSent) and outcome.attempts == 2
    assert outcome.reason == "webhook unreachable (could not connect) after 2 attempts"


async def test_the_router_closes_its_http_channels_and_a_later_send_opens_them_again() -> None:
    with scripted_webhook([200]) as server:
        router = ChannelRouter({"log": LogChannel(), "webhook": webhook(server.url)}, "log")
        message = dataclasses.replace(MESSAGE, channel="webhook")
        first = await router.send(message)
        await router.aclose()  # as the delivery role does when it stops
        second = await router.send(message)
        await router.aclose()

    assert first == Sent(provider_message_id="provider-1", attempts=1)
    assert second == Sent(provider_message_id="provider-2", attempts=1)


async def test_the_webhook_goes_through_the_egress_proxy_the_environment_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with scripted_webhook([200]) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        channel = webhook("http://provider.invalid/messages")  # resolvable only by the proxy
        outcome = await channel.send(MESSAGE)
        await channel.aclose()

    assert outcome == Sent(provider_message_id="provider-1", attempts=1)
    [received] = proxy.received
    assert received.idempotency_key == MESSAGE.idempotency_key


@pytest.mark.parametrize("url", ["provider.example/messages", "ftp://provider.example/messages"])
async def test_a_webhook_url_that_is_not_http_is_named_as_the_reason(url: str) -> None:
    channel = webhook(url, attempts=1)
    outcome = await channel.send(MESSAGE)
    await channel.aclose()

    assert outcome == NotSent(
        reason="webhook unreachable (not a valid http(s) URL) after 1 attempts", attempts=1
    )


@pytest.mark.parametrize(
    "answered",
    [
        pytest.param(lambda body: f"echo:{body['message']}", id="the message echoed"),
        pytest.param(lambda body: "x" * 256, id="too long"),
        pytest.param(lambda body: {"nested": body["patientId"]}, id="not an id"),
    ],
)
async def test_a_provider_answer_that_is_not_an_id_is_not_kept(
    answered: Callable[[dict[str, Any]], object],
) -> None:
    with scripted_webhook([200], ids=lambda _, body: answered(body)) as server:
        channel = webhook(server.url)
        outcome = await channel.send(MESSAGE)
        await channel.aclose()

    assert outcome == Sent(provider_message_id=None, attempts=1)


@pytest.mark.parametrize("answered", ["SM1a2b3c", 4711, "<20261130.1@mail.example>", str(uuid.uuid4())])
async def test_a_provider_id_is_kept(answered: object) -> None:
    with scripted_webhook([200], ids=lambda _, body: answered) as server:
        channel = webhook(server.url)
        outcome = await channel.send(MESSAGE)
        await channel.aclose()

    assert outcome == Sent(provider_message_id=str(answered), attempts=1)
