"""The local stack as a whole: which services to start, and where the running ones are."""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from pjs.services.credentials import credentials_path, load_credentials, local_subscriber_connection
from pjs.services.kafka import SASL_MARKER, LocalKafka
from pjs.services.kafka_access import ACCESS_MARKER, SUBSCRIBER_GROUP_PREFIX
from pjs.services.postgres import LocalPostgres
from pjs.services.processes import ServiceError
from pjs.settings import Settings


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    address: str
    state: str  # "running", "stopped", "external"
    pid: int | None


class LocalStack:
    """Postgres and Kafka as local processes, unless PJS_DATABASE_URL or PJS_KAFKA_BOOTSTRAP say otherwise."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.postgres = LocalPostgres(settings.state_dir, settings.local_postgres_port)
        self.kafka = LocalKafka(
            settings.state_dir,
            settings.local_kafka_port,
            settings.local_kafka_controller_port,
            settings.run_events_topic,
        )

    def up(self) -> list[str]:
        """Start what is missing; on failure, stop what this call started. Returns the names started."""
        started: list[str] = []
        try:
            if self.settings.database_url is None and self.postgres.up():
                started.append("postgres")
            if self.settings.kafka_bootstrap is None and self.kafka.up():
                started.append("kafka")
        except (ServiceError, KeyboardInterrupt):
            if "postgres" in started:
                self.postgres.down()
            raise
        return started

    def down(self) -> list[str]:
        stopped: list[str] = []
        if self.settings.kafka_bootstrap is None and self.kafka.down():
            stopped.append("kafka")
        if self.settings.database_url is None and self.postgres.down():
            stopped.append("postgres")
        return stopped

    def reset(self) -> list[str]:
        """Stop the local services and delete their data and passwords (downloaded jars are kept).

        Returns the names of the services whose data was deleted.
        """
        self.down()
        wiped: list[str] = []
        if self.settings.database_url is None and self.postgres.data_dir.exists():
            shutil.rmtree(self.postgres.data_dir)
            wiped.append("postgres")
        if self.settings.kafka_bootstrap is None and self.kafka.data_dir.exists():
            shutil.rmtree(self.kafka.data_dir)
            wiped.append("kafka")
        for marker in (SASL_MARKER, ACCESS_MARKER):
            (self.kafka.root / marker).unlink(missing_ok=True)
        credentials_path(self.settings.state_dir).unlink(missing_ok=True)
        return wiped

    def status(self) -> list[ServiceStatus]:
        return [self._postgres_status(), self._kafka_status()]

    def _postgres_status(self) -> ServiceStatus:
        if self.settings.database_url is not None:
            return ServiceStatus("postgres", _redact(self.settings.database_url), "external", None)
        running = self.postgres.is_running()
        return ServiceStatus(
            "postgres",
            self.postgres.address,
            "running" if running else "stopped",
            self.postgres.pid() if running else None,
        )

    def _kafka_status(self) -> ServiceStatus:
        if self.settings.kafka_bootstrap is not None:
            return ServiceStatus("kafka", self.settings.kafka_bootstrap, "external", None)
        running = self.kafka.is_serving()
        stale = self.kafka.pid() is not None and not self.kafka.is_running()
        state = (
            "running"
            if running
            else ("stopped (process died; `pjs services up` restarts it)" if stale else "stopped")
        )
        return ServiceStatus("kafka", self.kafka.bootstrap, state, self.kafka.pid() if running else None)

    def connections(self) -> dict[str, dict[str, object]]:
        """How a script connects to each service (passwords included), and whether it runs: what
        `pjs services status --json` prints. Credentials are None while the local stack was never up."""
        postgres, kafka = self.status()
        try:
            broker = self.settings.kafka_connection()
            database_urls: dict[str, object] = {
                "databaseUrl": self.settings.resolved_database_url(),
                "workerDatabaseUrl": self.settings.resolved_worker_database_url(),
                "migrationDatabaseUrl": self.settings.resolved_migration_database_url(),
            }
            subscriber = self._subscriber_access()
        except ServiceError:  # no credentials file yet
            return {
                "postgres": {"state": postgres.state, "pid": postgres.pid, "databaseUrl": None},
                "kafka": {"state": kafka.state, "pid": kafka.pid, "bootstrap": self.kafka.bootstrap},
            }
        return {
            "postgres": {"state": postgres.state, "pid": postgres.pid, **database_urls},
            "kafka": {
                "state": kafka.state,
                "pid": kafka.pid,
                "bootstrap": broker.bootstrap,
                "securityProtocol": broker.security_protocol,
                "saslMechanism": broker.sasl_mechanism,
                "username": broker.username,
                "password": broker.password,
                "subscriber": subscriber,
            },
        }

    def _subscriber_access(self) -> dict[str, object] | None:
        """The read-only user a subscriber connects as (the local broker's; None for a broker of your own,
        whose operator gives subscribers a user of their own)."""
        if self.settings.kafka_bootstrap is not None:
            return None
        subscriber = local_subscriber_connection(
            load_credentials(self.settings.state_dir), self.settings.local_kafka_port
        )
        return {
            "bootstrap": subscriber.bootstrap,
            "securityProtocol": subscriber.security_protocol,
            "saslMechanism": subscriber.sasl_mechanism,
            "username": subscriber.username,
            "password": subscriber.password,
            "topic": self.settings.run_events_topic,
            "groupPrefix": SUBSCRIBER_GROUP_PREFIX,
        }


def _redact(url: str) -> str:
    """Hide a password in a DSN before printing it."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url
