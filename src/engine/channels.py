"""Message channel adapters: `log` (development), `webhook` and `sms` (HTTP POST, signed, with an idempotency
key), and the router that picks one per message; email over SMTP is in engine.email_channel."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

import aiohttp
import orjson

from domain.message_outcomes import NotSent, SendOutcome, Sent
from engine.provider_words import provider_id
from engine.signatures import SIGNATURE_HEADER, sign

log = logging.getLogger(__name__)
send_failures = logging.getLogger(f"{__name__}.send_failures")


@dataclass(frozen=True)
class OutgoingMessage:
    """One visit of a MESSAGE node, ready to send. `message` and `patient_id` are health data: never log."""

    run_id: UUID
    node_id: str
    visit: int
    message: str
    patient_id: str | None
    channel: str = "log"
    delivery_id: UUID | None = None  # the request's event id: providers name it in their receipts
    address: str | None = None  # the phone (sms) or email address, from the patient context
    language: str | None = None

    @property
    def idempotency_key(self) -> str:
        """Stable across retries, redeliveries and restarts: a provider honouring it sends once."""
        return f"{self.run_id}:{self.node_id}:{self.visit}"


class Channel(Protocol):
    """Carries out one message; gives up with NotSent rather than raising."""

    async def send(self, message: OutgoingMessage) -> SendOutcome: ...


class LogChannel:
    """Writes that a message was sent, with run and node ids only."""

    async def send(self, message: OutgoingMessage) -> SendOutcome:
        log.info("message sent run_id=%s node_id=%s visit=%d", message.run_id, message.node_id, message.visit)
        return Sent(provider_message_id=None, attempts=1)


class ChannelRouter:
    """Sends each message by its own channel; "default" (requests made before channels) by the default."""

    def __init__(self, channels: Mapping[str, Channel], default: str) -> None:
        self._channels = dict(channels)
        self._default = default

    async def send(self, message: OutgoingMessage) -> SendOutcome:
        name = self._default if message.channel == "default" else message.channel
        channel = self._channels.get(name)
        if channel is None:
            return NotSent(f"channel {name} is not configured", 0)
        return await channel.send(message)

    async def aclose(self) -> None:
        """Closes the connections the HTTP channels (webhook, sms) keep open."""
        for channel in self._channels.values():
            if isinstance(channel, WebhookChannel):
                await channel.aclose()


@dataclass(frozen=True)
class WebhookConfig:
    url: str
    timeout_seconds: float = 5.0
    max_attempts: int = 5
    backoff_seconds: float = 0.5  # before attempt n+1: backoff * 2**(n-1)
    secret: str | None = None  # signs each body (X-Pjs-Signature: sha256=HMAC) when set


class WebhookChannel:
    """POSTs JSON with an `Idempotency-Key` header; retries network errors, 429 and 5xx with backoff.

    On aiohttp: httpx's connection pool cost 0.75-0.8 ms of CPU per send alone and 1.6 ms at the delivery
    role's 16 sends at a time; aiohttp 0.26-0.28 and 0.15-0.19 (docs/benchmarks.md, "The HTTP clients").
    """

    def __init__(self, config: WebhookConfig) -> None:
        self._config = config
        self._session: aiohttp.ClientSession | None = None  # made on the first send, in the running loop

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _opened(self) -> aiohttp.ClientSession:
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=self._config.timeout_seconds)
            # trust_env: HTTP(S)_PROXY and NO_PROXY apply, as they did with httpx (an egress proxy).
            self._session = aiohttp.ClientSession(timeout=timeout, trust_env=True)
        return self._session

    def body(self, message: OutgoingMessage) -> dict[str, Any]:
        """The JSON the provider gets."""
        return _body(message)

    async def send(self, message: OutgoingMessage) -> SendOutcome:
        content = orjson.dumps(self.body(message))
        headers = {"Idempotency-Key": message.idempotency_key, "Content-Type": "application/json"}
        if self._config.secret:
            headers[SIGNATURE_HEADER] = sign(self._config.secret, content)
        reason = "not attempted"
        for attempt in range(1, self._config.max_attempts + 1):
            if attempt > 1:
                await asyncio.sleep(self._config.backoff_seconds * 2 ** (attempt - 2))
            try:
                status, answer = await self._post(content, headers)
            except (aiohttp.ClientError, TimeoutError) as error:
                reason = f"webhook unreachable ({_unreachable(error)})"
                _failed_attempt(reason, attempt, self._config.max_attempts)
                continue
            if 200 <= status < 300:
                return Sent(_provider_id(answer), attempt)
            reason = f"webhook answered HTTP {status}"
            if status != 429 and status < 500:
                return NotSent(reason, attempt)  # the request itself is refused: retrying cannot help
            _failed_attempt(reason, attempt, self._config.max_attempts)
        return NotSent(f"{reason} after {self._config.max_attempts} attempts", self._config.max_attempts)

    async def _post(self, content: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        # A redirect is an answer, not an instruction: the signed message goes to the configured URL only.
        post = self._opened().post(self._config.url, data=content, headers=headers, allow_redirects=False)
        async with post as response:
            return response.status, await response.read()


class SmsChannel(WebhookChannel):
    """An SMS provider's HTTP API: the text to the patient's E.164 phone, signed, with the idempotency key."""

    def body(self, message: OutgoingMessage) -> dict[str, Any]:
        return _sms_body(message)

    async def send(self, message: OutgoingMessage) -> SendOutcome:
        if not message.address:
            return NotSent("address_missing: phone", 0)
        return await super().send(message)


def _body(message: OutgoingMessage) -> dict[str, Any]:
    return {
        "runId": str(message.run_id),
        "nodeId": message.node_id,
        "visit": message.visit,
        "deliveryId": None if message.delivery_id is None else str(message.delivery_id),
        "message": message.message,
        "language": message.language,
        "patientId": message.patient_id,
    }


def _sms_body(message: OutgoingMessage) -> dict[str, Any]:
    return {
        "to": message.address,
        "text": message.message,
        "deliveryId": None if message.delivery_id is None else str(message.delivery_id),
        "idempotencyKey": message.idempotency_key,
    }


def _failed_attempt(reason: str, attempt: int, max_attempts: int) -> None:
    """An operator's trace of a provider outage: the reason only (never the message), and at most a line a
    minute while it lasts (the roles' log filter holds back the repeats of `send_failures`)."""
    send_failures.warning("message send attempt %d of %d failed: %s", attempt, max_attempts, reason)


def _unreachable(error: Exception) -> str:
    """Why no answer came, in words that name no library."""
    if isinstance(error, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return "not a valid http(s) URL"
    if isinstance(error, aiohttp.ClientConnectorError):
        return "could not connect"
    if isinstance(error, TimeoutError):
        return "no answer in time"
    return "connection lost"


def _provider_id(answer: bytes) -> str | None:
    try:
        body = orjson.loads(answer)
    except orjson.JSONDecodeError:
        return None
    return provider_id(body.get("id")) if isinstance(body, dict) else None
