#!/usr/bin/env bash
# Schema evolution, proven: a laptop of the previous release keeps syncing with this server while laptops of this
# release use what it does not know (appointments; the deal's owner, created_at and closed_at; the task's
# remind_at). It keeps and passes on those records and fields, its own changes are accepted, nothing is lost on
# either side, and once upgraded it shows what it kept without downloading it again.
#
#   scripts/compat.sh [--db PATH|URL] [COMMIT]   builds crm-field at COMMIT (default: the release before 0.16)
#                                                into .build-compat/ (its own scratch folder) and runs the story
#   scripts/compat.sh --same-build [--db …]      the CI-sized version: today's crm-field speaking the previous
#                                                schema (CRM_SCHEMA_RELEASE=0.15) plays the older laptop
#
# The server and the new laptop are this tree's .build/debug executables (built if missing). DB: a new SQLite
# file by default, or an empty PostgreSQL database URL.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
previous=cf87470  # 0.15, the last commit before the 0.16 schema
mode=build
db=""
while (($#)); do
    case $1 in
        --same-build) mode=same; shift ;;
        --db) db=$2; shift 2 ;;
        *) previous=$1; shift ;;
    esac
done
NEW=$root/.build/debug
if [[ ! -x $NEW/crm-field || ! -x $NEW/crm-sync-server ]]; then
    swift build --product crm-field >/dev/null && swift build --product crm-sync-server >/dev/null
fi
if [[ $mode == build ]]; then
    src=$root/.build-compat/src
    if [[ ! -d $src ]] || [[ $(git -C "$src" rev-parse HEAD) != $(git rev-parse "$previous") ]]; then
        rm -rf "$src"; git worktree prune
        git worktree add --detach "$src" "$previous" >/dev/null
    fi
    echo "== building crm-field at $(git -C "$src" log --oneline -1 | cut -c1-60)… into .build-compat/build"
    (cd "$src" && swift build --product crm-field --scratch-path "$root/.build-compat/build" 2>&1 | tail -1)
    old() { "$root/.build-compat/build/debug/crm-field" "$@"; }
else
    old() { CRM_SCHEMA_RELEASE=0.15 "$NEW/crm-field" "$@"; }
fi
new() { "$NEW/crm-field" "$@"; }

W=$(mktemp -d)
[[ -n $db ]] || db=$W/server.sqlite
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
"$NEW/crm-sync-server" serve --db "$db" --port "$port" >"$W/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$W"' EXIT
for _ in $(seq 50); do curl -sf "$url/healthz" >/dev/null && break; sleep 0.2; done
fail() { echo "FAIL: $*"; exit 1; }
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND"' ERR
field() { python3 -c 'import json,sys; v=json.load(sys.stdin)
for k in sys.argv[1].split("."): v=v[int(k)] if isinstance(v,list) else v.get(k)
print("" if v is None else v)' "$1"; }
kept() { sqlite3 "$W/$1/replica.sqlite" "$2"; }

"$NEW/crm-sync-server" territory add north --db "$db" >/dev/null
"$NEW/crm-sync-server" user add olga --role rep --territory north --db "$db" >"$W/olga.token"
"$NEW/crm-sync-server" user add nils --role rep --territory north --db "$db" >"$W/nils.token"
old init --server "$url" --token "$(cat "$W/olga.token")" --home "$W/o" >/dev/null
new init --server "$url" --token "$(cat "$W/nils.token")" --home "$W/n" >/dev/null
echo "== the older laptop (olga, $(old --version)$([[ $mode == same ]] && echo ' speaking schema 0.15')) and a new one (nils, $(new --version)) on the new server"

# The new laptop uses what the older one does not know.
acc=$(new account add --name "Müller GmbH" --json --home "$W/n" | field id)
deal=$(new deal add --account "$acc" --title "20 pumps" --amount 12000 --currency EUR --json --home "$W/n" | field id)
meet=$(new meeting add --account "$acc" --title "Demo of the P-200" --at "2026-12-08 10:00" --until "2026-12-08 11:30" \
    --place Berlin --deal "$deal" --json --home "$W/n" | field id)
new task add --account "$acc" --title "Call back" --due-at "2026-12-09 17:00" --remind-at "2026-12-09 09:00" \
    --json --home "$W/n" >/dev/null
new sync --home "$W/n" >/dev/null
old sync --home "$W/o" >/dev/null

echo "== the older laptop keeps what it does not know"
[[ $(old deal list --json --home "$W/o" 2>/dev/null | field 0.owner) == nils ]] || \
    [[ $(old history "$acc" --json --home "$W/o" | field deals.0.owner) == nils ]] || fail "the deal's owner is not kept"
[[ $(kept o "SELECT COUNT(*) FROM other_record WHERE entity = 'appointment'") == 1 ]] || fail "the appointment is not kept"
echo "   deal owner kept in its record; the appointment kept in other_record"

echo "== the older laptop works as before; its changes are accepted"
old deal edit "$deal" --title "24 pumps" --home "$W/o" >/dev/null
old deal stage "$deal" negotiation --home "$W/o" >/dev/null
old log --account "$acc" --kind call --subject "Asked for 24" --home "$W/o" >/dev/null
odeal=$(old deal add --account "$acc" --title "Spare parts" --amount 900 --currency EUR --json --home "$W/o" | field id)
old sync --home "$W/o" >/dev/null
[[ $(old status --json --home "$W/o" | field pending) == 0 ]] || fail "the older laptop's changes are still pending"
rejected=$("$NEW/crm-sync-server" stats --json --db "$db" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(sum(r.get("rejected",0) for r in s.get("replicas",[])))')
[[ $rejected == 0 ]] || fail "the server rejected $rejected of the older laptop's changes"

echo "== the new laptop gets them, and nothing of its own is lost"
new meeting move "$meet" --at "2026-12-09 10:00" --home "$W/n" >/dev/null
new sync --home "$W/n" >/dev/null
card=$(new deal show "$deal" --json --home "$W/n")
[[ $(field deal.title <<<"$card") == "24 pumps" ]] || fail "the older laptop's title did not arrive"
[[ $(field deal.stage <<<"$card") == negotiation ]] || fail "the older laptop's stage did not arrive"
[[ $(field deal.owner <<<"$card") == nils ]] || fail "the deal lost its owner"
[[ -n $(field deal.created_at <<<"$card") ]] || fail "the deal lost created_at"
[[ $(field appointments.0.id <<<"$card") == "$meet" ]] || fail "the deal lost its appointment"
[[ $(new deal show "$odeal" --json --home "$W/n" | field deal.title) == "Spare parts" ]] || fail "the older laptop's deal is missing"
new history "$acc" --json --home "$W/n" | grep -q "Asked for 24" || fail "the older laptop's call is missing"
old sync --home "$W/o" >/dev/null

echo "== the older laptop is upgraded: what it kept shows, without a new download"
shown=$(new meeting show "$meet" --json --home "$W/o")
[[ $(field starts_at <<<"$shown") == $(new meeting show "$meet" --json --home "$W/n" | field starts_at) ]] || \
    fail "the upgraded laptop does not show the moved appointment"
[[ $(field place <<<"$shown") == Berlin ]] || fail "the appointment lost its place"
[[ $(kept o "SELECT COUNT(*) FROM other_record") == 0 ]] || fail "records stayed in other_record after the upgrade"
[[ $(new deal show "$deal" --json --home "$W/o" | field deal.owner) == nils ]] || fail "the upgraded laptop lost the owner"
[[ $(new task list --all --json --home "$W/o" | python3 -c 'import json,sys; print([t.get("remind_at") for t in json.load(sys.stdin)][0])') == 2026-12-0* ]] || \
    fail "the upgraded laptop lost the task's reminder"
new sync --home "$W/o" >/dev/null
for laptop in o n; do
    new deal show "$deal" --json --home "$W/$laptop" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps([d["deal"], [a["starts_at"] for a in d["appointments"]]], sort_keys=True))' >"$W/$laptop.card"
done
cmp -s "$W/o.card" "$W/n.card" || { diff "$W/o.card" "$W/n.card"; fail "the laptops differ"; }
echo "ok: the older laptop ($( [[ $mode == build ]] && git log --oneline -1 "$previous" | cut -c1-8 || echo 'schema 0.15')) and the new one converged on $db; nothing lost"
