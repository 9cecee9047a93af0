"""The one place that builds pools, the event store and the API's backends from settings.

Nothing here connects at import time; every other package is handed what it needs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

import asyncpg
from pydantic import SecretStr

from api.bearer_tokens import TokenVerifier
from api.jwks import RemoteKeySet
from api.limits import Limits
from api.rate_limit import RateLimit
from api.resources import Backends, Resources, TenantBackends
from domain.run_limits import RunLimits
from engine.channels import Channel, LogChannel, SmsChannel, WebhookChannel, WebhookConfig
from engine.delays import PostgresDelayQueue
from engine.delivery_worker import DeliveryConfig, DeliveryWorker
from engine.email_channel import EmailChannel, EmailConfig
from engine.engine_worker import EngineWorker
from engine.journey_repository import ParsedJourneys, PostgresJourneyRepository
from engine.message_deliveries import PostgresDeliveryLedger
from engine.run_status import PostgresRunHeads
from engine.timer import Timer, TimerConfig
from engine.write_models import INLINE_PROJECTIONS, WRITE_MODELS
from events.asyncapi import RunEventsTopic
from events.dead_letters import PostgresDeadLetters
from events.key_ring import ensure_secret
from events.key_ring_file import KeyRingFile
from events.patient_keys import PostgresPatientKeys
from events.patient_vault import PatientVault
from events.pg import Connection, Queryable
from events.pools import SessionLimits, open_pool
from events.projection import Projection
from events.store import PostgresEventStore
from pjs.settings import Settings, get_settings
from projections.read_models import READ_MODELS
from subscribers.analytics import DailyFiles

REBUILDABLE: dict[str, Projection] = {p.name: p for p in (*WRITE_MODELS, *READ_MODELS)}
"""Every projection `pjs replay` can rebuild, by name."""


def session_limits(settings: Settings) -> SessionLimits:
    """The server-side timeouts and keepalives every Postgres session of a role carries."""
    return SessionLimits(
        statement_timeout_seconds=settings.db_statement_timeout_seconds,
        lock_timeout_seconds=settings.db_lock_timeout_seconds,
        idle_in_transaction_seconds=settings.db_idle_in_transaction_seconds,
        keepalive_idle_seconds=settings.db_keepalive_idle_seconds,
        keepalive_interval_seconds=settings.db_keepalive_interval_seconds,
        keepalive_count=settings.db_keepalive_count,
    )


def own_database_url(roles: Sequence[str], settings: Settings) -> str:
    """The DSN a process running `roles` connects with as itself: the API's role, else the workers'."""
    return settings.resolved_database_url() if "api" in roles else settings.resolved_worker_database_url()


async def create_pool(
    settings: Settings,
    *,
    min_size: int = 1,
    max_size: int = 10,
    acquire_timeout: float | None = None,
    admin: bool = False,
    api: bool = False,
) -> asyncpg.Pool:
    """A pool with the session limits as the workers' role (every tenant); `api` as the API's role, bound
    by row-level security to the tenant of each transaction; `admin` is for rebuilds and for issuing
    keys instead: as the schema owner (it creates and swaps tables, and is the one role that may write
    tenants and keys), without statement and lock timeouts."""
    limits = session_limits(settings)
    if admin:
        url = settings.resolved_migration_database_url()
    else:
        url = settings.resolved_database_url() if api else settings.resolved_worker_database_url()
    return await open_pool(
        url,
        limits.for_admin_work() if admin else limits,
        min_size=min_size,
        max_size=max_size,
        acquire_timeout=acquire_timeout,
        # The API binds its tenant and locks runs per transaction, never per session; workers may opt in.
        session_reset=not (api or (settings.db_worker_light_reset and not admin)),
    )


def event_store(pool: Queryable, settings: Settings | None = None) -> PostgresEventStore:
    """The event store with every inline projection (run status, delays, deliveries) in its append."""
    max_event_bytes = (settings or get_settings()).max_event_bytes
    return PostgresEventStore(pool, INLINE_PROJECTIONS, max_event_bytes)


def key_ring(settings: Settings) -> KeyRingFile:
    """The master key ring from PJS_MASTER_KEY_FILE (a role refuses to start without one), read again when
    the file changes (`pjs keys rotate-master` while the roles run)."""
    return KeyRingFile(settings.master_key_file, settings.master_key_check_seconds)


def patient_vault(db: Queryable, settings: Settings) -> PatientVault:
    """Seals and opens patient contexts with the patients' data keys, kept in the patient_keys table."""
    ring = key_ring(settings)
    return PatientVault(PostgresPatientKeys(db, ring), ring)


def engine_worker(pool: asyncpg.Pool, settings: Settings) -> EngineWorker:
    heads, journeys = PostgresRunHeads(pool), PostgresJourneyRepository(pool)
    return EngineWorker(
        heads,
        event_store(pool, settings),
        journeys,
        limits=run_limits(settings),
        contexts=patient_vault(pool, settings),
        default_channel=settings.message_channel,
    )


def unsendable_channels(settings: Settings) -> dict[str, str]:
    """Each channel these settings give no endpoint (`message_channels` leaves it out), with the setting
    that would give it one."""
    return settings.unsendable_channels()


def message_channels(settings: Settings) -> dict[str, Channel]:
    """The channels the settings configure: log always; webhook, sms and email when given an endpoint."""
    channels: dict[str, Channel] = {"log": LogChannel()}
    for name, endpoint in settings.channel_endpoints().items():
        channels[name] = _CHANNEL_MAKERS[name](settings, endpoint)
    return channels


def _email_channel(settings: Settings, host: str) -> Channel:
    return EmailChannel(
        EmailConfig(
            host=host,
            port=settings.smtp_port,
            sender=settings.smtp_sender,
            subject=settings.smtp_subject,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            start_tls=settings.smtp_start_tls,
        )
    )


_CHANNEL_MAKERS: Final[dict[str, Callable[[Settings, str], Channel]]] = {
    "webhook": lambda settings, url: WebhookChannel(_http_config(settings, url, settings.webhook_secret)),
    "sms": lambda settings, url: SmsChannel(_http_config(settings, url, settings.sms_secret)),
    "email": _email_channel,
}
"""How each channel of `pjs.channel_settings.ENDPOINT_SETTINGS` is made from its endpoint."""


def _http_config(settings: Settings, url: str, secret: SecretStr | None) -> WebhookConfig:
    return WebhookConfig(
        url=url,
        timeout_seconds=settings.webhook_timeout_seconds,
        max_attempts=settings.webhook_max_attempts,
        backoff_seconds=settings.webhook_backoff_seconds,
        secret=secret.get_secret_value() if secret else None,
    )


def run_limits(settings: Settings) -> RunLimits:
    """Every run's caps, from the PJS_RUN_* settings."""
    return RunLimits(
        max_events_per_decision=settings.run_max_events_per_decision,
        max_visits_per_node=settings.run_max_visits_per_node,
    )


def delivery_worker(
    pool: asyncpg.Pool, channel: Channel, config: DeliveryConfig, settings: Settings
) -> DeliveryWorker:
    ledger = PostgresDeliveryLedger(pool, event_store(pool, settings))
    vault = patient_vault(pool, settings)
    return DeliveryWorker(PostgresRunHeads(pool), ledger, channel, config, contexts=vault)


def analytics_files(settings: Settings) -> DailyFiles:
    """The analytics day files, with their pseudonym secret (made on first use) and retention."""
    settings.analytics_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    settings.analytics_pseudonym_key_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = ensure_secret(settings.analytics_pseudonym_key_file)
    return DailyFiles(settings.analytics_dir, secret, settings.analytics_retention_days)


def dead_letters(pool: asyncpg.Pool) -> PostgresDeadLetters:
    """Where every consumer group sets aside the records it cannot decode or handle."""
    return PostgresDeadLetters(pool)


def timer(pool: asyncpg.Pool, config: TimerConfig, settings: Settings) -> Timer:
    return Timer(PostgresDelayQueue(pool, event_store(pool, settings)), config)


def http_limits(settings: Settings) -> Limits:
    """The HTTP edge's limits, from their PJS_MAX_* settings."""
    return Limits(
        max_body_bytes=settings.max_body_bytes,
        max_patient_context_bytes=settings.max_patient_context_bytes,
        max_journey_bytes=settings.max_journey_bytes,
        max_journey_nodes=settings.max_journey_nodes,
        max_json_depth=settings.max_json_depth,
        max_id_length=settings.max_id_length,
        max_text_length=settings.max_text_length,
        request_seconds=settings.api_request_seconds,
        max_batch_triggers=settings.max_batch_triggers,
    )


def run_events_topic(settings: Settings) -> RunEventsTopic:
    """The run-events topic as the AsyncAPI document describes it."""
    return RunEventsTopic(
        settings.run_events_topic,
        settings.run_events_partitions,
        settings.run_events_retention_hours,
        settings.local_kafka_port,
    )


def api_resources(settings: Settings) -> Resources:
    """The API's resources, unopened: the app's lifespan opens them through `open_backends`."""

    async def open_backends() -> Backends:
        pool = await create_pool(
            settings, max_size=settings.api_pool_size, acquire_timeout=settings.api_acquire_seconds, api=True
        )
        ring = key_ring(settings)
        parsed_journeys = ParsedJourneys()  # a repository lives for one request; the parses outlive it

        def bind(connection: Connection) -> TenantBackends:
            return TenantBackends(
                connection,
                event_store(connection, settings),
                PostgresRunHeads(connection),
                PostgresJourneyRepository(connection, parsed=parsed_journeys),
                PatientVault(PostgresPatientKeys(connection, ring), ring),
            )

        return Backends(pool, bind)

    return Resources(
        open_backends,
        kafka=settings.kafka_connection(),
        run_events=run_events_topic(settings),
        min_loop_delay_seconds=settings.journey_min_loop_delay_seconds,
        max_events_per_decision=settings.run_max_events_per_decision,
        limits=http_limits(settings),
        rate_limit=RateLimit(settings.rate_limit_per_second, settings.rate_limit_burst),
        allowed_hosts=tuple(settings.allowed_hosts),
        cors_origins=tuple(settings.cors_origins),
        receipt_secret=settings.receipt_secret.get_secret_value() if settings.receipt_secret else None,
        ui_session_seconds=settings.ui_session_minutes * 60,
        key_cache_seconds=settings.api_key_cache_seconds,
        trigger_group_max=settings.api_trigger_group_max,
        trigger_groups_in_flight=settings.api_trigger_groups_in_flight,
        tokens=token_verifier(settings),
        sign_in=settings.sign_in_client() if settings.token_policy() is not None else None,
        stall_warning_seconds=settings.stall_warning_seconds,
        probes_open_from_loopback=settings.probes_open_from_loopback,
        unsendable_channels=unsendable_channels(settings),
    )


def token_verifier(settings: Settings) -> TokenVerifier | None:
    """The verifier of the configured identity provider's access tokens; None: API keys only."""
    policy = settings.token_policy()
    if policy is None or settings.oidc_jwks_url is None:
        return None
    keys = RemoteKeySet(settings.oidc_jwks_url, cache_seconds=settings.oidc_jwks_cache_seconds)
    return TokenVerifier(policy, keys)
