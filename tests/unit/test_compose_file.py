"""docker-compose.yml runs the same roles as `pjs dev`, so Docker users get the whole service, and secures
Postgres and Kafka the way `pjs services up` does."""

from __future__ import annotations

import itertools
import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from pjs.roles import ROLES
from pjs.services.credentials import (
    KAFKA_SASL_MECHANISM,
    KAFKA_SUBSCRIBER_USER,
    KAFKA_USER,
    POSTGRES_APP,
    POSTGRES_MIGRATOR,
    LocalCredentials,
)
from pjs.services.kafka_config import server_properties

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
SHARED_SETTINGS = "./src/pjs/services/kafka_broker.properties"  # the local broker's, mounted for Docker's
ADDRESSES = {"controller.quorum.voters", "listeners", "advertised.listeners", "log.dirs"}
PASSWORD = r"a&b\1c"  # written in as it is: neither & nor a backslash means anything to the script
SUBSCRIBER_PASSWORD = r"sub\scriber&secret"
ESCAPED_SUBSCRIBER_PASSWORD = r"sub\\scriber&secret"  # as a properties file holds it for Kafka


def _services() -> dict[str, Any]:
    """The services, with every `${VARIABLE:?...}` replaced as compose would, by a value from .env."""
    interpolated = re.sub(r"\$\{[A-Z_]+:\?[^}]*\}", "secret", COMPOSE_FILE.read_text())
    services: dict[str, Any] = yaml.safe_load(interpolated)["services"]
    return services


def test_every_process_role_has_a_service_in_docker_compose() -> None:
    commands = re.findall(r'command: \["pjs", "run", "([a-z]+)"\]', COMPOSE_FILE.read_text())
    assert sorted(commands) == sorted(ROLES)


def test_every_role_connects_as_the_application_role_and_only_the_migrate_job_as_the_migrator() -> None:
    services = _services()
    assert urlsplit(services["migrate"]["environment"]["PJS_MIGRATION_DATABASE_URL"]).username == (
        POSTGRES_MIGRATOR
    )
    for name in [*ROLES, "migrate"]:
        environment = services[name]["environment"]
        assert urlsplit(environment["PJS_DATABASE_URL"]).username == POSTGRES_APP, name
        if name != "migrate":  # a role holds no schema owner's DSN, and does not migrate
            assert "PJS_MIGRATION_DATABASE_URL" not in environment, name
            assert environment["PJS_MIGRATE_AT_START"] == "false", name
        assert environment["PJS_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT", name
        assert environment["PJS_KAFKA_SASL_MECHANISM"] == KAFKA_SASL_MECHANISM, name
        assert environment["PJS_KAFKA_USERNAME"] == KAFKA_USER, name


def test_postgres_wants_scram_passwords_and_gets_the_same_roles_as_the_local_one() -> None:
    postgres = _services()["postgres"]
    assert postgres["environment"]["POSTGRES_HOST_AUTH_METHOD"] == "scram-sha-256"
    assert "./infra/postgres/roles.sql:/pjs/roles.sql:ro" in postgres["volumes"]


def test_kafka_starts_with_sasl_scram_on_every_client_listener_and_adds_its_users_once(
    tmp_path: Path,
) -> None:
    started = _docker_start(tmp_path)

    server = started.server
    assert server["sasl.enabled.mechanisms"] == KAFKA_SASL_MECHANISM  # the one the roles' clients use
    protocols = dict(pair.split(":") for pair in server["listener.security.protocol.map"].split(","))
    listeners = [listener.split(":")[0] for listener in server["listeners"].split(",")]
    assert {protocols[listener] for listener in listeners} == {"SASL_PLAINTEXT"}  # the controller's too
    assert started.client["sasl.mechanism"] == KAFKA_SASL_MECHANISM
    # Only the service's user: the subscriber's is kafka-access's to add, once the broker answers
    assert started.formatted == [f"{KAFKA_SASL_MECHANISM}=[name={KAFKA_USER},password={PASSWORD}]"]
    assert started.started_with == str(tmp_path / "config" / "server.properties")
    assert _docker_start(tmp_path).formatted == []  # the storage is formatted the first time only


def test_no_kafka_password_is_on_a_command_line_of_the_brokers_start_or_of_kafka_access(
    tmp_path: Path,
) -> None:
    started = _docker_start(tmp_path)
    accessed = _docker_access(tmp_path)

    commands = [*started.ran.commands(), *accessed.commands()]
    assert not [command for command in commands for password in (PASSWORD, SUBSCRIBER_PASSWORD)
                if any(password in argument for argument in command)]  # fmt: skip
    assert {command[0] for command in commands} == {
        "kafka-storage.sh", "kafka-run-class.sh", "kafka-server-start.sh",
        "kafka-configs.sh", "kafka-acls.sh",
    }  # fmt: skip
    # The storage's format read its arguments, the service's password among them, from a file only the
    # broker's user may read, gone once the storage is formatted
    assert started.ran.calls["kafka-run-class.sh"] == [[f"@{tmp_path / 'config' / 'format.arguments'}"]]
    mode, _ = started.ran.files["kafka-run-class.sh"]
    assert mode == "-rw-------" and not (tmp_path / "config" / "format.arguments").exists()


def test_kafka_access_sets_the_subscribers_password_from_a_file_only_it_may_read(tmp_path: Path) -> None:
    accessed = _docker_access(tmp_path)

    [configs] = accessed.calls["kafka-configs.sh"]
    scram_file = str(tmp_path / "access" / "subscriber-scram.properties")
    assert configs[configs.index("--entity-name") + 1] == KAFKA_SUBSCRIBER_USER
    assert configs[configs.index("--add-config-file") + 1] == scram_file
    assert accessed.files["kafka-configs.sh"] == (
        "-rw-------",
        f"{KAFKA_SASL_MECHANISM}=password={ESCAPED_SUBSCRIBER_PASSWORD}\n",
    )
    assert not Path(scram_file).exists()
    assert [call[call.index("--allow-principal") + 1] for call in accessed.calls["kafka-acls.sh"]] == [
        f"User:{KAFKA_SUBSCRIBER_USER}", f"User:{KAFKA_SUBSCRIBER_USER}",
    ]  # fmt: skip


def test_kafka_allows_nothing_without_an_acl_and_lets_the_subscriber_user_only_read(tmp_path: Path) -> None:
    server = _docker_start(tmp_path).server
    access = (COMPOSE_FILE.parent / "infra" / "kafka" / "docker-access.sh").read_text()
    kafka_users = _services()["kafka-access"]["environment"]

    assert server["authorizer.class.name"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert server["allow.everyone.if.no.acl.found"] == "false"
    assert server["super.users"] == f"User:{KAFKA_USER}"
    assert kafka_users["PJS_KAFKA_SUBSCRIBER_USERNAME"] == KAFKA_SUBSCRIBER_USER
    assert _services()["kafka"]["environment"].items() <= kafka_users.items()
    assert "PJS_KAFKA_SUBSCRIBER_PASSWORD" not in _services()["kafka"]["environment"]  # kafka-access's only
    operations = re.findall(r"--operation (\w+)", access)
    assert sorted(set(operations)) == ["Describe", "Read"]  # never Write
    assert "--group subscriber. --resource-pattern-type prefixed" in access


def test_the_docker_broker_has_the_local_brokers_settings_but_its_addresses_and_a_listener_for_the_host(
    tmp_path: Path,
) -> None:
    local = _properties(server_properties(9092, 9093, Path("/data"), _credentials(PASSWORD)))

    docker = _docker_start(tmp_path).server

    expected = {key: value for key, value in local.items() if key not in ADDRESSES}
    expected["listener.security.protocol.map"] += ",HOST:SASL_PLAINTEXT"
    client_listener = "listener.name.sasl_plaintext."
    expected |= {
        key.replace(client_listener, "listener.name.host."): value
        for key, value in local.items()
        if key.startswith(client_listener)
    }
    assert {key: value for key, value in docker.items() if key not in ADDRESSES} == expected
    assert docker["advertised.listeners"] == "SASL_PLAINTEXT://kafka:9092,HOST://127.0.0.1:29092"
    assert f'password="{PASSWORD}"' in docker["listener.name.host.scram-sha-256.sasl.jaas.config"]


@dataclass(frozen=True)
class Ran:
    """What a script ran of Kafka's tools, which are stubs: each call's arguments by tool, and the mode and
    text of the file a tool was handed (`@FILE`, or `--add-config-file FILE`) as the tool found it."""

    calls: dict[str, list[list[str]]]
    files: dict[str, tuple[str, str]]

    def commands(self) -> list[list[str]]:
        return [[tool, *arguments] for tool, calls in self.calls.items() for arguments in calls]


@dataclass(frozen=True)
class DockerStart:
    """What infra/kafka/docker-start.sh wrote and ran."""

    server: dict[str, str]
    client: dict[str, str]
    formatted: list[str]  # the users the storage was formatted with (none: it was formatted before)
    started_with: str
    ran: Ran


def _docker_start(tmp_path: Path) -> DockerStart:
    """Run the kafka service's start script with bash, as the service would (its environment and the file
    it mounts), with Kafka's tools replaced: no Docker engine runs here."""
    kafka = tmp_path / "kafka"
    mounted = {volume.split(":")[1]: volume.split(":")[0] for volume in _services()["kafka"]["volumes"]}
    environment = {
        **_services()["kafka"]["environment"],
        "PJS_KAFKA_PASSWORD": PASSWORD,
        "PJS_KAFKA_SETTINGS": str(COMPOSE_FILE.parent / mounted["/pjs/kafka_broker.properties"]),
        "PJS_KAFKA_CONFIG_DIR": str(tmp_path / "config"),
    }
    assert mounted["/pjs/kafka_broker.properties"] == SHARED_SETTINGS
    tools = {
        "kafka-storage.sh": 'if [ "$1" = random-uuid ]; then echo a-cluster-id; exit; fi',
        "kafka-run-class.sh": "",
        "kafka-server-start.sh": "",
    }
    ran = _run(COMPOSE_FILE.parent / mounted["/pjs/docker-start.sh"], environment, kafka, tools)
    formatting = ran.files.get("kafka-run-class.sh")
    if formatting is not None:
        (tmp_path / "config" / "data" / "meta.properties").touch()  # what a real format leaves
    # Java reads an argument file much as a POSIX shell reads words in double quotes (the script escapes
    # only backslashes and quotes in them)
    format_arguments = shlex.split(formatting[1]) if formatting is not None else []
    return DockerStart(
        server=_properties((tmp_path / "config" / "server.properties").read_text()),
        client=_properties((tmp_path / "config" / "client.properties").read_text()),
        formatted=[value for flag, value in itertools.pairwise(format_arguments) if flag == "--add-scram"],
        started_with=" ".join(ran.calls["kafka-server-start.sh"][0]),
        ran=ran,
    )


def _docker_access(tmp_path: Path) -> Ran:
    """Run the kafka-access service's script with bash, as the service would, Kafka's tools stubbed."""
    service = _services()["kafka-access"]
    mounted = {volume.split(":")[1]: volume.split(":")[0] for volume in service["volumes"]}
    environment = {
        **service["environment"],
        "PJS_KAFKA_PASSWORD": PASSWORD,
        "PJS_KAFKA_SUBSCRIBER_PASSWORD": SUBSCRIBER_PASSWORD,
        "PJS_KAFKA_CONFIG_DIR": str(tmp_path / "access"),
    }
    tools = {"kafka-configs.sh": "", "kafka-acls.sh": ""}
    script = COMPOSE_FILE.parent / mounted["/pjs/docker-access.sh"]
    return _run(script, environment, tmp_path / "kafka", tools)


def _run(script: Path, environment: dict[str, str], kafka: Path, tools: dict[str, str]) -> Ran:
    """Run `script` with bash and Kafka installed at `kafka` as stubs of `tools` (name: what each then
    runs); what the stubs saw."""
    for tool, body in tools.items():
        _stub(kafka / "bin" / tool, body)
    run_with = {**environment, "PATH": os.environ["PATH"], "PJS_KAFKA_HOME": str(kafka)}
    subprocess.run(["bash", str(script)], env=run_with, check=True, capture_output=True, timeout=30)
    calls: dict[str, list[list[str]]] = {}
    files: dict[str, tuple[str, str]] = {}
    for tool in tools:
        recorded = kafka / "bin" / f"{tool}.calls"
        if recorded.exists():
            calls[tool] = [call.split("\n") for call in recorded.read_text().split("\n\n")[:-1]]
        handed = kafka / "bin" / f"{tool}.file"
        if handed.exists():
            mode, _, text = handed.read_text().partition("\n")
            files[tool] = (mode, text)
    return Ran(calls, files)


def _stub(path: Path, body: str) -> None:
    """An executable that appends its arguments, one a line and a blank line after them, to `<path>.calls`,
    writes the mode and text of a file it is handed to `<path>.file` (both made anew), then runs `body`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for record in (path.with_name(f"{path.name}.calls"), path.with_name(f"{path.name}.file")):
        record.unlink(missing_ok=True)
    path.write_text(
        "#!/bin/bash\n"
        'printf "%s\\n" "$@" "" >> "$0.calls"\n'
        "previous=\n"
        'for argument in "$@"; do\n'
        "    file=\n"
        "    if [[ $argument == @* ]]; then file=${argument#@}; fi\n"
        "    if [[ $previous == --add-config-file ]]; then file=$argument; fi\n"
        '    if [[ -n $file ]]; then { ls -ln "$file" | cut -c1-10; cat "$file"; } > "$0.file"; fi\n'
        "    previous=$argument\n"
        f"done\n{body}\n"
    )
    path.chmod(0o755)


def _properties(text: str) -> dict[str, str]:
    """A properties file's settings (no line continuations: neither file uses them)."""
    pairs = [line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")]
    assert len({key for key, _ in pairs}) == len(pairs), "a setting given twice"
    return dict(pairs)


def _credentials(kafka_password: str) -> LocalCredentials:
    return LocalCredentials("unused", "unused", "unused", kafka_password, "unused", "unused")
