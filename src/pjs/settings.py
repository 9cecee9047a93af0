"""Every tunable of the service in one place, read from PJS_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_POSTGRES_PORT = 55432
LOCAL_KAFKA_PORT = 59092
LOCAL_KAFKA_CONTROLLER_PORT = 59093


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

    # ---- limits at the HTTP edge (api/limits.py; docs/api.md "Limits") ----
    max_body_bytes: int = Field(default=1_048_576, gt=0, description="Largest request body (413).")
    max_patient_context_bytes: int = Field(default=65_536, gt=0, description="Largest trigger body (413).")
    max_journey_bytes: int = Field(default=524_288, gt=0, description="Largest journey body (413).")
    max_journey_nodes: int = Field(default=1_000, gt=0, description="Most nodes in one journey (400).")
    max_json_depth: int = Field(default=32, gt=0, description="Deepest nesting in a request body (400).")
    max_id_length: int = Field(default=255, gt=0, description="Longest id, name or key (400).")
    max_text_length: int = Field(default=10_000, gt=0, description="Longest other string (400).")

    def resolved_database_url(self) -> str:
        return self.database_url or f"postgresql://postgres@127.0.0.1:{LOCAL_POSTGRES_PORT}/postgres"

    def resolved_kafka_bootstrap(self) -> str:
        return self.kafka_bootstrap or f"127.0.0.1:{LOCAL_KAFKA_PORT}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
