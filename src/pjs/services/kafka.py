"""Local single-node Apache Kafka (KRaft): official jars fetched by Maven, run with the machine's Java."""

from __future__ import annotations

import base64
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from pjs.services.processes import (
    ServiceError,
    pid_is_running,
    port_is_open,
    read_pid,
    require_free_port,
    spawn_detached,
    terminate,
    wait_until,
)

HOST = "127.0.0.1"
INFRA_DIR = Path(__file__).resolve().parents[3] / "infra" / "kafka"
MAIN_CLASS = "kafka.Kafka"
SERVER_PROPERTIES = """\
# Written by `pjs services up`: a single-node KRaft broker and controller on loopback.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@{host}:{controller_port}
listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}
advertised.listeners=PLAINTEXT://{host}:{port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs={data_dir}
num.partitions=12
offsets.topic.replication.factor=1
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
"""


@dataclass(frozen=True)
class LocalKafka:
    state_dir: Path
    port: int
    controller_port: int

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
        return self.is_running() and port_is_open(HOST, self.port)

    def up(self, timeout: float = 90.0) -> bool:
        """Start the broker if it is not running; returns True when this call started it."""
        if self.is_running():
            if not wait_until(self.is_serving, timeout):
                raise ServiceError(f"Kafka (pid {self.pid()}) runs but does not listen on {self.bootstrap}")
            return False
        java = _require_tool("java", "a Java 17+ runtime (e.g. `apt-get install openjdk-17-jre-headless`)")
        require_free_port(HOST, self.port, "Kafka")
        require_free_port(HOST, self.controller_port, "Kafka")
        self._fetch_jars()
        config = self._write_config()
        self._format_storage(java, config)
        pid = spawn_detached(
            [
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
            ],
            self.log_file,
        )
        self.pid_file.write_text(f"{pid}\n")
        if not wait_until(self.is_serving, timeout):
            self.down()
            raise ServiceError(
                f"Kafka did not start listening on {self.bootstrap} within {timeout:.0f}s; "
                f"see {self.log_file}"
            )
        return True

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

    def _write_config(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.root / "server.properties"
        config.write_text(
            SERVER_PROPERTIES.format(
                host=HOST, port=self.port, controller_port=self.controller_port, data_dir=self.data_dir
            )
        )
        return config

    def _format_storage(self, java: str, config: Path) -> None:
        if (self.data_dir / "meta.properties").exists():
            return  # formatted before: keep the data
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        result = subprocess.run(
            [
                java,
                f"-Dlog4j2.configurationFile={INFRA_DIR / 'log4j2.properties'}",
                "-cp",
                f"{self.libs_dir}/*",
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(config),
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise ServiceError(
                f"Kafka storage format failed: {result.stderr.strip() or result.stdout.strip()}"
            )


def _require_tool(name: str, what: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ServiceError(f"`{name}` was not found on PATH; the local Kafka needs {what}")
    return path
