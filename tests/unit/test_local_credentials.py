"""Where each process finds its credentials: settings, the local credentials file, one Kafka connection."""

from __future__ import annotations

import json
import ssl
import stat
from pathlib import Path

import pytest

from events.broker import KafkaConnection
from pjs.services.credentials import ensure_credentials, load_credentials
from pjs.services.kafka import LocalKafka
from pjs.services.postgres_access import refuse_unauthenticated_cluster
from pjs.services.processes import ServiceError
from pjs.settings import Settings


def test_local_passwords_are_generated_once_random_and_readable_by_the_owner_only(tmp_path: Path) -> None:
    first = ensure_credentials(tmp_path)
    again = ensure_credentials(tmp_path)
    other = ensure_credentials(tmp_path / "another")

    assert again == first
    assert other.postgres_app_password != first.postgres_app_password
    assert len({first.postgres_bootstrap_password, first.postgres_app_password, first.kafka_password}) == 3
    assert stat.S_IMODE((tmp_path / "credentials.json").stat().st_mode) == 0o600
    assert first.kafka_password not in repr(first)


def test_credentials_from_before_the_kafka_subscriber_keep_their_passwords_and_gain_its_own(
    tmp_path: Path,
) -> None:
    first = ensure_credentials(tmp_path)
    path = tmp_path / "credentials.json"
    older = json.loads(path.read_text())
    del older["kafka_subscriber_password"]
    path.write_text(json.dumps(older))

    with pytest.raises(ServiceError, match=r"no kafka_subscriber_password yet: run `pjs services up`"):
        load_credentials(tmp_path)
    upgraded = ensure_credentials(tmp_path)

    assert upgraded.kafka_password == first.kafka_password  # the broker's user keeps working
    assert upgraded.kafka_subscriber_password not in (first.kafka_subscriber_password, first.kafka_password)
    assert load_credentials(tmp_path) == upgraded
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_unset_urls_mean_the_local_roles_with_their_passwords(tmp_path: Path) -> None:
    credentials = ensure_credentials(tmp_path)
    local = Settings(state_dir=tmp_path, local_postgres_port=24000, local_kafka_port=24001)

    assert local.resolved_database_url() == (
        f"postgresql://pjs_app:{credentials.postgres_app_password}@127.0.0.1:24000/pjs"
    )
    assert local.resolved_migration_database_url().startswith("postgresql://pjs_migrator:")
    assert local.resolved_admin_database_url().endswith("@127.0.0.1:24000/postgres")
    kafka = local.kafka_connection()
    assert (kafka.bootstrap, kafka.security_protocol, kafka.sasl_mechanism, kafka.username) == (
        "127.0.0.1:24001",
        "SASL_PLAINTEXT",
        "SCRAM-SHA-256",
        "pjs",
    )
    assert kafka.password == credentials.kafka_password


def test_a_server_of_your_own_needs_no_local_credentials(tmp_path: Path) -> None:
    own = Settings(
        state_dir=tmp_path,
        database_url="postgresql://app:secret@db.internal/pjs?sslmode=verify-full",
        kafka_bootstrap="broker:9093",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_username="svc",
        kafka_password="hunter2",
    )
    assert own.resolved_migration_database_url() == own.resolved_database_url()  # one role, as before
    assert own.resolved_admin_database_url() == own.resolved_database_url()
    assert own.kafka_connection() == KafkaConnection(
        "broker:9093", "SASL_SSL", "SCRAM-SHA-512", "svc", "hunter2"
    )
    assert "hunter2" not in repr(own) and "hunter2" not in repr(own.kafka_connection())


def test_without_local_credentials_the_error_says_to_start_the_services(tmp_path: Path) -> None:
    with pytest.raises(ServiceError, match="run `pjs services up` first"):
        load_credentials(tmp_path)
    with pytest.raises(ServiceError, match="pjs services up"):
        Settings(state_dir=tmp_path).resolved_database_url()


def test_every_kafka_client_gets_sasl_and_tls_options_from_the_connection() -> None:
    plain = KafkaConnection("broker:9092").client_options()
    assert plain == {"bootstrap_servers": "broker:9092", "security_protocol": "PLAINTEXT"}

    secured = KafkaConnection("broker:9093", "SASL_SSL", "SCRAM-SHA-256", "svc", "pw").client_options()
    assert (secured["sasl_mechanism"], secured["sasl_plain_username"], secured["sasl_plain_password"]) == (
        "SCRAM-SHA-256",
        "svc",
        "pw",
    )
    assert isinstance(secured["ssl_context"], ssl.SSLContext)


def test_a_postgres_data_dir_from_before_passwords_is_refused_with_the_way_out(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "PG_VERSION").write_text("18\n")
    (data_dir / "pg_hba.conf").write_text("# comment with trust\nhost all all 127.0.0.1/32 trust\n")
    with pytest.raises(ServiceError, match=r"without passwords.*pjs services reset"):
        refuse_unauthenticated_cluster(data_dir, tmp_path / "credentials.json")

    (data_dir / "pg_hba.conf").write_text("host all all 127.0.0.1/32 scram-sha-256\n")
    with pytest.raises(ServiceError, match=r"passwords .* are missing.*pjs services reset"):
        refuse_unauthenticated_cluster(data_dir, tmp_path / "credentials.json")
    ensure_credentials(tmp_path)
    refuse_unauthenticated_cluster(data_dir, tmp_path / "credentials.json")  # ours: no complaint


def test_kafka_storage_formatted_without_sasl_users_is_refused_with_the_way_out(tmp_path: Path) -> None:
    kafka = LocalKafka(tmp_path, 24001, 24002)
    kafka.data_dir.mkdir(parents=True)
    (kafka.data_dir / "meta.properties").write_text("cluster.id=old\n")
    with pytest.raises(ServiceError, match=r"without SASL users.*pjs services reset"):
        kafka.up()
