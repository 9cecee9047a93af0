"""Every tunable of the service in one place, read from PJS_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Below Linux's usual ephemeral range (32768-60999), so no client is ever handed one as its source port.
LOCAL_POSTGRES_PORT = 25432
LOCAL_KAFKA_PORT = 29092
LOCAL_KAFKA_CONTROLLER_PORT = 29093


class Settings(BaseSettings):
    """Process configuration. Unset URLs mean "use the local services that `pjs services up` starts"."""

    model_config = SettingsConfigDict(env_prefix="PJS_", frozen=True)

    database_url: str | None = Field(default=None, description="Postgres DSN; unset = local Postgres.")
    kafka_bootstrap: str | None = Field(default=None, description="Kafka bootstrap servers; unset = local.")
    state_dir: Path = Field(default=Path(".pjs"), description="Where local services keep data and logs.")

    run_events_topic: str = "pjs.run-events"
    run_events_partitions: int = 12
    engine_group: str = "pjs-engine"
    projector_group: str = "pjs-projector"
    delivery_group: str = "pjs-delivery"
    audit_group: str = "pjs-audit"
    analytics_group: str = "pjs-analytics"
    analytics_dir: Path = Field(default=Path(".pjs/analytics"), description="Where analytics day files go.")
    projector_batch_size: int = 1000

    http_host: str = "127.0.0.1"
    http_port: int = 8000

    relay_batch_size: int = 500
    relay_poll_seconds: float = 1.0
    timer_batch_size: int = 1000
    timer_max_sleep_seconds: float = 1.0
    engine_batch_size: int = 500
    consumer_max_retry_seconds: float = 10.0
    rebalance_wait_seconds: float = 10.0
    delivery_batch_size: int = 100
    delivery_concurrency: int = 16
    delivery_lease_seconds: float = 60.0

    message_channel: str = "log"
    webhook_url: str | None = None
    webhook_timeout_seconds: float = 5.0
    webhook_max_attempts: int = 5
    webhook_backoff_seconds: float = 0.5

    # Local services (`pjs services up`, `pjs dev`): their ports, and how long to wait for them to answer.
    local_postgres_port: int = LOCAL_POSTGRES_PORT
    local_kafka_port: int = LOCAL_KAFKA_PORT
    local_kafka_controller_port: int = LOCAL_KAFKA_CONTROLLER_PORT
    services_ready_timeout_seconds: float = 120.0

    def resolved_database_url(self) -> str:
        return self.database_url or f"postgresql://postgres@127.0.0.1:{self.local_postgres_port}/postgres"

    def resolved_kafka_bootstrap(self) -> str:
        return self.kafka_bootstrap or f"127.0.0.1:{self.local_kafka_port}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
