#!/bin/sh
# Failover in compose: run in the standby once the primary is lost (and will not come back as primary):
#   podman exec rekap_postgres-2_1 sh /deploy/postgres/promote.sh
# Promotes it (it takes writes; the tabulators' multi-host DATABASE_URL with target_session_attrs=read-write
# finds it) and empties its synchronous_standby_names: with no standby left to confirm them, commits
# would otherwise wait for ever. Give it a standby again later (docs/containers.md, "Failover").
set -eu
export PGDATA="${PGDATA:-/var/lib/postgresql/data/pgdata}"
if [ -f "$PGDATA/standby.signal" ]; then
    pg_ctl promote -w -t 60 -D "$PGDATA"
fi
psql -X -q -h /var/run/postgresql -U postgres -d postgres \
    -c "ALTER SYSTEM SET synchronous_standby_names = ''" -c "SELECT pg_reload_conf()" >/dev/null
psql -X -A -t -h /var/run/postgresql -U postgres -d postgres -c "SELECT 'in recovery: ' || pg_is_in_recovery()"
