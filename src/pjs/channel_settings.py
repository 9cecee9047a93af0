"""The messaging part of the settings: the default channel, and the endpoint and secrets of each channel."""

from __future__ import annotations

from typing import Final, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings

from domain.message_validation import CHANNELS
from pjs.setting_bounds import Count, Port, Seconds, SecondsOrNone

ENDPOINT_SETTINGS: Final = {"webhook": "webhook_url", "sms": "sms_url", "email": "smtp_host"}
"""The setting that gives each channel but `log` its endpoint: unset, the channel cannot send."""


def endpoint_variable(channel: str) -> str:
    """The environment variable of `channel`'s endpoint, e.g. `PJS_SMS_URL`."""
    return f"PJS_{ENDPOINT_SETTINGS[channel].upper()}"


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
        # channel that comes up later. A known one without its endpoint is refused below.
        if channel not in CHANNELS:
            raise ValueError(f"not a channel; choose one of: {', '.join(sorted(CHANNELS))}")
        return channel

    @model_validator(mode="after")
    def _a_default_that_can_send(self) -> Self:
        # Refused with the settings too: every MESSAGE naming no channel would fail at delivery.
        if (problem := self.default_channel_problem()) is not None:
            raise ValueError(problem)
        return self

    def channel_endpoints(self) -> dict[str, str]:
        """Each channel but `log` these settings give an endpoint, with that endpoint."""
        found = {channel: getattr(self, setting) for channel, setting in ENDPOINT_SETTINGS.items()}
        return {channel: endpoint for channel, endpoint in found.items() if endpoint}

    def unsendable_channels(self) -> dict[str, str]:
        """Each channel these settings give no endpoint, with the variable that would give it one."""
        endpoints = self.channel_endpoints()
        unset = (channel for channel in ENDPOINT_SETTINGS if channel not in endpoints)
        return {channel: endpoint_variable(channel) for channel in unset}

    def default_channel_problem(self) -> str | None:
        """Why the default channel cannot send (its endpoint is unset), in one line; None when it can."""
        variable = self.unsendable_channels().get(self.message_channel)
        if variable is None:
            return None
        return (
            f"PJS_MESSAGE_CHANNEL={self.message_channel} needs {variable}: set it, or choose a configured "
            "channel (log needs none)"
        )
