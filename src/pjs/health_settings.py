"""The settings of the pipeline's health: how often roles say they are alive, when /ready warns, and who
may ask it."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings


class HealthSettings(BaseSettings):
    """Mixed into `pjs.settings.Settings`, whose configuration (the PJS_ prefix) applies to these fields."""

    heartbeat_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often every role process records in Postgres that it is alive (role_heartbeats).",
    )
    stall_warning_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How long a role may go unheard, a consumer group behind without progress, or due "
        "delays and committed events wait, before /ready warns. Keep it several heartbeats long.",
    )
    probes_open_from_loopback: bool = Field(
        default=True,
        description="Whether /ready and /metrics answer loopback clients without a key. Turn it off behind a "
        "reverse proxy on the same host that does not send X-Forwarded-For: every client would look local.",
    )
