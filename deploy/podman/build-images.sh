#!/bin/sh
# Builds every image docker-compose.yml names, one after the other (they share a 2-core machine), each on
# REKAP_BASE_IMAGE (default debian:bookworm; localhost/debian:bookworm where no registry is reachable,
# see setup.sh). Nothing is pulled from a registry when the base is local: apt, PyPI and Maven Central only.
# Prints each image's build time and size. ONLY="rekap rekap-kafka" builds those alone; NO_CACHE=1 builds
# every step again (to measure).
# A machine whose HTTPS goes through an intercepting proxy trusts its CA in /usr/local/share/ca-certificates:
# that folder (CA_DIR) is mounted read-only into every build step, and apt's ca-certificates then adds its
# certificates to the image's bundle (pip, Java and Maven trust them too). Set CA_DIR= to mount nothing.
set -eu
cd "$(dirname "$0")/../.."
BASE="${REKAP_BASE_IMAGE:-debian:bookworm}"
ENGINE="${CONTAINER_ENGINE:-podman}"
KAFKA_VERSION=$(sed -n 's/^KAFKA_VERSION = "\(.*\)"$/\1/p' services/rekap/config.py)
[ -n "$KAFKA_VERSION" ] || { echo "build-images.sh: no KAFKA_VERSION in services/rekap/config.py" >&2; exit 1; }

# name, tag, context, Containerfile, extra build argument
IMAGES="rekap compose . Dockerfile -
rekap-kafka $KAFKA_VERSION deploy/kafka deploy/kafka/Containerfile KAFKA_VERSION=$KAFKA_VERSION
rekap-postgres 16 deploy/postgres deploy/postgres/Containerfile -
rekap-prometheus bookworm deploy/monitoring deploy/monitoring/Containerfile PACKAGE=prometheus
rekap-alertmanager bookworm deploy/monitoring deploy/monitoring/Containerfile PACKAGE=prometheus-alertmanager
rekap-postgres-exporter bookworm deploy/monitoring deploy/monitoring/Containerfile PACKAGE=prometheus-postgres-exporter
rekap-nginx bookworm deploy/nginx deploy/nginx/Containerfile -"

echo "$IMAGES" | while read -r name tag context file arg; do
    case " ${ONLY:-$name} " in *" $name "*) ;; *) continue ;; esac
    set -- --build-arg "BASE=$BASE"
    [ -z "${NO_CACHE:-}" ] || set -- "$@" --no-cache
    CA_DIR="${CA_DIR-/usr/local/share/ca-certificates}"
    if [ -n "$CA_DIR" ] && ls "$CA_DIR"/*.crt >/dev/null 2>&1; then
        set -- "$@" --volume "$CA_DIR:/usr/local/share/ca-certificates:ro"
    fi
    [ "$arg" = - ] || set -- "$@" --build-arg "$arg"
    started=$(date +%s)
    "$ENGINE" build "$@" -t "localhost/$name:$tag" -f "$file" "$context" >"/tmp/rekap-build-$name.log" 2>&1 \
        || { tail -30 "/tmp/rekap-build-$name.log" >&2; echo "build-images.sh: $name failed (/tmp/rekap-build-$name.log)" >&2; exit 1; }
    size=$("$ENGINE" image inspect --format '{{.Size}}' "localhost/$name:$tag")
    echo "localhost/$name:$tag  built in $(( $(date +%s) - started )) s, $(( size / 1000000 )) MB"
done
