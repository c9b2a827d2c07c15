#!/usr/bin/env bash
# Schema evolution, proven: a laptop of the previous release keeps syncing with this server while laptops of this
# release and IT use what it does not know (0.17: the deal's source, the direction and sale lines of interactions,
# the invoices' collection status, sales plans and stage norms). It keeps and passes on those records and fields,
# its own changes are accepted, nothing is lost on either side, and once upgraded it shows what it kept without
# downloading it again, and its reports see it.
#
#   scripts/compat.sh [--db PATH|URL] [COMMIT]   builds crm-field at COMMIT (default: the release before 0.17)
#                                                into .build-compat/ (its own scratch folder) and runs the story
#   scripts/compat.sh --same-build [--db …]      the CI-sized version: today's crm-field speaking the previous
#                                                schema (CRM_SCHEMA_RELEASE=0.16) plays the older laptop
#
# The server and the new laptop are this tree's .build/debug executables (built if missing). DB: a new SQLite
# file by default, or an empty PostgreSQL database URL.
set -euo pipefail
cd "$(dirname "$0")/.."
previous=5871b34  # 0.16, the last commit before the 0.17 schema
older_schema=0.16
slot=
# shellcheck source=compat-common.sh
source scripts/compat-common.sh

"$NEW/crm-sync-server" territory add north --db "$db" >/dev/null
"$NEW/crm-sync-server" user add olga --role rep --territory north --db "$db" >"$W/olga.token"
"$NEW/crm-sync-server" user add nils --role rep --territory north --db "$db" >"$W/nils.token"
"$NEW/crm-sync-server" user add max --role manager --territory north --db "$db" >"$W/max.token"
old init --server "$url" --token "$(cat "$W/olga.token")" --home "$W/o" >/dev/null
new init --server "$url" --token "$(cat "$W/nils.token")" --home "$W/n" >/dev/null
echo "== the older laptop (olga, $(old --version)$([[ $mode == same ]] && echo ' speaking schema 0.16')) and a new one (nils, $(new --version)) on the new server"

printf 'part_number,name,price_list,price_dealer,currency\nP-100,Pump,125.00,99.00,EUR\n' >"$W/products.csv"
printf 'part_number,warehouse,quantity\nP-100,main,10\n' >"$W/stock.csv"
"$NEW/crm-sync-server" import products "$W/products.csv" --db "$db" >/dev/null
"$NEW/crm-sync-server" import stock "$W/stock.csv" --db "$db" >/dev/null

# The new laptop and IT use what the older one does not know.
new sync --home "$W/n" >/dev/null
acc=$(new account add --name "Müller GmbH" --json --home "$W/n" | field id)
deal=$(new deal add --account "$acc" --title "20 pumps" --amount 12000 --currency EUR --source referral --json --home "$W/n" | field id)
new log --account "$acc" --kind call --subject "They called about pumps" --direction in --home "$W/n" >/dev/null
sale=$(new stock sell P-100 2 --account "$acc" --price dealer --json --home "$W/n" >/dev/null && new history "$acc" --json --home "$W/n" | python3 -c 'import json,sys; print([a["id"] for a in json.load(sys.stdin)["interactions"] if a.get("part_number")][0])')
new sync --home "$W/n" >/dev/null
printf 'number,account_id,amount,currency,issued_at,due_at,collection_status\n2026-0042,%s,1250.00,EUR,2026-11-01,2026-11-20,reminded\n' "$acc" >"$W/invoices.csv"
printf 'rep,month,amount,currency\nnils,2026-11,20000.00,EUR\nolga,2026-11,15000.00,EUR\n' >"$W/plans.csv"
printf 'stage,days\nnew,3\nnegotiation,14\n' >"$W/norms.csv"
for kind in invoices plans norms; do "$NEW/crm-sync-server" import "$kind" "$W/$kind.csv" --db "$db" >/dev/null; done
old sync --home "$W/o" >/dev/null

echo "== the older laptop keeps what it does not know"
[[ $(kept o "SELECT COUNT(*) FROM other_record WHERE entity = 'plan'") == 2 ]] || fail "the plans are not kept"
[[ $(kept o "SELECT COUNT(*) FROM other_record WHERE entity = 'stage_norm'") == 2 ]] || fail "the stage norms are not kept"
kept o "SELECT _extra FROM deal WHERE id = '$deal'" | grep -q referral || fail "the deal's source is not kept"
kept o "SELECT _extra FROM activity WHERE id = '$sale'" | grep -q dealer || fail "the sale line is not kept"
kept o "SELECT _extra FROM invoice WHERE number = '2026-0042'" | grep -q reminded || fail "the collection status is not kept"
echo "   plans and stage norms kept in other_record; the deal's source, the sale line and the collection status in _extra"

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
new sync --home "$W/n" >/dev/null
card=$(new deal show "$deal" --json --home "$W/n")
[[ $(field deal.title <<<"$card") == "24 pumps" ]] || fail "the older laptop's title did not arrive"
[[ $(field deal.stage <<<"$card") == negotiation ]] || fail "the older laptop's stage did not arrive"
[[ $(field deal.source <<<"$card") == referral ]] || fail "the deal lost its source"
[[ $(field norm_days <<<"$card") == 14 ]] || fail "the new laptop has no stage norm"
[[ $(new deal show "$odeal" --json --home "$W/n" | field deal.title) == "Spare parts" ]] || fail "the older laptop's deal is missing"
new history "$acc" --json --home "$W/n" | grep -q "Asked for 24" || fail "the older laptop's call is missing"
[[ $(new report sources --json --home "$W/n" | python3 -c 'import json,sys; print({r["source"]: r["deals"] for r in json.load(sys.stdin)["rows"]}.get("referral"))') == 1 ]] || \
    fail "report sources lost the referral"
old sync --home "$W/o" >/dev/null

echo "== the older laptop is upgraded: what it kept shows, without a new download"
[[ $(new deal show "$deal" --json --home "$W/o" | field deal.source) == referral ]] || fail "the upgraded laptop lost the source"
[[ $(kept o "SELECT COUNT(*) FROM other_record") == 0 ]] || fail "records stayed in other_record after the upgrade"
[[ $(new invoice show 2026-0042 --json --home "$W/o" | field collection_status) == reminded ]] || fail "the upgraded laptop lost the collection status"
[[ $(new report sales --from 2026-11-01 --to 2026-11-30 --json --home "$W/o" | field rows.0.plan.EUR) == 1500000 ]] || \
    fail "the upgraded laptop does not see olga's plan"
new history "$acc" --json --home "$W/o" | python3 -c 'import json,sys; a=[i for i in json.load(sys.stdin)["interactions"] if i.get("part_number")]; assert a and a[0]["unit_price"] == 9900 and a[0]["price_list"] == "dealer", a' || \
    fail "the upgraded laptop lost the sale line's price"
new sync --home "$W/o" >/dev/null
for laptop in o n; do
    new deal show "$deal" --json --home "$W/$laptop" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps([d["deal"], d["norm_days"]], sort_keys=True))' >"$W/$laptop.card"
done
cmp -s "$W/o.card" "$W/n.card" || { diff "$W/o.card" "$W/n.card"; fail "the laptops differ"; }
new init --server "$url" --token "$(cat "$W/max.token")" --home "$W/m" >/dev/null
[[ $(new report sources --json --home "$W/m" | python3 -c 'import json,sys; print(sorted((r["source"], r["deals"]) for r in json.load(sys.stdin)["rows"]))') == "[('referral', 1), ('unknown', 1)]" ]] || \
    fail "the manager's report sources does not see both laptops' deals"
echo "ok: the older laptop ($(older)) and the new one converged on $db; nothing lost"
