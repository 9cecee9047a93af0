#!/bin/bash
# docker-compose's kafka-access service: once the broker answers, lets the read-only subscriber user read the
# run-events topic in consumer groups named subscriber.*, as `pjs services up` does for the local broker
# (src/pjs/services/kafka_access.py). Adding an ACL that exists changes nothing, so every `up` may run it.
set -euo pipefail
: "${PJS_KAFKA_USERNAME:?}" "${PJS_KAFKA_PASSWORD:?}" "${PJS_KAFKA_SUBSCRIBER_USERNAME:?}"
topic="${PJS_RUN_EVENTS_TOPIC:-pjs.run-events}"
umask 077
mkdir -p /tmp/pjs
cat > /tmp/pjs/admin.properties <<PROPERTIES
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-256
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$PJS_KAFKA_USERNAME" password="$PJS_KAFKA_PASSWORD";
PROPERTIES
acls=(/opt/kafka/bin/kafka-acls.sh --bootstrap-server kafka:9092 --command-config /tmp/pjs/admin.properties
    --add --allow-principal "User:$PJS_KAFKA_SUBSCRIBER_USERNAME" --operation Read)
"${acls[@]}" --operation Describe --topic "$topic"
"${acls[@]}" --group subscriber. --resource-pattern-type prefixed
