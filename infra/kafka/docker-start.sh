#!/bin/bash
# docker-compose's Kafka: a single KRaft node whose client listeners need SASL/SCRAM-SHA-256, like the
# broker `pjs services up` runs (src/pjs/services/kafka.py). The service's user is added when the storage
# is formatted, the first time only.
set -euo pipefail
: "${PJS_KAFKA_USERNAME:?}" "${PJS_KAFKA_PASSWORD:?}"
jaas="org.apache.kafka.common.security.scram.ScramLoginModule required username=\"$PJS_KAFKA_USERNAME\" password=\"$PJS_KAFKA_PASSWORD\";"
mkdir -p /tmp/pjs/data /tmp/pjs
umask 077
cat > /tmp/pjs/server.properties <<PROPERTIES
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@kafka:9093
listeners=SASL_PLAINTEXT://:9092,CONTROLLER://:9093,HOST://:29092
advertised.listeners=SASL_PLAINTEXT://kafka:9092,HOST://127.0.0.1:29092
controller.listener.names=CONTROLLER
listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT,HOST:SASL_PLAINTEXT
inter.broker.listener.name=SASL_PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-256
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-256
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=$jaas
listener.name.host.scram-sha-256.sasl.jaas.config=$jaas
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
        --add-scram "SCRAM-SHA-256=[name=$PJS_KAFKA_USERNAME,password=$PJS_KAFKA_PASSWORD]"
fi
exec /opt/kafka/bin/kafka-server-start.sh /tmp/pjs/server.properties
