#!/bin/bash
# docker-compose's Kafka: a single KRaft node whose client listeners need SASL/SCRAM-SHA-256, like the
# broker `pjs services up` runs (src/pjs/services/kafka_config.py): the controller listener takes SASL/PLAIN,
# nothing is allowed without an ACL, and the service's user is the super user. The service's user and the
# read-only subscriber user are added when the storage is formatted, the first time only; the subscriber's
# ACLs are added by docker-access.sh (the kafka-access service) once the broker answers.
set -euo pipefail
: "${PJS_KAFKA_USERNAME:?}" "${PJS_KAFKA_PASSWORD:?}" "${PJS_KAFKA_SUBSCRIBER_USERNAME:?}"
: "${PJS_KAFKA_SUBSCRIBER_PASSWORD:?}"
jaas="org.apache.kafka.common.security.scram.ScramLoginModule required username=\"$PJS_KAFKA_USERNAME\" password=\"$PJS_KAFKA_PASSWORD\";"
controller_jaas="org.apache.kafka.common.security.plain.PlainLoginModule required username=\"$PJS_KAFKA_USERNAME\" password=\"$PJS_KAFKA_PASSWORD\" user_$PJS_KAFKA_USERNAME=\"$PJS_KAFKA_PASSWORD\";"
mkdir -p /tmp/pjs/data /tmp/pjs
umask 077
cat > /tmp/pjs/server.properties <<PROPERTIES
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@kafka:9093
listeners=SASL_PLAINTEXT://:9092,CONTROLLER://:9093,HOST://:29092
advertised.listeners=SASL_PLAINTEXT://kafka:9092,HOST://127.0.0.1:29092
controller.listener.names=CONTROLLER
listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT,HOST:SASL_PLAINTEXT
inter.broker.listener.name=SASL_PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-256
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-256
listener.name.sasl_plaintext.sasl.enabled.mechanisms=SCRAM-SHA-256
listener.name.host.sasl.enabled.mechanisms=SCRAM-SHA-256
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=$jaas
listener.name.host.scram-sha-256.sasl.jaas.config=$jaas
listener.name.controller.sasl.enabled.mechanisms=PLAIN
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.plain.sasl.jaas.config=$controller_jaas
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:$PJS_KAFKA_USERNAME
allow.everyone.if.no.acl.found=false
log.dirs=/tmp/pjs/data
num.partitions=12
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
PROPERTIES
cat > /tmp/pjs/client.properties <<PROPERTIES
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-256
sasl.jaas.config=$jaas
PROPERTIES
if [ ! -f /tmp/pjs/data/meta.properties ]; then
    /opt/kafka/bin/kafka-storage.sh format -t "$(/opt/kafka/bin/kafka-storage.sh random-uuid)" \
        -c /tmp/pjs/server.properties \
        --add-scram "SCRAM-SHA-256=[name=$PJS_KAFKA_USERNAME,password=$PJS_KAFKA_PASSWORD]" \
        --add-scram "SCRAM-SHA-256=[name=$PJS_KAFKA_SUBSCRIBER_USERNAME,password=$PJS_KAFKA_SUBSCRIBER_PASSWORD]"
fi
exec /opt/kafka/bin/kafka-server-start.sh /tmp/pjs/server.properties
