"""docker-compose.yml runs the same roles as `pjs dev`, so Docker users get the whole service, and secures
Postgres and Kafka the way `pjs services up` does."""

from __future__ import annotations

import re
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
)

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def _services() -> dict[str, Any]:
    """The services, with every `${VARIABLE:?...}` replaced as compose would, by a value from .env."""
    interpolated = re.sub(r"\$\{[A-Z_]+:\?[^}]*\}", "secret", COMPOSE_FILE.read_text())
    services: dict[str, Any] = yaml.safe_load(interpolated)["services"]
    return services


def test_every_process_role_has_a_service_in_docker_compose() -> None:
    commands = re.findall(r'command: \["pjs", "run", "([a-z]+)"\]', COMPOSE_FILE.read_text())
    assert sorted(commands) == sorted(ROLES)


def test_every_role_connects_as_the_application_role_and_migrates_as_the_migrator() -> None:
    services = _services()
    for name in [*ROLES, "migrate"]:
        environment = services[name]["environment"]
        assert urlsplit(environment["PJS_DATABASE_URL"]).username == POSTGRES_APP, name
        assert urlsplit(environment["PJS_MIGRATION_DATABASE_URL"]).username == POSTGRES_MIGRATOR, name
        assert environment["PJS_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT", name
        assert environment["PJS_KAFKA_SASL_MECHANISM"] == KAFKA_SASL_MECHANISM, name
        assert environment["PJS_KAFKA_USERNAME"] == KAFKA_USER, name


def test_postgres_wants_scram_passwords_and_gets_the_same_roles_as_the_local_one() -> None:
    postgres = _services()["postgres"]
    assert postgres["environment"]["POSTGRES_HOST_AUTH_METHOD"] == "scram-sha-256"
    assert "./infra/postgres/roles.sql:/pjs/roles.sql:ro" in postgres["volumes"]


def test_kafka_starts_with_sasl_scram_on_every_client_listener() -> None:
    script = (COMPOSE_FILE.parent / "infra" / "kafka" / "docker-start.sh").read_text()
    assert f"sasl.enabled.mechanisms={KAFKA_SASL_MECHANISM}" in script
    protocols = re.search(r"listener\.security\.protocol\.map=(.*)", script)
    assert protocols is not None
    assert ":PLAINTEXT" not in protocols[1]  # the controller listener authenticates too (SASL/PLAIN)
    assert f'--add-scram "{KAFKA_SASL_MECHANISM}=[name=$PJS_KAFKA_USERNAME' in script


def test_kafka_allows_nothing_without_an_acl_and_lets_the_subscriber_user_only_read() -> None:
    script = (COMPOSE_FILE.parent / "infra" / "kafka" / "docker-start.sh").read_text()
    access = (COMPOSE_FILE.parent / "infra" / "kafka" / "docker-access.sh").read_text()
    kafka_users = _services()["kafka"]["environment"]

    assert "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer" in script
    assert "allow.everyone.if.no.acl.found=false" in script
    assert "super.users=User:$PJS_KAFKA_USERNAME" in script
    assert "CONTROLLER:SASL_PLAINTEXT" in script  # no unauthenticated listener at all
    assert kafka_users["PJS_KAFKA_SUBSCRIBER_USERNAME"] == KAFKA_SUBSCRIBER_USER
    assert '--add-scram "SCRAM-SHA-256=[name=$PJS_KAFKA_SUBSCRIBER_USERNAME' in script
    assert _services()["kafka-access"]["environment"] == kafka_users
    operations = re.findall(r"--operation (\w+)", access)
    assert sorted(set(operations)) == ["Describe", "Read"]  # never Write
    assert "--group subscriber. --resource-pattern-type prefixed" in access
