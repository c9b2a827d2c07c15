# Sourced by scripts/compat.sh and scripts/compat-documents.sh after they set `previous` (the default commit of the
# older laptop), `older_schema` (the CRM_SCHEMA_RELEASE that plays it with --same-build) and `slot` (the name of
# its worktree and build folder under .build-compat/). Reads the arguments ([--same-build] [--db PATH|URL]
# [COMMIT]); builds the older crm-field when asked; starts this tree's server on a free port of 127.0.0.1 on a new
# SQLite file (or --db); defines old, new, fail, field and kept; $W is the work folder (kept with KEEP=1).
root=$PWD
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
    src=$root/.build-compat/src$slot
    if [[ ! -d $src ]] || [[ $(git -C "$src" rev-parse HEAD) != $(git rev-parse "$previous") ]]; then
        rm -rf "$src"; git worktree prune
        git worktree add --detach "$src" "$previous" >/dev/null
    fi
    echo "== building crm-field at $(git -C "$src" log --oneline -1 | cut -c1-60)… into .build-compat/build$slot"
    (cd "$src" && swift build --product crm-field --scratch-path "$root/.build-compat/build$slot" 2>&1 | tail -1)
    old() { "$root/.build-compat/build$slot/debug/crm-field" "$@"; }
else
    old() { CRM_SCHEMA_RELEASE=$older_schema "$NEW/crm-field" "$@"; }
fi
new() { "$NEW/crm-field" "$@"; }

W=$(mktemp -d)
[[ -n ${KEEP:-} ]] && echo "work folder: $W"
[[ -n $db ]] || db=$W/server.sqlite
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
"$NEW/crm-sync-server" serve --db "$db" --port "$port" >"$W/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; [[ -n ${KEEP:-} ]] || rm -rf "$W"' EXIT
for _ in $(seq 50); do curl -sf "$url/healthz" >/dev/null && break; sleep 0.2; done
fail() { echo "FAIL: $*"; exit 1; }
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND"' ERR
field() { python3 -c 'import json,sys; v=json.load(sys.stdin)
for k in sys.argv[1].split("."): v=v[int(k)] if isinstance(v,list) else v.get(k)
print("" if v is None else v)' "$1"; }
kept() { sqlite3 "$W/$1/replica.sqlite" "$2"; }
# Which older laptop this run used, for the last line.
older() { [[ $mode == build ]] && git rev-parse --short "$previous" || echo "schema $older_schema"; }
