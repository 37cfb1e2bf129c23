#!/bin/sh
# Podman for docker-compose.yml on a Debian machine with no Docker engine and no image registry: installs
# Podman and podman-compose from Debian, configures them (runc with cgroupfs, no container rlimits), makes
# the base image localhost/debian:bookworm with debootstrap from the mirror apt uses, then builds every
# image docker-compose.yml names from the Containerfiles in deploy/ (deploy/podman/build-images.sh).
# Idempotent: each step is skipped when done already. Run as root from the repository: `make compose-images`.
#
#   REKAP_BASE_IMAGE   the base of every image (default here localhost/debian:bookworm; with Docker and a
#                      registry, build-images.sh's default is debian:bookworm)
#   SKIP_BUILD=1       set Podman up and make the base, build nothing
set -eu
cd "$(dirname "$0")/../.."
BASE="${REKAP_BASE_IMAGE:-localhost/debian:bookworm}"

if ! command -v podman >/dev/null || ! command -v podman-compose >/dev/null || ! command -v runc >/dev/null \
        || ! command -v debootstrap >/dev/null; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q podman podman-compose runc debootstrap
fi

# crun refuses this kernel's hybrid cgroups: runc with cgroupfs. Setting container rlimits is not permitted.
CONF=/etc/containers/containers.conf
if ! grep -q '^runtime = "runc"' "$CONF" 2>/dev/null; then
    mkdir -p /etc/containers
    cat > "$CONF" <<'CONF'
# Written by Rekap's deploy/podman/setup.sh.
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
fi

if [ "$BASE" = localhost/debian:bookworm ] && ! podman image exists "$BASE"; then
    MIRROR=$(grep -m1 -oP '^URIs: \K\S+' /etc/apt/sources.list.d/debian.sources 2>/dev/null || echo http://deb.debian.org/debian)
    ROOTFS=$(mktemp -d /var/tmp/rekap-rootfs.XXXXXX)
    debootstrap --variant=minbase bookworm "$ROOTFS" "$MIRROR"
    tar -C "$ROOTFS" -c . | podman import - "$BASE"
    rm -rf "$ROOTFS"
fi
podman run --rm "$BASE" cat /etc/debian_version >/dev/null

[ -n "${SKIP_BUILD:-}" ] || REKAP_BASE_IMAGE="$BASE" sh deploy/podman/build-images.sh
