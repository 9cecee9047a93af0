"""The local broker's server.properties: who may connect on which listener, and who may do what."""

from __future__ import annotations

from pathlib import Path

from pjs.services.credentials import KAFKA_SASL_MECHANISM, KAFKA_USER, LocalCredentials

HOST = "127.0.0.1"
SERVER_PROPERTIES = """\
# Written by `pjs services up`: a single-node KRaft broker and controller on loopback.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@{host}:{controller_port}
listeners=SASL_PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}
advertised.listeners=SASL_PLAINTEXT://{host}:{port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT
# Clients authenticate with SASL/SCRAM; the broker talks to itself on that listener as the service's user.
inter.broker.listener.name=SASL_PLAINTEXT
sasl.enabled.mechanisms={mechanism}
sasl.mechanism.inter.broker.protocol={mechanism}
listener.name.sasl_plaintext.sasl.enabled.mechanisms={mechanism}
listener.name.sasl_plaintext.{mechanism_lower}.sasl.jaas.config=\
  org.apache.kafka.common.security.scram.ScramLoginModule required username="{user}" password="{password}";
# The node reaches its own controller with SASL/PLAIN, its one user declared here: Kafka does not support
# SCRAM on a KRaft controller listener. Unauthenticated, anyone on the machine could send it admin requests.
listener.name.controller.sasl.enabled.mechanisms=PLAIN
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.plain.sasl.jaas.config=\
  org.apache.kafka.common.security.plain.PlainLoginModule required username="{user}" password="{password}" \
  user_{user}="{password}";
# Nothing is allowed that no ACL allows, except to the service's own user (also the node's own identity).
# The read-only subscriber user gets its ACLs from `pjs services up` (pjs/services/kafka_access.py).
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:{user}
allow.everyone.if.no.acl.found=false
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


def server_properties(port: int, controller_port: int, data_dir: Path, credentials: LocalCredentials) -> str:
    """The broker's configuration text; it holds the service user's password (the file is 0600)."""
    return SERVER_PROPERTIES.format(
        host=HOST,
        port=port,
        controller_port=controller_port,
        data_dir=data_dir,
        mechanism=KAFKA_SASL_MECHANISM,
        mechanism_lower=KAFKA_SASL_MECHANISM.lower(),
        user=KAFKA_USER,
        password=credentials.kafka_password,
    )
