"""What a role that could not start logs: for configuration and connection errors their message, with the
user, server and variable to check and never a password; for any other error nothing of its message."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError
from pydantic import BaseModel, ValidationError

from events.key_ring import KeyRingError
from pjs.settings import Settings
from pjs.startup_errors import MIGRATING, MIGRATION_DSN, WORKER_DSN, explain, postgres_address

SECRET = "s3cret-pw"
CONFIGURED = Settings(
    database_url=f"postgresql://pjs_app:{SECRET}@db.example.org:6432/pjs",
    worker_database_url=f"postgresql://pjs_worker:{SECRET}@db.example.org:6432/pjs",
    migration_database_url=f"postgresql://pjs_owner:{SECRET}@db.example.org:6432/pjs",
    kafka_bootstrap="kafka.example.org:9093",
)


class PatientRecord(BaseModel):
    age: int


def test_a_refused_password_names_the_user_the_server_and_the_variable_but_not_the_password() -> None:
    error = asyncpg.InvalidPasswordError('password authentication failed for user "pjs_worker"')

    reason = explain(error, CONFIGURED, WORKER_DSN)

    assert reason == (
        "Postgres at pjs_worker@db.example.org:6432/pjs refused the connection: password authentication "
        'failed for user "pjs_worker"; check the password (or the user) in PJS_WORKER_DATABASE_URL'
    )


def test_an_error_while_migrating_names_the_schema_owners_variable() -> None:
    error = asyncpg.InvalidCatalogNameError('database "pjs" does not exist')
    error.add_note(MIGRATING)

    reason = explain(error, CONFIGURED, WORKER_DSN)

    assert reason is not None and "pjs_owner@db.example.org:6432/pjs" in reason
    assert reason.endswith(f"check the database name in {MIGRATION_DSN}")


def test_an_unset_variable_points_to_the_dsn_used_instead() -> None:
    settings = Settings(database_url=f"postgresql://pjs_app:{SECRET}@db.example.org/pjs")
    error = asyncpg.InvalidPasswordError('password authentication failed for user "pjs_app"')

    reason = explain(error, settings, WORKER_DSN)

    assert reason is not None and "pjs_app@db.example.org:5432/pjs" in reason and SECRET not in reason
    assert reason.endswith("PJS_WORKER_DATABASE_URL (unset, so PJS_DATABASE_URL)")


def test_a_refused_connection_to_the_roles_own_postgres_names_its_user_and_variable() -> None:
    error = ConnectionRefusedError(111, "Connect call failed ('db.example.org', 6432)")

    reason = explain(error, CONFIGURED, WORKER_DSN)

    assert reason is not None and reason.startswith("Postgres at pjs_worker@db.example.org:6432/pjs cannot")
    assert reason.endswith("check the host and port in PJS_WORKER_DATABASE_URL and that the server runs")


def test_a_refused_connection_elsewhere_keeps_its_own_words() -> None:
    error = ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 9)")

    assert explain(error, CONFIGURED, WORKER_DSN) == (
        "ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', 9); check the address or the "
        "file it names"
    )


def test_an_unreachable_kafka_names_its_bootstrap_address() -> None:
    reason = explain(KafkaConnectionError("Unable to bootstrap"), CONFIGURED, WORKER_DSN)

    assert reason is not None and "Kafka at kafka.example.org:9093 cannot be reached" in reason


def test_a_missing_master_key_says_to_restore_it_not_to_make_a_new_one() -> None:
    error = KeyRingError("no master key file at /etc/pjs/master.key ... restore it")

    assert explain(error, CONFIGURED, WORKER_DSN) == str(error)


def test_invalid_settings_name_their_variables() -> None:
    with pytest.raises(ValidationError) as invalid:
        Settings(engine_batch_size=-5)

    reason = explain(invalid.value, CONFIGURED, WORKER_DSN)

    assert reason is not None and "PJS_ENGINE_BATCH_SIZE" in reason and "at least 1" in reason


@pytest.mark.parametrize(
    "error",
    [ValueError("patient Jane Doe"), KeyError("Jane Doe"), RuntimeError("Jane Doe")],
)
def test_the_message_of_any_other_error_is_never_shown(error: Exception) -> None:
    assert explain(error, CONFIGURED, WORKER_DSN) is None


def test_a_validation_error_of_anything_but_the_settings_is_never_shown() -> None:
    with pytest.raises(ValidationError) as invalid:
        PatientRecord.model_validate({"age": "Jane Doe"})

    assert explain(invalid.value, CONFIGURED, WORKER_DSN) is None


def test_an_address_never_carries_the_password() -> None:
    assert postgres_address(f"postgresql://u%40x:{SECRET}@h:1/d?sslmode=require") == "u@x@h:1/d"
