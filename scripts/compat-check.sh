#!/usr/bin/env bash
# Usage: scripts/compat-check.sh PREVIOUS_BIN NEW_BIN DB    (each BIN a folder with crm-sync-server and crm-field;
# DB a new SQLite path or an empty PostgreSQL database URL). Builds nothing: build the previous release first.
#
# Older laptops keep syncing: laptops of both releases, set up on the previous server and on this one, edit the same
# customer and converge after the server is upgraded. Covers what issue 12 changed on the wire: registered replica
# ids (a previous laptop picks its own; a new laptop against a previous server falls back to that), cursors that
# carry the log's identity (a previous laptop's bare cursor still works), the strict number and key checks.
set -euo pipefail
OLD=$1; NEW=$2; DB=$3; W=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
start() { "$1/crm-sync-server" serve --db "$DB" --port "$port" >"$W/server.log" 2>&1 & echo $! > "$W/pid"
    for _ in $(seq 50); do curl -sf "$url/healthz" >/dev/null && return; sleep 0.2; done; cat "$W/server.log"; exit 1; }
stop() { kill "$(cat "$W/pid")"; wait "$(cat "$W/pid")" 2>/dev/null || true; }
trap 'stop 2>/dev/null || true; rm -rf "$W"' EXIT
phone() { "$1/crm-field" account show "$ACC" --json --home "$W/$2" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("phone"))'; }
expect_phone() { local got; got=$(phone "$1" "$2"); [[ "$got" == "$3" ]] || { echo "FAIL: laptop $2 shows phone $got, expected $3"; exit 1; }; }

for name in anna ben carl dora; do "$OLD/crm-sync-server" user add "$name" --role rep --territory north --db "$DB" > "$W/$name"; done
echo "== the previous server: a previous laptop (anna) and a new one (ben, which falls back to its own replica id)"
start "$OLD"
"$OLD/crm-field" init --server "$url" --token "$(cat "$W/anna")" --home "$W/a" >/dev/null
ACC=$("$OLD/crm-field" account add --name "Müller GmbH" --territory north --json --home "$W/a" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
"$OLD/crm-field" account edit "$ACC" --phone "+49 30 1" --home "$W/a" >/dev/null
"$OLD/crm-field" sync --home "$W/a" >/dev/null
"$NEW/crm-field" init --server "$url" --token "$(cat "$W/ben")" --home "$W/b" >/dev/null
expect_phone "$NEW" b "+49 30 1"
stop

echo "== the same database served by this release: both keep syncing, two more laptops join"
start "$NEW"
"$NEW/crm-field" account edit "$ACC" --phone "+49 30 2" --home "$W/b" >/dev/null
"$NEW/crm-field" sync --home "$W/b" >/dev/null
"$OLD/crm-field" sync --home "$W/a" >/dev/null   # its cursor is a bare number from the previous server
expect_phone "$OLD" a "+49 30 2"
"$OLD/crm-field" init --server "$url" --token "$(cat "$W/carl")" --home "$W/c" >/dev/null   # picks its own id
"$NEW/crm-field" init --server "$url" --token "$(cat "$W/dora")" --home "$W/d" >/dev/null   # registered id
"$OLD/crm-field" account edit "$ACC" --phone "+49 30 3" --home "$W/c" >/dev/null
"$OLD/crm-field" log --account "$ACC" --kind call --subject "Quote follow-up" --home "$W/c" >/dev/null
"$OLD/crm-field" sync --home "$W/c" >/dev/null
for laptop in a b c d; do
    bin=$NEW; [[ $laptop == a || $laptop == c ]] && bin=$OLD
    "$bin/crm-field" sync --home "$W/$laptop" >/dev/null
    expect_phone "$bin" "$laptop" "+49 30 3"
done
calls=$("$NEW/crm-field" history "$ACC" --home "$W/d" | grep -c "Quote follow-up" || true)
[[ "$calls" -ge 1 ]] || { echo "FAIL: the new laptop did not receive the previous laptop's call"; exit 1; }
echo "== replica ids: the new laptop's is the server's, the previous laptops' their own, each bound to its user"
curl -s -H "Authorization: Bearer $(cat "$W/ben")" "$url/v1/pull?replica_id=$("$OLD/crm-field" status --json --home "$W/c" | python3 -c 'import json,sys; print(json.load(sys.stdin)["replica_id"])')" | python3 -c 'import json,sys; e=json.load(sys.stdin)["error"]; assert e["code"]=="foreign_replica", e; print("ben under carl'"'"'s id:", e["code"])'
echo "ok: four laptops of two releases converged on $DB"
