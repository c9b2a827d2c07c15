#!/usr/bin/env bash
# Usage: scripts/upgrade-check.sh PREVIOUS/crm-sync-server NEW/crm-sync-server DB   (DB: a new SQLite path or an empty
# PostgreSQL database URL). Builds nothing: build the previous release in a git worktree first.
# Upgrade story: data made on the previous release's server, then served by this release on the same database.
set -euo pipefail
OLD=$1; NEW=$2; DB=$3; F=${CRM_FIELD:-.build/debug/crm-field}; W=$(mktemp -d)
port=18181
start() { "$1" serve --db "$DB" --port $port >"$W/server.log" 2>&1 & echo $! > "$W/pid"; for i in $(seq 50); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && return; sleep 0.2; done; cat "$W/server.log"; exit 1; }
stop() { kill "$(cat "$W/pid")"; wait "$(cat "$W/pid")" 2>/dev/null || true; }
$OLD user add alice --role rep --territory north --db "$DB" > "$W/alice"
$OLD user add bob --role rep --territory north --db "$DB" > "$W/bob"
start "$OLD"
$F init --server http://127.0.0.1:$port --token "$(cat $W/alice)" --home "$W/a" >/dev/null
ACC=$($F account add --name "Müller GmbH" --territory north --json --home "$W/a" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
$F account edit "$ACC" --phone "+49 30 1" --home "$W/a" >/dev/null
$F log --account "$ACC" --kind call --subject "Asked for a quote" --home "$W/a" >/dev/null
$F sync --home "$W/a" >/dev/null
$F init --server http://127.0.0.1:$port --token "$(cat $W/bob)" --home "$W/b" >/dev/null
stop
echo "== the same database, served by this release"
start "$NEW"
$F account edit "$ACC" --phone "+49 30 2" --home "$W/a" >/dev/null
$F sync --home "$W/a"
$F sync --home "$W/b"
$F account show "$ACC" --home "$W/b" | grep -i phone
$NEW user add carol --role rep --territory north --db "$DB" > "$W/carol"
$F init --server http://127.0.0.1:$port --token "$(cat $W/carol)" --home "$W/c"
$F history "$ACC" --home "$W/c" | head -8 || true
echo "== a laptop replaying the whole log (wire JSON migrated from the old binary form):"
curl -s -H "Authorization: Bearer $(cat $W/carol)" "http://127.0.0.1:$port/v1/pull?replica_id=replay&cursor=0" | python3 -c 'import json,sys; p=json.load(sys.stdin); print(len(p["changes"]), "changes:", [c["op"] for c in p["changes"]])'
stop
