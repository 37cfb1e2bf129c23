#!/bin/sh
# PostgreSQL of docker-compose.yml: a primary, or a streaming standby of one, made at its first start.
#
#   primary   (POSTGRES_STANDBY_OF unset) initdb at the first start, the superuser `postgres` with
#             POSTGRES_PASSWORD and a login `replicator` with REPLICATION only (POSTGRES_REPLICATION_PASSWORD);
#             synchronous_standby_names = POSTGRES_SYNCHRONOUS_STANDBYS (e.g. `FIRST 1 (postgres-2)`), so a
#             commit returns once the standby has flushed it.
#   standby   (POSTGRES_STANDBY_OF=postgres-1) at the first start, pg_basebackup from that primary as
#             `replicator` (retried until the primary answers); it then streams from it, read-only, under
#             the application_name POSTGRES_NAME (the name synchronous_standby_names lists).
# Failover: deploy/postgres/promote.sh in the standby. Every connection authenticates with SCRAM.
set -eu
: "${POSTGRES_REPLICATION_PASSWORD:?set POSTGRES_REPLICATION_PASSWORD}"
PGDATA="${PGDATA:-/var/lib/postgresql/data/pgdata}"
NAME="${POSTGRES_NAME:-$(hostname)}"
export PGDATA
umask 077

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    rm -rf "$PGDATA" && mkdir -p "$PGDATA"
    if [ -n "${POSTGRES_STANDBY_OF:-}" ]; then
        trap 'exit 143' TERM INT  # the shell is PID 1: without a trap it would ignore compose's SIGTERM
        until PGPASSWORD="$POSTGRES_REPLICATION_PASSWORD" pg_basebackup -h "$POSTGRES_STANDBY_OF" -p 5432 \
                -U replicator -D "$PGDATA" -X stream --checkpoint=fast; do
            echo "start.sh: no base backup from $POSTGRES_STANDBY_OF yet, again in 3 s" >&2
            rm -rf "$PGDATA" && mkdir -p "$PGDATA" && sleep 3
        done
        touch "$PGDATA/standby.signal"
        # The standby's own settings, after (and so above) the primary's postgresql.auto.conf.
        cat >> "$PGDATA/postgresql.auto.conf" <<CONF
primary_conninfo = 'host=$POSTGRES_STANDBY_OF port=5432 user=replicator password=$POSTGRES_REPLICATION_PASSWORD application_name=$NAME'
CONF
    else
        : "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
        PWFILE=$(mktemp)
        printf '%s\n' "$POSTGRES_PASSWORD" > "$PWFILE"
        initdb -D "$PGDATA" -U postgres --pwfile="$PWFILE" --auth-local=peer --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 \
            || { rm -f "$PWFILE"; exit 1; }
        rm -f "$PWFILE"
        cat >> "$PGDATA/pg_hba.conf" <<HBA
host  all          all         0.0.0.0/0  scram-sha-256
host  replication  replicator  0.0.0.0/0  scram-sha-256
HBA
        cat >> "$PGDATA/postgresql.conf" <<CONF
listen_addresses = '*'
unix_socket_directories = '/var/run/postgresql'
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
wal_keep_size = '1GB'
hot_standby = on
wal_log_hints = on
CONF
        echo "CREATE ROLE replicator LOGIN REPLICATION PASSWORD '$POSTGRES_REPLICATION_PASSWORD';" \
            | postgres --single -D "$PGDATA" postgres >/dev/null
        # After the role: from here on a commit waits for the standby's flush.
        cat >> "$PGDATA/postgresql.conf" <<CONF
synchronous_commit = on
synchronous_standby_names = '${POSTGRES_SYNCHRONOUS_STANDBYS:-}'
CONF
    fi
fi
exec postgres -D "$PGDATA" -c "cluster_name=$NAME"
