#!/bin/sh
# A broker of docker-compose.yml: a combined broker + controller (KRaft), every connection authenticated,
# every request authorised by ACLs. The same configuration `rekap stack up` gives the local broker
# (services/rekap/devstack/kafka.py); tests/integration/test_compose_broker.py runs this script against
# the local stack's jars.
#
#   one node    (KAFKA_CONTROLLER_VOTERS unset) node 1, its own controller quorum (formatted --standalone)
#   a cluster   KAFKA_NODE_ID and the static quorum KAFKA_CONTROLLER_VOTERS (`1@kafka-1:9093,2@kafka-2:9093,
#               3@kafka-3:9093`), the same on every node; KAFKA_REPLICATION_FACTOR (3) for the internal topics
#               and new ones that ask for the default, KAFKA_MIN_INSYNC_REPLICAS (2) for every topic.
#               Unclean leader election stays off: a replica out of the ISR never becomes leader.
#
#   clients     SASL/SCRAM-SHA-512 on INTERNAL (other containers) and EXTERNAL (the host, if published)
#   controller  SASL/PLAIN, one static user (the controller checks it before any metadata exists)
#   users       `broker` and `admin` (super users) are written at format time; the tabulator's and the
#               terminals' are set by `rekap kafka user set` (the compose `init` service)
#
# Needs KAFKA_BROKER_PASSWORD and KAFKA_ADMIN_PASSWORD; KAFKA_HOME (default /opt/kafka), KAFKA_DATA
# (default /var/lib/kafka/data), KAFKA_CLUSTER_ID, KAFKA_ADVERTISED_HOST, KAFKA_EXTERNAL_HOST (default
# localhost: where the host reaches the EXTERNAL listener), KAFKA_INTERNAL_PORT, KAFKA_EXTERNAL_PORT,
# KAFKA_CONTROLLER_PORT and KAFKA_BIND (default 0.0.0.0) may be set.
# TLS on the EXTERNAL listener (the one terminals reach over other networks): KAFKA_TLS_KEYSTORE, a PEM
# file with the broker's private key (PKCS#8, encrypted with KAFKA_TLS_KEY_PASSWORD in a scheme Java reads:
# `openssl pkcs8 -topk8 -v1 PBE-SHA1-3DES`) and its certificate chain; clients then connect with SASL_SSL
# (Rekap: REKAP_KAFKA_CA_FILE). The internal listener stays SASL over plaintext (the compose network).
# Metrics for Prometheus: KAFKA_METRICS_AGENT, the path of the Prometheus JMX exporter's Java agent
# (io.prometheus.jmx:jmx_prometheus_javaagent); it then serves the MBeans deploy/kafka/jmx-exporter.yml
# names (KAFKA_METRICS_CONFIG) over plain HTTP on KAFKA_BIND:KAFKA_METRICS_PORT (default 9404), without
# authentication: keep that port on the compose network. Unset, the broker runs without it.
set -eu
: "${KAFKA_BROKER_PASSWORD:?set KAFKA_BROKER_PASSWORD}"
: "${KAFKA_ADMIN_PASSWORD:?set KAFKA_ADMIN_PASSWORD}"
KAFKA_HOME="${KAFKA_HOME:-/opt/kafka}"
DATA="${KAFKA_DATA:-/var/lib/kafka/data}"
CLUSTER_ID="${KAFKA_CLUSTER_ID:-XcaTgW_BX4cHKVnOfAPcbw}"
HOST="${KAFKA_ADVERTISED_HOST:-kafka}"
BIND="${KAFKA_BIND:-0.0.0.0}"
INTERNAL="${KAFKA_INTERNAL_PORT:-19092}"
EXTERNAL="${KAFKA_EXTERNAL_PORT:-9092}"
CONTROLLER="${KAFKA_CONTROLLER_PORT:-9093}"
CONFIG="${KAFKA_CONFIG:-$DATA/../server.properties}"
EXTERNAL_HOST="${KAFKA_EXTERNAL_HOST:-localhost}"
NODE_ID="${KAFKA_NODE_ID:-1}"
REPLICATION="${KAFKA_REPLICATION_FACTOR:-1}"
MIN_ISR="${KAFKA_MIN_INSYNC_REPLICAS:-1}"
if [ -n "${KAFKA_CONTROLLER_VOTERS:-}" ]; then
    QUORUM="controller.quorum.voters=$KAFKA_CONTROLLER_VOTERS"
    CONTROLLER_LISTENER="CONTROLLER://$BIND:$CONTROLLER"
    CONTROLLER_ADVERTISED="CONTROLLER://$HOST:$CONTROLLER"
    FORMAT_QUORUM=""  # the static quorum is in the configuration
else
    QUORUM="controller.quorum.bootstrap.servers=127.0.0.1:$CONTROLLER"
    CONTROLLER_LISTENER="CONTROLLER://127.0.0.1:$CONTROLLER"
    CONTROLLER_ADVERTISED="$CONTROLLER_LISTENER"
    FORMAT_QUORUM="--standalone"
fi
umask 077  # the configuration holds the broker's password
EXTERNAL_PROTOCOL=SASL_PLAINTEXT
TLS=""
if [ -n "${KAFKA_TLS_KEYSTORE:-}" ]; then
    : "${KAFKA_TLS_KEY_PASSWORD:?set KAFKA_TLS_KEY_PASSWORD, the password of the key in KAFKA_TLS_KEYSTORE}"
    EXTERNAL_PROTOCOL=SASL_SSL
    TLS="listener.name.external.ssl.keystore.type=PEM
listener.name.external.ssl.keystore.location=$KAFKA_TLS_KEYSTORE
listener.name.external.ssl.key.password=$KAFKA_TLS_KEY_PASSWORD"
fi

mkdir -p "$DATA"
cat > "$CONFIG" <<PROPERTIES
process.roles=broker,controller
node.id=$NODE_ID
$QUORUM
listeners=INTERNAL://$BIND:$INTERNAL,EXTERNAL://$BIND:$EXTERNAL,$CONTROLLER_LISTENER
advertised.listeners=INTERNAL://$HOST:$INTERNAL,EXTERNAL://$EXTERNAL_HOST:$EXTERNAL,$CONTROLLER_ADVERTISED
inter.broker.listener.name=INTERNAL
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,INTERNAL:SASL_PLAINTEXT,EXTERNAL:$EXTERNAL_PROTOCOL
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.internal.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="$KAFKA_BROKER_PASSWORD";
listener.name.external.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="broker" password="$KAFKA_BROKER_PASSWORD" user_broker="$KAFKA_BROKER_PASSWORD";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:broker;User:admin
allow.everyone.if.no.acl.found=false
log.dirs=$DATA
log.retention.ms=-1
log.retention.bytes=-1
auto.create.topics.enable=false
default.replication.factor=$REPLICATION
min.insync.replicas=$MIN_ISR
unclean.leader.election.enable=false
offsets.topic.replication.factor=$REPLICATION
transaction.state.log.replication.factor=$REPLICATION
transaction.state.log.min.isr=$MIN_ISR
share.coordinator.state.topic.replication.factor=$REPLICATION
share.coordinator.state.topic.min.isr=$MIN_ISR
group.initial.rebalance.delay.ms=0
$TLS
PROPERTIES

CLASSPATH="$KAFKA_HOME/libs/*"
export CLASSPATH
if [ ! -f "$DATA/meta.properties" ]; then
    # The passwords reach Java in an argument file (mode 600, removed at once), never on a command line
    # that `ps` shows while the tool runs. Compose's passwords are letters, digits, - and _ (see its header).
    ARGS="$(umask 077 && mktemp)"
    printf '%s\n' kafka.tools.StorageTool format $FORMAT_QUORUM -t "$CLUSTER_ID" -c "$CONFIG" \
        --add-scram "SCRAM-SHA-512=[name=broker,password=$KAFKA_BROKER_PASSWORD]" \
        --add-scram "SCRAM-SHA-512=[name=admin,password=$KAFKA_ADMIN_PASSWORD]" > "$ARGS"
    java "@$ARGS" || { rm -f "$ARGS"; exit 1; }
    rm -f "$ARGS"
fi
set --
if [ -f "$KAFKA_HOME/config/log4j2.yaml" ]; then
    set -- "$@" "-Dlog4j2.configurationFile=$KAFKA_HOME/config/log4j2.yaml"
elif [ -f "$KAFKA_HOME/config/log4j2.properties" ]; then  # the image of deploy/kafka/Containerfile
    set -- "$@" "-Dlog4j2.configurationFile=$KAFKA_HOME/config/log4j2.properties"
fi
if [ -n "${KAFKA_METRICS_AGENT:-}" ]; then
    [ -f "$KAFKA_METRICS_AGENT" ] || { echo "start.sh: no Java agent at KAFKA_METRICS_AGENT=$KAFKA_METRICS_AGENT" >&2; exit 1; }
    METRICS_CONFIG="${KAFKA_METRICS_CONFIG:-$(dirname "$0")/jmx-exporter.yml}"
    set -- "$@" "-javaagent:$KAFKA_METRICS_AGENT=$BIND:${KAFKA_METRICS_PORT:-9404}:$METRICS_CONFIG"
fi
# shellcheck disable=SC2086 # the heap options are several words
exec java ${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m} "$@" kafka.Kafka "$CONFIG"
