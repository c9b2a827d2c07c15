#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL cluster on 127.0.0.1 and POSTGRES_URL pointing at it; stops and
# removes the cluster afterwards (fsync is off for test speed; PG_FSYNC=on for benchmarks). Installs PostgreSQL from Debian's packages when it is missing (needs root).
#
#   scripts/with-postgres.sh swift test
set -euo pipefail

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [[ -z "$bindir" ]]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi

dir=$(mktemp -d /tmp/crm-pg.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        chown -R postgres "$dir"
        su postgres -s /bin/bash -c "$*"
    else
        bash -c "$*"
    fi
}
as_owner "'$bindir/initdb' -D '$dir/data' -A trust -U postgres --no-sync >'$dir/initdb.log'"
as_owner "'$bindir/pg_ctl' -D '$dir/data' -l '$dir/server.log' -w \
    -o '-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=${PG_FSYNC:-off} -c max_connections=200' start >/dev/null"
cleanup() {
    as_owner "'$bindir/pg_ctl' -D '$dir/data' -m immediate stop >/dev/null" || true
    rm -rf "$dir"
}
trap cleanup EXIT

export POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
"$@"
