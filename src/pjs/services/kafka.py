"""Local single-node Apache Kafka (KRaft): official jars fetched by Maven, run with the machine's Java."""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from pjs.services.credentials import (
    KAFKA_SASL_MECHANISM,
    KAFKA_USER,
    LocalCredentials,
    ensure_credentials,
)
from pjs.services.jvm import main_thread_stack
from pjs.services.kafka_access import ACCESS_MARKER, KafkaTools, grant_subscriber_access
from pjs.services.kafka_config import HOST, server_properties
from pjs.services.ports import (
    ephemeral_ports,
    listener_pids,
    require_free_port,
    require_outside_ephemeral_range,
    wait_for_own_listener,
)
from pjs.services.processes import (
    ServiceError,
    log_size,
    pid_is_running,
    read_pid,
    spawn_detached,
    terminate,
)

INFRA_DIR = Path(__file__).resolve().parents[3] / "infra" / "kafka"
MAIN_CLASS = "kafka.Kafka"
SASL_MARKER = "sasl-users-formatted"  # storage formatted with the service's SCRAM user
OTHERWISE = (
    "set PJS_LOCAL_KAFKA_PORT and PJS_LOCAL_KAFKA_CONTROLLER_PORT to other ports, "
    "or PJS_KAFKA_BOOTSTRAP to a broker of your own"
)


class StalledStart(ServiceError):
    """The broker process stayed alive but did not listen in time."""


@dataclass(frozen=True)
class LocalKafka:
    state_dir: Path
    port: int
    controller_port: int
    run_events_topic: str = "pjs.run-events"  # the topic the read-only subscriber user may read

    @property
    def root(self) -> Path:
        return (self.state_dir / "kafka").resolve()

    @property
    def libs_dir(self) -> Path:
        return self.root / "libs"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "kafka.log"

    @property
    def pid_file(self) -> Path:
        return self.root / "kafka.pid"

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    def pid(self) -> int | None:
        return read_pid(self.pid_file)

    def is_running(self) -> bool:
        return pid_is_running(self.pid(), MAIN_CLASS)

    def is_serving(self) -> bool:
        """Whether our broker process is alive and is the one listening on its port."""
        pid = self.pid()
        return self.is_running() and pid in listener_pids(self.port)

    def up(self, timeout: float = 90.0) -> bool:
        """Start the broker if it is not running; returns True when this call started it.

        Either way it returns only once the broker's own process listens on the port.
        """
        self._refuse_unauthenticated_storage()
        credentials = ensure_credentials(self.state_dir)
        java = _require_tool("java", "a Java 17+ runtime (e.g. `apt-get install openjdk-17-jre-headless`)")
        started = self._run(java, credentials, timeout)
        try:
            self._fetch_jars()  # a broker started by an older `pjs` may predate the tools' jar
            grant_subscriber_access(self.tools(java), credentials, self.run_events_topic)
        except (ServiceError, KeyboardInterrupt):
            if started:
                self.down()
            raise
        return started

    def tools(self, java: str) -> KafkaTools:
        """Kafka's admin commands against this broker (its ACLs and SCRAM users)."""
        return KafkaTools(java, self.libs_dir, INFRA_DIR / "log4j2.properties", self.root, self.bootstrap)

    def _run(self, java: str, credentials: LocalCredentials, timeout: float) -> bool:
        """Start the broker unless it runs with this version's settings; True when this call started it."""
        pid = self.pid()
        if self.is_running() and pid is not None:
            if self._config_is_current(credentials):
                self._confirm_listening(pid, log_size(self.log_file), timeout)
                return False
            # Started by an older `pjs` (e.g. before ACLs): its settings only apply after a restart.
            print("the local Kafka runs with older settings: restarting it", file=sys.stderr, flush=True)
            self.down()
        for port, setting in ((self.port, "PORT"), (self.controller_port, "CONTROLLER_PORT")):
            require_outside_ephemeral_range(port, "Kafka", f"PJS_LOCAL_KAFKA_{setting}", ephemeral_ports())
            require_free_port(HOST, port, "Kafka", OTHERWISE)
        self._fetch_jars()
        config = self._write_config(credentials)
        self._format_storage(java, config, credentials)
        try:
            self._start(java, config, timeout)
        except StalledStart as first:
            # Seen once on a loaded machine: a broker alive, silent, not listening after 90 s, where it
            # usually listens within 3 s. Say where it was stuck, then give it one fresh start.
            print(f"{first}\nstarting the local Kafka once more", file=sys.stderr, flush=True)
            self._start(java, config, timeout)
        return True

    def _start(self, java: str, config: Path, timeout: float) -> None:
        """Spawn the broker and wait for it to listen; a broker that does not is stopped again."""
        log_start = log_size(self.log_file)
        pid = spawn_detached(self._command(java, config), self.log_file)
        self.pid_file.write_text(f"{pid}\n")
        try:
            self._confirm_listening(pid, log_start, timeout)
        except ServiceError as failure:
            stalled = pid_is_running(pid, MAIN_CLASS)
            stack = main_thread_stack(pid, self.log_file) if stalled else ""
            self.down()
            if stalled:
                raise StalledStart(f"{failure}\nIts main thread was at:\n{stack}") from failure
            raise

    def _command(self, java: str, config: Path) -> list[str]:
        return [
            java,
            "-Xms256m",
            "-Xmx1g",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={INFRA_DIR / 'log4j2.properties'}",
            "-cp",
            f"{self.libs_dir}/*",
            MAIN_CLASS,
            str(config),
        ]

    def _confirm_listening(self, pid: int, log_start: int, timeout: float) -> None:
        wait_for_own_listener("Kafka", pid, self.port, MAIN_CLASS, self.log_file, log_start, timeout)

    def down(self) -> bool:
        pid = self.pid()
        if not self.is_running() or pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        terminate(pid)
        self.pid_file.unlink(missing_ok=True)
        return True

    def _fetch_jars(self) -> None:
        marker = self.libs_dir / ".complete"
        pom = INFRA_DIR / "pom.xml"
        if marker.exists() and marker.read_text() == pom.read_text():
            return
        mvn = _require_tool("mvn", "Apache Maven (e.g. `apt-get install maven`)")
        shutil.rmtree(self.libs_dir, ignore_errors=True)
        result = subprocess.run(
            [
                mvn,
                "-q",
                "-B",
                "-f",
                str(pom),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={self.libs_dir}",
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise ServiceError(
                f"Maven could not fetch the Kafka jars:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
            )
        marker.write_text(pom.read_text())

    def _refuse_unauthenticated_storage(self) -> None:
        """Storage formatted before SASL has no user for the service: it cannot be used any more."""
        if (self.data_dir / "meta.properties").exists() and not (self.root / SASL_MARKER).exists():
            raise ServiceError(
                f"the local Kafka in {self.data_dir} was set up without SASL users; "
                "`pjs services reset` deletes the local data and starts over with passwords"
            )

    @property
    def config_file(self) -> Path:
        return self.root / "server.properties"

    def _config_text(self, credentials: LocalCredentials) -> str:
        return server_properties(self.port, self.controller_port, self.data_dir, credentials)

    def _config_is_current(self, credentials: LocalCredentials) -> bool:
        try:
            return self.config_file.read_text() == self._config_text(credentials)
        except FileNotFoundError:
            return False

    def _write_config(self, credentials: LocalCredentials) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # The broker writes its log segments readable by all; none of this is anyone else's to read.
        self.root.chmod(0o700)
        config = self.config_file
        config.touch(mode=0o600)
        config.chmod(0o600)  # it holds the broker's own SCRAM password
        config.write_text(self._config_text(credentials))
        return config

    def _format_storage(self, java: str, config: Path, credentials: LocalCredentials) -> None:
        if (self.data_dir / "meta.properties").exists():
            return  # formatted before: keep the data
        scram_user = f"{KAFKA_SASL_MECHANISM}=[name={KAFKA_USER},password={credentials.kafka_password}]"
        # The broker logs in to itself as the service's user, so that user must be in the metadata before
        # it starts, and only the storage tool's format puts it there, from its arguments: they go in a
        # 0600 file that Java reads (`java @FILE`), never on a command line that `ps` shows.
        format_arguments = ("format", "-t", new_cluster_id(), "-c", str(config), "--add-scram", scram_user)
        arguments = self.tools(java).argument_file(
            "format.arguments", ("kafka.tools.StorageTool", *format_arguments)
        )
        log4j = f"-Dlog4j2.configurationFile={INFRA_DIR / 'log4j2.properties'}"
        try:
            command = [java, log4j, "-cp", f"{self.libs_dir}/*", f"@{arguments}"]
            result = subprocess.run(command, capture_output=True, text=True)
        finally:
            arguments.unlink(missing_ok=True)
        if result.returncode != 0:
            output = result.stderr.strip() or result.stdout.strip()
            hidden = output.replace(credentials.kafka_password, "***")  # it may echo what it could not parse
            raise ServiceError(f"Kafka storage format failed: {hidden}")
        (self.root / SASL_MARKER).write_text(f"{KAFKA_SASL_MECHANISM} {KAFKA_USER}\n")
        (self.root / ACCESS_MARKER).unlink(missing_ok=True)  # new metadata: no user or ACL granted yet


def new_cluster_id() -> str:
    """A random cluster id in the broker's own form (URL-safe base64 of 16 bytes).

    One id in 64 would start with "-", which the storage tool's argument parser
    reads as an option; like Kafka's own id generator, draw again.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _require_tool(name: str, what: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ServiceError(f"`{name}` was not found on PATH; the local Kafka needs {what}")
    return path
