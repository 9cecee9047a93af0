"""Every tunable of the service in one place, read from PJS_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from domain.run_limits import DEFAULT_RUN_LIMITS
from domain.validation import DEFAULT_MIN_LOOP_DELAY_SECONDS
from events.broker import KafkaConnection
from events.event_size import DEFAULT_MAX_EVENT_BYTES
from pjs.channel_settings import ChannelSettings
from pjs.consumer_settings import ConsumerSettings
from pjs.cpu_settings import CpuSettings
from pjs.health_settings import HealthSettings
from pjs.services.credentials import (
    POSTGRES_APP,
    POSTGRES_BOOTSTRAP_USER,
    POSTGRES_MIGRATOR,
    POSTGRES_WORKER,
    load_credentials,
    local_kafka_connection,
    local_postgres_url,
)
from pjs.setting_bounds import Count, Port, Seconds, SecondsOrNone, WholeSeconds
from pjs.state_settings import StateSettings
from pjs.telemetry_settings import TelemetrySettings
from pjs.token_settings import TokenSettings

# Below Linux's usual ephemeral range (32768-60999), so no client is ever handed one as its source port.
LOCAL_POSTGRES_PORT = 25432
LOCAL_KAFKA_PORT = 29092
LOCAL_KAFKA_CONTROLLER_PORT = 29093


class Settings(
    TelemetrySettings,
    ConsumerSettings,
    CpuSettings,
    ChannelSettings,
    HealthSettings,
    TokenSettings,
    StateSettings,
):
    """Process configuration. Unset URLs mean "use the local services that `pjs services up` starts"."""

    model_config = SettingsConfigDict(env_prefix="PJS_", frozen=True)

    database_url: str | None = Field(
        default=None, description="Postgres DSN of the application role; unset = local Postgres as pjs_app."
    )
    kafka_bootstrap: str | None = Field(default=None, description="Kafka bootstrap servers; unset = local.")

    # Access to Postgres and Kafka. Unset = the local services, with the passwords `pjs services up` keeps in
    # <state_dir>/credentials.json. TLS to Postgres goes in the DSNs (sslmode, sslrootcert, sslcert, sslkey).
    migration_database_url: str | None = Field(
        default=None,
        description="DSN of the schema owner that runs migrations and rebuilds; unset = PJS_DATABASE_URL "
        "when that is set, else the local pjs_migrator.",
    )
    admin_database_url: str | None = Field(
        default=None,
        description="DSN that creates databases (test fixtures, bench); unset = the migration DSN when "
        "PJS_DATABASE_URL is set, else the local superuser.",
    )
    kafka_security_protocol: str = Field(
        default="PLAINTEXT",
        description="With PJS_KAFKA_BOOTSTRAP: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.",
    )
    kafka_sasl_mechanism: str | None = Field(default=None, description="e.g. SCRAM-SHA-256, SCRAM-SHA-512.")
    kafka_username: str | None = None
    kafka_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None

    run_events_topic: str = "pjs.run-events"
    run_events_partitions: Count = 12
    engine_group: str = "pjs-engine"
    projector_group: str = "pjs-projector"
    delivery_group: str = "pjs-delivery"
    audit_group: str = "pjs-audit"
    analytics_group: str = "pjs-analytics"
    projector_batch_size: Count = 1000

    http_host: str = "127.0.0.1"
    http_port: Port = 8000

    relay_batch_size: Count = 500
    relay_poll_seconds: Seconds = 1.0
    relay_checkpoint_interval_ms: int = Field(
        default=1000, ge=0, le=60_000, description="Least time between relay checkpoint stores, ms."
    )
    timer_batch_size: Count = 1000
    timer_max_sleep_seconds: Seconds = 1.0
    engine_batch_size: Count = 500
    consumer_max_retry_seconds: Seconds = 10.0
    rebalance_wait_seconds: SecondsOrNone = 10.0
    delivery_batch_size: Count = 100
    delivery_concurrency: Count = 16
    delivery_lease_seconds: Seconds = 60.0

    # Event size: the store refuses an event whose Kafka record could exceed this, so the relay can always
    # publish what was stored. Keep it below the producer's max_request_size and the broker's
    # message.max.bytes (both about 1 MiB by default).
    max_event_bytes: int = Field(default=DEFAULT_MAX_EVENT_BYTES, gt=0, le=1_000_000)

    # Supervision and timeouts: Postgres session limits (0 = none), the API's pool, role restarts, shutdown.
    db_statement_timeout_seconds: SecondsOrNone = 30.0
    db_lock_timeout_seconds: SecondsOrNone = 10.0
    db_idle_in_transaction_seconds: SecondsOrNone = 60.0
    db_keepalive_idle_seconds: WholeSeconds = 30
    db_keepalive_interval_seconds: WholeSeconds = 10
    db_keepalive_count: Count = 3
    api_pool_size: Count = Field(
        default=20, description="Each request holds one for its transaction (tenancy)."
    )
    api_acquire_seconds: Seconds = Field(default=2.0, description="Longest wait for a connection, then 503.")
    api_request_seconds: float = Field(
        default=10.0, gt=0, description="Longest a request may take, then 503."
    )
    shutdown_seconds: Seconds = Field(default=10.0, description="Longest a role may take to stop.")
    migrate_at_start: bool = Field(
        default=True,
        description="Whether a role applies pending migrations at its start, as the schema owner "
        "(PJS_MIGRATION_DATABASE_URL). False: run `pjs migrate` as a job first; the roles then need no "
        "schema owner's DSN and refuse to start (exit 1) while a migration is pending.",
    )
    startup_postgres_wait_seconds: Seconds = Field(
        default=120.0, description="Longest a role's start waits for Postgres to answer, then exit 1."
    )
    startup_kafka_wait_seconds: Seconds = Field(
        default=120.0, description="Longest a role's start waits for Kafka to answer, then exit 1."
    )
    # Full collections rescanned every object start-up built; pjs.garbage_collection freezes those.
    gc_young_threshold: int = Field(
        default=10_000, ge=100, le=1_000_000, description="Allocations that start a young collection."
    )
    restart_first_seconds: Seconds = 0.5
    restart_max_seconds: Seconds = 30.0
    restart_healthy_seconds: Seconds = Field(default=60.0, description="Uptime that resets restart backoff.")

    # Worker pools (the API's always skips it, an admin pool never): on release, roll back an open transaction
    # but skip asyncpg's reset query (UNLISTEN *, RESET ALL, CLOSE ALL, advisory unlock): four statements per
    # release. The workers change no session state on pooled connections (tenant binding and actor are
    # transaction-local), so nothing leaks from one use to the next.
    db_worker_light_reset: bool = Field(default=True, description="Skip the reset query in worker pools.")

    # Runaway journeys: the loop rule of journey validation and every run's caps (domain.run_limits).
    journey_min_loop_delay_seconds: float = Field(
        default=DEFAULT_MIN_LOOP_DELAY_SECONDS, ge=0, description="Least DELAY every journey loop must pass."
    )
    run_max_events_per_decision: int = Field(
        default=DEFAULT_RUN_LIMITS.max_events_per_decision, ge=1, description="Most events one step writes."
    )
    run_max_visits_per_node: int = Field(
        default=DEFAULT_RUN_LIMITS.max_visits_per_node, ge=1, description="Most visits a run makes to a node."
    )

    # Local services (`pjs services up`, `pjs dev`): their ports, and how long to wait for them to answer.
    local_postgres_port: Port = LOCAL_POSTGRES_PORT
    local_kafka_port: Port = LOCAL_KAFKA_PORT
    local_kafka_controller_port: Port = LOCAL_KAFKA_CONTROLLER_PORT
    services_ready_timeout_seconds: Seconds = 120.0

    # ---- limits at the HTTP edge (api/limits.py; docs/api.md "Limits") ----
    max_body_bytes: int = Field(default=1_048_576, gt=0, description="Largest request body (413).")
    max_patient_context_bytes: int = Field(default=65_536, gt=0, description="Largest trigger body (413).")
    max_journey_bytes: int = Field(default=524_288, gt=0, description="Largest journey body (413).")
    max_journey_nodes: int = Field(default=1_000, gt=0, description="Most nodes in one journey (400).")
    max_json_depth: int = Field(default=32, gt=0, description="Deepest nesting in a request body (400).")
    max_id_length: int = Field(default=255, gt=0, description="Longest id, name or key (400).")
    max_text_length: int = Field(default=10_000, gt=0, description="Longest other string (400).")

    # ---- patient data protection (events/key_ring.py, engine/erasure.py; docs/architecture.md) ----
    analytics_retention_days: int = Field(default=30, ge=1, description="Analytics day files kept, days.")
    run_events_retention_hours: int = Field(
        default=168, ge=1, description="retention.ms of the run-events topic when a role creates it."
    )

    # ---- access control at the HTTP edge (api/auth.py, api/rate_limit.py; docs/api.md "Authentication") ----
    rate_limit_per_second: float = Field(default=50.0, gt=0, description="Requests per second per API key.")
    rate_limit_burst: int = Field(
        default=100, gt=0, description="Requests a key may send at once (429 beyond)."
    )
    allowed_hosts: list[str] = Field(
        default=["127.0.0.1", "localhost", "::1", "testserver", "pjs"],
        description='Host header values served (JSON list; ["*"] = any); others get 400.',
    )
    cors_origins: list[str] = Field(
        default=[], description="Browser origins allowed by CORS (JSON list); empty = no CORS at all."
    )
    dev_tenant: str = Field(default="development", description="The tenant `pjs dev` keeps its key in.")

    # ---- run explorer at /ui (api/ui/; docs/api.md "Run explorer") ----
    ui_session_minutes: int = Field(
        default=480, gt=0, le=7 * 24 * 60, description="How long a run explorer sign-in lasts, minutes."
    )

    # ---- tenancy (events/tenancy.py, api/resources.py; docs/architecture.md "Tenancy") ----
    worker_database_url: str | None = Field(
        default=None,
        description="DSN of the workers' role, which acts for every tenant (BYPASSRLS); unset = "
        "PJS_DATABASE_URL when that is set, else the local pjs_worker. The API keeps PJS_DATABASE_URL.",
    )

    # ---- the trigger path's throughput (pjs/roles.py, api/key_store.py, api/runs.py; docs/api.md) ----
    api_keep_alive_seconds: int = Field(
        default=75,
        ge=1,
        description="How long the API keeps an idle keep-alive connection open. Above every client pool's "
        "own idle expiry (httpx 5 s, many proxies 60 s), so the server never closes a connection just as a "
        "client reuses it (the client would see a dropped request).",
    )
    api_header_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Longest a client may take to send a request's line and headers, from the moment the "
        "API awaits them (connection opened, or first byte after an idle keep-alive), then 408 and close. "
        "Bytes trickling in do not extend it.",
    )
    api_key_cache_seconds: float = Field(
        default=0.5,
        ge=0,
        description="How long an API process trusts a key it looked up; a revocation takes effect on every "
        "process within this time. 0 = look the key up on every request.",
    )
    max_batch_triggers: int = Field(
        default=1000, ge=1, description="Most patients one POST /journeys/{id}/trigger-batch may carry."
    )
    api_trigger_group_max: int = Field(
        default=100,
        ge=1,
        le=1000,
        description="Most single triggers (of one tenant and journey) that, waiting while an API process's "
        "transactions for them are in flight, then share the next one. 1 = every trigger its own.",
    )
    api_trigger_groups_in_flight: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Most trigger transactions of one tenant and journey an API process runs at once; a "
        "trigger that finds fewer starts its own at once. Keep it below the API's pool size.",
    )

    def resolved_database_url(self) -> str:
        """The application role's DSN: what every process role uses."""
        return self.database_url or self._local_postgres_url(POSTGRES_APP)

    def resolved_worker_database_url(self) -> str:
        """The workers' DSN: relay, engine, delivery, timer, projector, audit, analytics, operator tools."""
        if self.worker_database_url or self.database_url:
            return self.worker_database_url or self.resolved_database_url()
        return self._local_postgres_url(POSTGRES_WORKER)

    def resolved_migration_database_url(self) -> str:
        """The schema owner's DSN: migrations and projection rebuilds (DDL)."""
        if self.migration_database_url or self.database_url:
            return self.migration_database_url or self.resolved_database_url()
        return self._local_postgres_url(POSTGRES_MIGRATOR)

    def resolved_admin_database_url(self) -> str:
        """A DSN that may create and drop whole databases (test fixtures, bench)."""
        if self.admin_database_url or self.database_url:
            return self.admin_database_url or self.resolved_migration_database_url()
        return self._local_postgres_url(POSTGRES_BOOTSTRAP_USER, "postgres")

    def _local_postgres_url(self, user: str, database: str | None = None) -> str:
        credentials = load_credentials(self.state_dir)
        return local_postgres_url(credentials, user, self.local_postgres_port, database)

    def kafka_connection(self) -> KafkaConnection:
        """How every Kafka client reaches the broker: as configured, or the local one with its password."""
        if self.kafka_bootstrap is None:
            return local_kafka_connection(load_credentials(self.state_dir), self.local_kafka_port)
        return KafkaConnection(
            self.kafka_bootstrap,
            security_protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            username=self.kafka_username,
            password=self.kafka_password.get_secret_value() if self.kafka_password else None,
            ssl_cafile=str(self.kafka_ssl_cafile) if self.kafka_ssl_cafile else None,
            ssl_certfile=str(self.kafka_ssl_certfile) if self.kafka_ssl_certfile else None,
            ssl_keyfile=str(self.kafka_ssl_keyfile) if self.kafka_ssl_keyfile else None,
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
