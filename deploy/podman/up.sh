#!/bin/sh
# Starts docker-compose.yml with podman-compose in the order its depends_on conditions give, which Debian
# bookworm's podman-compose (1.0.3) does not wait for, and whose health checks Podman only runs on demand
# here (no systemd): the brokers and PostgreSQL, until each answers; `init`, until it has succeeded; then
# the rest. Run from anywhere; the project is `rekap` (containers rekap_<service>_1).
# podman-compose 1.0.3 starts a service's dependencies even with --no-deps: the last stage runs `init`
# once more (it is idempotent) and finds the servers running.
#
#   deploy/podman/up.sh [servers|init|rest|all]   (default all; each stage assumes the ones before it)
#   COMPOSE_FILES="docker-compose.yml deploy/docker-compose.ports.yml" also publishes Kafka and PostgreSQL.
set -eu
cd "$(dirname "$0")/../.."
STAGE="${1:-all}"
set --
for file in ${COMPOSE_FILES:-docker-compose.yml}; do set -- "$@" -f "$file"; done
LOG=$(mktemp /tmp/rekap-up.XXXXXX)
# podman-compose 1.0.3 also tries to create the containers --no-deps leaves out, and says so: kept in $LOG.
compose() { podman-compose -p rekap "$@" >>"$LOG" 2>&1 || { tail -40 "$LOG" >&2; exit 1; }; }

healthy() {  # container, seconds
    waited=0
    until podman healthcheck run "$1" >/dev/null 2>&1; do
        waited=$((waited + 2))
        [ "$waited" -le "$2" ] || { echo "up.sh: $1 is not healthy after $2 s" >&2; podman logs --tail 30 "$1" >&2; exit 1; }
        sleep 2
    done
    echo "up.sh: $1 healthy"
}

if [ "$STAGE" = servers ] || [ "$STAGE" = all ]; then
    compose "$@" up -d --no-deps kafka-1 kafka-2 kafka-3 postgres-1 postgres-2
    for c in postgres-1 postgres-2 kafka-1 kafka-2 kafka-3; do healthy "rekap_${c}_1" 240; done
fi
if [ "$STAGE" = init ] || [ "$STAGE" = all ]; then
    podman rm -f rekap_init_1 >/dev/null 2>&1 || true
    compose "$@" up -d --no-deps init
    code=$(podman wait rekap_init_1)
    [ "$code" = 0 ] || { podman logs rekap_init_1 >&2; echo "up.sh: init failed ($code)" >&2; exit 1; }
    echo "up.sh: init done"
fi
if [ "$STAGE" = rest ] || [ "$STAGE" = all ]; then
    compose "$@" up -d --no-deps tabulator photos site-builder site prometheus alertmanager postgres-exporter
    for c in tabulator photos site prometheus alertmanager postgres-exporter; do healthy "rekap_${c}_1" 120; done
fi
rm -f "$LOG"
