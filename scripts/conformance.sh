#!/usr/bin/env bash
# Runs the conformance scenarios (conformance/scenarios) against a live `crm-sync-server serve` process on
# 127.0.0.1: once on a SQLite database file and, when POSTGRES_URL is set (scripts/with-postgres.sh sets it), once
# on a fresh PostgreSQL database. Each server gets an admin made with `crm-sync-server user add`, as IT would.
#
#   scripts/conformance.sh [BUILD_DIR]          # default .build/debug (crm-sync-server and crm-conformance built)
#   scripts/with-postgres.sh scripts/conformance.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-.build/debug}
work=$(mktemp -d /tmp/crm-conformance.XXXXXX)
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

"$bin/crm-conformance" --check

run_against() {
    local label=$1 db=$2
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$bin/crm-sync-server" user add "it-conformance" --role admin --db "$db" >"$work/admin.token"
    "$bin/crm-sync-server" serve --db "$db" --host 127.0.0.1 --port "$port" >"$work/$label-server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do
        if python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "http://127.0.0.1:$port/healthz" 2>/dev/null; then break; fi
        if ! kill -0 "$server_pid" 2>/dev/null; then cat "$work/$label-server.log"; exit 1; fi
        sleep 0.1
    done
    echo "== conformance scenarios, $label backend (http://127.0.0.1:$port)"
    if ! "$bin/crm-conformance" --server "http://127.0.0.1:$port" --admin-token-file "$work/admin.token"; then
        echo "-- last lines of the $label server's log:"; tail -n 20 "$work/$label-server.log"
        exit 1
    fi
    if [[ "$label" == sqlite ]]; then
        # IT runs the suite again and again against one server: a second run must pass too (its own names).
        "$bin/crm-conformance" --server "http://127.0.0.1:$port" --admin-token-file "$work/admin.token" | tail -n 1
        # The runner must be able to fail: a scenario with a wrong expectation is reported with the difference.
        if "$bin/crm-conformance" --server "http://127.0.0.1:$port" --admin-token-file "$work/admin.token" \
            --scenarios conformance/selftest >"$work/selftest.out"; then
            echo "the runner passed a scenario with a wrong expectation:"; cat "$work/selftest.out"; exit 1
        fi
        grep -q 'quantity: expected 17, got 14' "$work/selftest.out" \
            || { echo "the runner's failure report lacks the difference:"; cat "$work/selftest.out"; exit 1; }
        echo "self-test: a wrong expectation is reported as FAIL with its difference"
    fi
    kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
}

run_against sqlite "$work/server.sqlite"
if [[ -n "${POSTGRES_URL:-}" ]]; then
    db="crm_conformance_$$"
    psql "$POSTGRES_URL" -q -c "CREATE DATABASE $db" >/dev/null
    run_against postgresql "${POSTGRES_URL%/*}/$db"
else
    echo "POSTGRES_URL is not set: the PostgreSQL run is skipped (scripts/with-postgres.sh sets it)" >&2
fi
