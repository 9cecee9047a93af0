"""Email over SMTP (aiosmtplib): one HTML message per visit, its Message-ID made from the idempotency key."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Final
from uuid import NAMESPACE_URL, uuid5

import aiosmtplib

from domain.message_outcomes import NotSent, SendOutcome, Sent
from engine.channels import OutgoingMessage

_TRANSIENT: Final = (
    aiosmtplib.SMTPConnectError,
    aiosmtplib.SMTPServerDisconnected,
    aiosmtplib.SMTPTimeoutError,
)


@dataclass(frozen=True)
class EmailConfig:
    host: str
    port: int = 25
    sender: str = "care-team@localhost"
    subject: str = "A message from your care team"
    username: str | None = None
    password: str | None = None
    start_tls: bool = False
    timeout_seconds: float = 10.0
    max_attempts: int = 3
    backoff_seconds: float = 0.5


def message_id(message: OutgoingMessage, sender: str) -> str:
    """The same Message-ID on every re-send of a visit, so a receiving system can drop a copy."""
    domain = sender.rpartition("@")[2] or "localhost"
    return f"<{uuid5(NAMESPACE_URL, message.idempotency_key)}@{domain}>"


class EmailChannel:
    """Sends the rendered (autoescaped) HTML to the patient's `email`; retries connection failures only."""

    def __init__(self, config: EmailConfig) -> None:
        self._config = config

    async def send(self, message: OutgoingMessage) -> SendOutcome:
        if not message.address:
            return NotSent("address_missing: email", 0)
        email = self._email(message)
        reason = "not attempted"
        for attempt in range(1, self._config.max_attempts + 1):
            if attempt > 1:
                await asyncio.sleep(self._config.backoff_seconds * 2 ** (attempt - 2))
            try:
                await aiosmtplib.send(
                    email,
                    hostname=self._config.host,
                    port=self._config.port,
                    username=self._config.username,
                    password=self._config.password,
                    start_tls=self._config.start_tls,
                    timeout=self._config.timeout_seconds,
                )
            except _TRANSIENT as error:
                reason = f"smtp unreachable ({type(error).__name__})"
                continue
            except aiosmtplib.SMTPResponseException as error:
                if error.code >= 500:
                    return NotSent(f"smtp refused the message ({error.code})", attempt)
                reason = f"smtp answered {error.code}"
                continue
            except aiosmtplib.SMTPException as error:
                return NotSent(f"smtp failed ({type(error).__name__})", attempt)
            return Sent(provider_message_id=email["Message-ID"], attempts=attempt)
        return NotSent(f"{reason} after {self._config.max_attempts} attempts", self._config.max_attempts)

    def _email(self, message: OutgoingMessage) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self._config.sender
        email["To"] = message.address
        email["Subject"] = self._config.subject
        email["Message-ID"] = message_id(message, self._config.sender)
        email["Idempotency-Key"] = message.idempotency_key
        if message.delivery_id is not None:
            email["X-Pjs-Delivery-Id"] = str(message.delivery_id)
        if message.language:
            email["Content-Language"] = message.language
        email.set_content(message.message, subtype="html")
        return email
