#!/usr/bin/env bash
# Schema evolution for the documents of 0.19 (issue 19): a laptop of the previous release (0.18, which knows no
# documents) keeps syncing with this server while a new laptop adds documents, versions and their files. It keeps
# and passes on the document records it does not know, its own changes are accepted, and once upgraded it shows the
# documents without downloading the records again and fetches their files on demand.
#
#   scripts/compat-documents.sh [--db PATH|URL] [COMMIT]   builds crm-field at COMMIT (default 73d7ebc, 0.18.0) into
#                                                          .build-compat/build18 and runs the story
#   scripts/compat-documents.sh --same-build [--db …]      today's crm-field speaking the 0.18 schema
#                                                          (CRM_SCHEMA_RELEASE=0.18) plays the older laptop
set -euo pipefail
cd "$(dirname "$0")/.."
previous=73d7ebc  # 0.18.0, the last release without documents
older_schema=0.18
slot=18
# shellcheck source=compat-common.sh
source scripts/compat-common.sh

"$NEW/crm-sync-server" territory add north --db "$db" >/dev/null
printf 'id,name,kind,territory\nacc-m,Müller GmbH,customer,north\n' >"$W/accounts.csv"
"$NEW/crm-sync-server" import accounts "$W/accounts.csv" --db "$db" >/dev/null
"$NEW/crm-sync-server" user add olga --role rep --territory north --db "$db" >"$W/olga.token"
"$NEW/crm-sync-server" user add nils --role rep --territory north --db "$db" >"$W/nils.token"
old init --server "$url" --token "$(cat "$W/olga.token")" --home "$W/o" >/dev/null 2>&1
new init --server "$url" --token "$(cat "$W/nils.token")" --home "$W/n" >/dev/null 2>&1
echo "== the older laptop (olga, $(old --version)$([[ $mode == same ]] && echo ' speaking schema 0.18')) and a new one (nils, $(new --version)) on the new server"

# The new laptop adds a document with two versions and their files.
head -c 300000 /dev/urandom >"$W/offer.pdf"
printf 'the signed contract\n' >"$W/signed.txt"
doc=$(new document add "$W/offer.pdf" --account acc-m --kind offer --title "Offer 117" --json --home "$W/n" | field id)
new document version add "$doc" "$W/signed.txt" --home "$W/n" >/dev/null
new sync --home "$W/n" >/dev/null 2>&1
[[ $(new status --json --home "$W/n" | field files.waiting_up) == 0 ]] || fail "the new laptop's files did not go up"
old account edit acc-m --phone "+49 30 1" --home "$W/o" >/dev/null
old sync --home "$W/o" >/dev/null 2>&1

echo "== the older laptop keeps what it does not know"
[[ $(kept o "SELECT COUNT(*) FROM other_record WHERE entity = 'document'") == 1 ]] || fail "the document is not kept"
[[ $(kept o "SELECT COUNT(*) FROM other_record WHERE entity = 'document_version'") == 2 ]] || fail "the versions are not kept"
echo "   the document and its two versions kept in other_record"

echo "== the older laptop works as before; its changes are accepted; later document edits still reach it"
[[ $(old status --json --home "$W/o" | field pending) == 0 ]] || fail "the older laptop's edit is still pending"
new document lock "$doc" --home "$W/n" >/dev/null
new sync --home "$W/n" >/dev/null 2>&1
old sync --home "$W/o" >/dev/null 2>&1
new sync --home "$W/n" >/dev/null 2>&1
[[ $(new account show acc-m --json --home "$W/n" | field phone) == "+49 30 1" ]] || fail "the older laptop's edit did not arrive"

echo "== the older laptop is upgraded: the documents show without a new download, their files come on demand"
shown=$(new document show "$doc" --json --home "$W/o")
[[ $(field title <<<"$shown") == "Offer 117" ]] || fail "the upgraded laptop lost the document"
[[ $(field locked_by <<<"$shown") == nils ]] || fail "the upgraded laptop lost the lock"
[[ $(python3 -c 'import json,sys; print(len(json.load(sys.stdin)["versions"]))' <<<"$shown") == 2 ]] || fail "the versions are missing"
[[ $(kept o "SELECT COUNT(*) FROM other_record") == 0 ]] || fail "records stayed in other_record after the upgrade"
new document get "$doc" --version 1 --out "$W/got.pdf" --home "$W/o" >/dev/null 2>&1
cmp -s "$W/got.pdf" "$W/offer.pdf" || fail "the upgraded laptop did not fetch the offer's file"
after=$(new sync --json --home "$W/o" 2>/dev/null)
[[ $(field downloaded <<<"$after") == 0 ]] || fail "the upgraded laptop downloaded its records again"
new document get "$doc" --out "$W/got.txt" --home "$W/o" >/dev/null 2>&1
cmp -s "$W/got.txt" "$W/signed.txt" || fail "the upgraded laptop's shown version is not the signed contract"
echo "ok: the older laptop ($(older)) kept and passed on the documents on $db; nothing lost"
