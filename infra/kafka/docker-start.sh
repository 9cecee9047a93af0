#!/bin/bash
# docker-compose's Kafka: a single KRaft node with the local broker's own settings (the file
# src/pjs/services/kafka_broker.properties, which `pjs services up` writes into its server.properties too):
# client listeners that need SASL/SCRAM, a controller listener that takes SASL/PLAIN, nothing allowed
# without an ACL, the service's user the super user. Only the addresses are this script's own, and a HOST
# listener for clients outside Docker that gets every setting of the SASL_PLAINTEXT one. The service's user
# is added when the storage is formatted, the first time only; the read-only subscriber user and its ACLs
# are added by docker-access.sh (the kafka-access service) once the broker answers.
# PJS_KAFKA_SETTINGS, PJS_KAFKA_CONFIG_DIR and PJS_KAFKA_HOME say where the shared settings are read, the
# configuration written, and Kafka installed (defaults: as docker-compose.yml and the image have them).
set -euo pipefail
: "${PJS_KAFKA_USERNAME:?}" "${PJS_KAFKA_PASSWORD:?}"
settings="${PJS_KAFKA_SETTINGS:-/pjs/kafka_broker.properties}"
config="${PJS_KAFKA_CONFIG_DIR:-/tmp/pjs}"
kafka="${PJS_KAFKA_HOME:-/opt/kafka}"

# The shared settings with the service's user and password written in (quoted: taken as they are), and the
# HOST listener given what the SASL_PLAINTEXT listener has.
shared_settings() {
    local line
    while IFS= read -r line || [[ -n $line ]]; do
        line=${line//@USER@/"$PJS_KAFKA_USERNAME"}
        line=${line//@PASSWORD@/"$PJS_KAFKA_PASSWORD"}
        if [[ $line == listener.security.protocol.map=* ]]; then
            line+=",HOST:SASL_PLAINTEXT"
        fi
        printf '%s\n' "$line"
        if [[ $line == listener.name.sasl_plaintext.* ]]; then
            printf 'listener.name.host.%s\n' "${line#listener.name.sasl_plaintext.}"
        fi
    done < "$settings"
}

# A setting's value in the shared settings, with the user and password written in.
setting() {
    local line
    shared_settings | while IFS= read -r line; do
        if [[ $line == "$1="* ]]; then
            printf '%s\n' "${line#*=}"
        fi
    done
}

# An argument as a line of a Java argument file (`java @file`): quoted, its backslashes and quotes escaped.
java_argument() {
    local escaped=${1//\\/\\\\}
    printf '"%s"\n' "${escaped//\"/\\\"}"
}

mechanism="$(setting sasl.enabled.mechanisms)"
jaas="$(setting "listener.name.sasl_plaintext.${mechanism,,}.sasl.jaas.config")"
mkdir -p "$config/data"
umask 077
{
    printf '%s\n' "controller.quorum.voters=1@kafka:9093" \
        "listeners=SASL_PLAINTEXT://:9092,CONTROLLER://:9093,HOST://:29092" \
        "advertised.listeners=SASL_PLAINTEXT://kafka:9092,HOST://127.0.0.1:29092" \
        "log.dirs=$config/data"
    shared_settings
} > "$config/server.properties"
printf '%s\n' "security.protocol=SASL_PLAINTEXT" "sasl.mechanism=$mechanism" "sasl.jaas.config=$jaas" \
    > "$config/client.properties"
if [ ! -f "$config/data/meta.properties" ]; then
    # The broker logs in to itself as the service's user, so that user's SCRAM credential must be in the
    # metadata before it starts, and only the storage tool's format puts it there, from its arguments. They
    # go in a 0600 file that Java reads (`java @file`: kafka-run-class.sh hands it on after the classpath),
    # so no command line that `ps` shows, in the container or on the host, carries the password.
    arguments="$config/format.arguments"
    trap 'rm -f "$arguments"' EXIT
    cluster_id="$("$kafka/bin/kafka-storage.sh" random-uuid)"
    for argument in kafka.tools.StorageTool format -t "$cluster_id" -c "$config/server.properties" \
        --add-scram "$mechanism=[name=$PJS_KAFKA_USERNAME,password=$PJS_KAFKA_PASSWORD]"; do
        java_argument "$argument"
    done > "$arguments"
    "$kafka/bin/kafka-run-class.sh" "@$arguments"
    rm -f "$arguments"
    trap - EXIT
fi
exec "$kafka/bin/kafka-server-start.sh" "$config/server.properties"
