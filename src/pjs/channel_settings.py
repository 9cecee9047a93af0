"""The messaging part of the settings: the default channel, and the endpoint and secrets of each channel."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings

from domain.message_validation import CHANNELS
from pjs.setting_bounds import Count, Port, Seconds, SecondsOrNone


class ChannelSettings(BaseSettings):
    """Mixed into `pjs.settings.Settings`, whose configuration (the PJS_ prefix) applies to these fields."""

    # ---- messages clinics can send (engine/channels.py, engine/email_channel.py, api/receipts.py) ----
    message_channel: str = Field(
        default="log", description="The channel of a MESSAGE that names none: log, webhook, sms or email."
    )
    webhook_url: str | None = None
    webhook_timeout_seconds: Seconds = 5.0
    webhook_max_attempts: Count = 5
    webhook_backoff_seconds: SecondsOrNone = 0.5
    webhook_secret: SecretStr | None = Field(default=None, description="Signs webhook bodies (HMAC-SHA256).")
    sms_url: str | None = Field(default=None, description="The SMS provider's send endpoint; unset = no sms.")
    sms_secret: SecretStr | None = Field(default=None, description="Signs SMS request bodies (HMAC-SHA256).")
    smtp_host: str | None = Field(default=None, description="SMTP server for email; unset = no email.")
    smtp_port: Port = 25
    smtp_sender: str = "care-team@localhost"
    smtp_subject: str = "A message from your care team"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_start_tls: bool = False
    receipt_secret: SecretStr | None = Field(
        default=None, description="The providers' secret signing delivery receipts; unset = receipts refused."
    )

    @field_validator("message_channel")
    @classmethod
    def _a_known_channel(cls, channel: str) -> str:
        # Refused with the settings, before any role starts: a name no channel has is a typo, never a
        # channel that comes up later. A known one without its endpoint is the delivery role's to refuse.
        if channel not in CHANNELS:
            raise ValueError(f"not a channel; choose one of: {', '.join(sorted(CHANNELS))}")
        return channel
