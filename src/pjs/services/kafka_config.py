"""The local broker's server.properties: its loopback addresses, then the settings it shares with
docker-compose's broker (`kafka_broker.properties`: who may connect on which listener, who may do what)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from pjs.services.credentials import KAFKA_USER, LocalCredentials

HOST = "127.0.0.1"
SHARED_SETTINGS = files("pjs.services").joinpath("kafka_broker.properties")
"""Read by infra/kafka/docker-start.sh too (docker-compose.yml mounts it)."""

LOCAL_ADDRESSES = """\
# Written by `pjs services up`: a single-node KRaft broker and controller on loopback.
controller.quorum.voters=1@{host}:{controller_port}
listeners=SASL_PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}
advertised.listeners=SASL_PLAINTEXT://{host}:{port}
log.dirs={data_dir}
"""


def server_properties(port: int, controller_port: int, data_dir: Path, credentials: LocalCredentials) -> str:
    """The broker's configuration text; it holds the service user's password (the file is 0600)."""
    addresses = LOCAL_ADDRESSES.format(
        host=HOST, port=port, controller_port=controller_port, data_dir=data_dir
    )
    return addresses + shared_settings(KAFKA_USER, credentials.kafka_password)


def shared_settings(user: str, password: str) -> str:
    """`kafka_broker.properties` with the service's user and password written in."""
    return SHARED_SETTINGS.read_text().replace("@USER@", user).replace("@PASSWORD@", password)
