#!/bin/sh
# Fetches the Prometheus JMX exporter's Java agent (the broker's metrics, see jmx-exporter.yml) from Maven
# Central with Maven, into FOLDER, and checks it against the SHA-256 pinned here; it is then FOLDER/AGENT_JAR.
# Does nothing when the right file is there already. docker-compose.yml runs it once in a Maven container
# (the service kafka-metrics-agent); tests/integration/test_prometheus.py runs it with the local Maven.
set -eu
VERSION=1.0.1
SHA256=7d61f737fd661610ccc14aea79764faa1ea94a340cbc8f0029b3d2edea3d80c1
AGENT_JAR=jmx_prometheus_javaagent.jar
OUT="${1:?usage: fetch-metrics-agent.sh FOLDER}"
FETCHED="$OUT/jmx_prometheus_javaagent-$VERSION.jar"

if ! echo "$SHA256  $FETCHED" | sha256sum -c - >/dev/null 2>&1; then
    mkdir -p "$OUT"
    rm -f "$FETCHED"
    mvn -q -B org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
        "-Dartifact=io.prometheus.jmx:jmx_prometheus_javaagent:$VERSION" "-DoutputDirectory=$OUT"
    echo "$SHA256  $FETCHED" | sha256sum -c - >/dev/null || { echo "fetch-metrics-agent.sh: $FETCHED is not the jar pinned here" >&2; exit 1; }
fi
cp "$FETCHED" "$OUT/$AGENT_JAR.partial"
mv "$OUT/$AGENT_JAR.partial" "$OUT/$AGENT_JAR"
echo "fetch-metrics-agent.sh: $OUT/$AGENT_JAR is jmx_prometheus_javaagent $VERSION"
