#!/bin/bash
# docker-compose's kafka-access service: once the broker answers, creates (or re-passwords) the read-only
# subscriber user and lets it read the run-events topic in consumer groups named subscriber.*, as
# `pjs services up` does for the local broker (src/pjs/services/kafka_access.py). Setting a user's password
# again and adding an ACL that exists change nothing, so every `up` may run it; a password changed in .env
# is taken at the next `up`. Passwords go in 0600 files, never on a command line that `ps` shows.
# PJS_KAFKA_CONFIG_DIR and PJS_KAFKA_HOME say where those files are written and Kafka installed (defaults:
# as the image has them).
set -euo pipefail
: "${PJS_KAFKA_USERNAME:?}" "${PJS_KAFKA_PASSWORD:?}" "${PJS_KAFKA_SUBSCRIBER_USERNAME:?}"
: "${PJS_KAFKA_SUBSCRIBER_PASSWORD:?}"
topic="${PJS_RUN_EVENTS_TOPIC:-pjs.run-events}"
config="${PJS_KAFKA_CONFIG_DIR:-/tmp/pjs}"
kafka="${PJS_KAFKA_HOME:-/opt/kafka}"
umask 077
mkdir -p "$config"
cat > "$config/admin.properties" <<PROPERTIES
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-256
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$PJS_KAFKA_USERNAME" password="$PJS_KAFKA_PASSWORD";
PROPERTIES
admin=(--bootstrap-server kafka:9092 --command-config "$config/admin.properties")

# The subscriber's SCRAM credential, read as a properties file: a backslash in the password is escaped.
scram="$config/subscriber-scram.properties"
printf 'SCRAM-SHA-256=password=%s\n' "${PJS_KAFKA_SUBSCRIBER_PASSWORD//\\/\\\\}" > "$scram"
"$kafka/bin/kafka-configs.sh" "${admin[@]}" --alter --entity-type users \
    --entity-name "$PJS_KAFKA_SUBSCRIBER_USERNAME" --add-config-file "$scram"
rm -f "$scram"

acls=("$kafka/bin/kafka-acls.sh" "${admin[@]}"
    --add --allow-principal "User:$PJS_KAFKA_SUBSCRIBER_USERNAME" --operation Read)
"${acls[@]}" --operation Describe --topic "$topic"
"${acls[@]}" --group subscriber. --resource-pattern-type prefixed
