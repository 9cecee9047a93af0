"""Who may do what on the local broker: the read-only subscriber user and its ACLs, set with Kafka's tools.

The service's user is the broker's super user; a subscriber connects as `pjs-subscriber`, which may read
the run-events topic in consumer groups named `subscriber.*` and nothing else: no topic accepts its
records, so nobody holding its password can put an event on the stream the audit log and read models trust.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pjs.services.credentials import (
    KAFKA_SASL_MECHANISM,
    KAFKA_SUBSCRIBER_USER,
    KAFKA_USER,
    LocalCredentials,
)
from pjs.services.processes import ServiceError

SUBSCRIBER_GROUP_PREFIX = "subscriber."
ACCESS_MARKER = "subscriber-access"  # what `up` granted, so an unchanged stack is not granted again
CONFIG_COMMAND = "kafka.admin.ConfigCommand"  # kafka-configs.sh
ACL_COMMAND = "org.apache.kafka.tools.AclCommand"  # kafka-acls.sh


@dataclass(frozen=True)
class KafkaTools:
    """Kafka's own admin commands, run from the local broker's jars as the service's user."""

    java: str
    libs_dir: Path
    log4j_config: Path
    work_dir: Path  # holds the tools' client settings (0600: they carry the service's password)
    bootstrap: str

    def run(self, main_class: str, credentials: LocalCredentials, *arguments: str) -> None:
        client_config = self.private_file(
            "admin-client.properties",
            f"security.protocol=SASL_PLAINTEXT\nsasl.mechanism={KAFKA_SASL_MECHANISM}\n"
            "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{KAFKA_USER}" password="{credentials.kafka_password}";\n',
        )
        command = [
            self.java,
            f"-Dlog4j2.configurationFile={self.log4j_config}",
            "-cp",
            f"{self.libs_dir}/*",
            main_class,
            "--bootstrap-server",
            self.bootstrap,
            "--command-config",
            str(client_config),
            *arguments,
        ]
        tool = main_class.rsplit(".", 1)[-1]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        except subprocess.TimeoutExpired:
            raise ServiceError(f"Kafka's {tool} got no answer from {self.bootstrap} in 120 s") from None
        if result.returncode != 0:
            output = (result.stderr.strip() or result.stdout.strip())[-2000:]
            for password in (credentials.kafka_password, credentials.kafka_subscriber_password):
                output = output.replace(password, "***")  # a tool may echo what it could not parse
            raise ServiceError(f"Kafka's {tool} failed: {output}")

    def private_file(self, name: str, text: str) -> Path:
        path = self.work_dir / name
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(text)
        return path

    def argument_file(self, name: str, arguments: Sequence[str]) -> Path:
        """A private file of `arguments` as Java reads them from `java @FILE` (each quoted, its backslashes
        and quotes escaped): a password among them is on no command line that `ps` shows."""
        quoted = (argument.replace("\\", "\\\\").replace('"', '\\"') for argument in arguments)
        return self.private_file(name, "".join(f'"{argument}"\n' for argument in quoted))


def grant_subscriber_access(tools: KafkaTools, credentials: LocalCredentials, topic: str) -> None:
    """Create (or re-password) the subscriber user and let it read `topic`: once per stack and topic."""
    marker = tools.work_dir / ACCESS_MARKER
    granted = f"{KAFKA_SUBSCRIBER_USER} {topic} {SUBSCRIBER_GROUP_PREFIX}\n"
    if marker.exists() and granted in marker.read_text().splitlines(keepends=True):
        return
    create_subscriber_user(tools, credentials)
    allow_subscriber_to_read(tools, credentials, topic)
    with marker.open("a") as file:
        file.write(granted)


def create_subscriber_user(tools: KafkaTools, credentials: LocalCredentials) -> None:
    """The subscriber's SCRAM credential, from the local credentials file (an upsert: idempotent)."""
    # The password goes in a 0600 file, never on a command line that `ps` shows.
    password = tools.private_file(
        "subscriber-scram.properties",
        f"{KAFKA_SASL_MECHANISM}=password={credentials.kafka_subscriber_password}\n",
    )
    try:
        tools.run(
            CONFIG_COMMAND,
            credentials,
            "--alter",
            "--entity-type",
            "users",
            "--entity-name",
            KAFKA_SUBSCRIBER_USER,
            "--add-config-file",
            str(password),
        )
    finally:
        password.unlink(missing_ok=True)


def allow_subscriber_to_read(tools: KafkaTools, credentials: LocalCredentials, topic: str) -> None:
    """READ and DESCRIBE on `topic`, READ (which implies DESCRIBE) on groups named `subscriber.*`.

    ACLs are only ever added (adding one that exists changes nothing); WRITE is granted to nobody: the
    service's own user, a super user, needs none.
    """
    principal = ("--allow-principal", f"User:{KAFKA_SUBSCRIBER_USER}")
    reads = ("--operation", "Read")
    topic_reads = (*reads, "--operation", "Describe", "--topic", topic)
    tools.run(ACL_COMMAND, credentials, "--add", *principal, *topic_reads)
    prefixed_groups = ("--group", SUBSCRIBER_GROUP_PREFIX, "--resource-pattern-type", "prefixed")
    tools.run(ACL_COMMAND, credentials, "--add", *principal, *reads, *prefixed_groups)
