#!/bin/sh
# A PostgreSQL streaming replica of the primary: the entry point of the `postgres-replica` service
# of docker-compose.yml (profile "replica", user postgres), and of its native test
# (app/internal/stacktest, TestReplicaEntrypointNatively), where the same script runs against a
# private primary.
#
# On an empty data directory it copies the primary with pg_basebackup -R (which writes
# standby.signal and primary_conninfo), then, and on every later start, runs postgres on it as a
# hot standby that streams the primary's WAL. A copy that did not finish (no marker) is started
# again from scratch. Arguments are passed to postgres (e.g. -c settings); a hot standby refuses
# to start with max_connections (and the other limits replication checks) below the primary's.
#
#   PGDATA                 the data directory (required)
#   PRIMARY_HOST           the primary (default postgres), PRIMARY_PORT (default 5432)
#   REPLICATION_USER       a role with REPLICATION (default postgres), REPLICATION_PASSWORD
set -eu
: "${PGDATA:?PGDATA must name the data directory}"
host=${PRIMARY_HOST:-postgres}
port=${PRIMARY_PORT:-5432}
marker="$PGDATA/replica.initialized"

if [ ! -f "$marker" ]; then
  echo "postgres-replica: waiting for the primary $host:$port"
  until pg_isready -q -h "$host" -p "$port"; do sleep 1; done
  echo "postgres-replica: copying the primary with pg_basebackup"
  find "$PGDATA" -mindepth 1 -delete
  PGPASSWORD="${REPLICATION_PASSWORD:-}" pg_basebackup -h "$host" -p "$port" -U "${REPLICATION_USER:-postgres}" \
    -D "$PGDATA" -R -X stream -c fast
  chmod 0700 "$PGDATA"
  touch "$marker"
fi
echo "postgres-replica: starting as a hot standby of $host:$port"
exec postgres -D "$PGDATA" -c hot_standby=on "$@"
