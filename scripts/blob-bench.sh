#!/usr/bin/env bash
# Moving documents' contents on loopback (issue 19): how fast `crm-field` uploads (`sync`) and downloads
# (`document get`) a file through the sync server, beside `curl` fetching the same file from a plain static server
# (python3 -m http.server) and from the sync server itself, in the same run; and the peak memory of each side while
# the file moves (bounded: the content is streamed in chunks of 4 MiB, never held whole).
#
#   scripts/blob-bench.sh [BIN] [SIZE_MB] [RUNS]    BIN: a folder with crm-field and crm-sync-server (default
#                                                   .build/release); SIZE_MB default 20; RUNS default 5 (median)
#   DB=postgres://… scripts/blob-bench.sh …         the contents in PostgreSQL instead of files beside SQLite
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/release}
SIZE_MB=${2:-20}
RUNS=${3:-5}
W=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
static_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
db=${DB:-$W/server.sqlite}
S=$BIN/crm-sync-server
F=$BIN/crm-field
$S territory add north --db "$db" >/dev/null
printf 'id,name,territory\nacc-bench,Bench GmbH,north\n' >"$W/accounts.csv"
$S import accounts "$W/accounts.csv" --db "$db" >/dev/null
alice=$($S user add "alice-$$" --role rep --territory north --db "$db")
bob=$($S user add "bob-$$" --role rep --territory north --db "$db")
$S serve --db "$db" --port "$port" --max-document-mb 2048 >"$W/server.log" 2>&1 &
server=$!
mkdir -p "$W/static"
(cd "$W/static" && exec python3 -m http.server "$static_port" --bind 127.0.0.1 >/dev/null 2>&1) &
static=$!
trap 'kill $server $static 2>/dev/null; wait $server $static 2>/dev/null; rm -rf "$W"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$static_port/" >/dev/null && break; sleep 0.1; done
url=http://127.0.0.1:$port
$F init --server "$url" --token "$alice" --home "$W/a" >/dev/null 2>&1
$F init --server "$url" --token "$bob" --home "$W/b" >/dev/null 2>&1
$F config set prefetch-mb 0 --home "$W/b" >/dev/null
bytes=$((SIZE_MB * 1048576))
rss() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
base_rss=$(rss $server)
mbps() { python3 -c "import sys; print(f'{$bytes / 1048576 / float(sys.argv[1]):.0f}')" "$1"; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
up=() down=() curl_static=() curl_server=() curl_disk=() up_rss=() down_rss=()
for run in $(seq "$RUNS"); do
    head -c "$bytes" /dev/urandom >"$W/static/file-$run.pdf"
    doc=$($F document add "$W/static/file-$run.pdf" --account acc-bench --json --home "$W/a" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    digest=$(sha256sum "$W/static/file-$run.pdf" | cut -d' ' -f1)
    # Upload: the sync that sends the version record and then the content.
    /usr/bin/time -f "%e %M" -o "$W/time" "$F" sync --home "$W/a" >/dev/null 2>&1
    read -r seconds kb <"$W/time"; up+=("$seconds"); up_rss+=("$kb")
    $F sync --blob-seconds 0 --home "$W/b" >/dev/null 2>&1
    /usr/bin/time -f "%e %M" -o "$W/time" "$F" document get "$doc" --out "$W/got-$run.pdf" --home "$W/b" >/dev/null 2>&1
    read -r seconds kb <"$W/time"; down+=("$seconds"); down_rss+=("$kb")
    cmp -s "$W/got-$run.pdf" "$W/static/file-$run.pdf" || { echo "FAIL: the downloaded file differs"; exit 1; }
    curl_static+=("$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$static_port/file-$run.pdf")")
    curl_server+=("$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $bob" "$url/v1/blobs/$digest")")
    # What a download to disk costs at the least: curl into a file, then fsync it (crm-field syncs a file before it
    # names it, so a crash never leaves a wrong file under a digest's name).
    curl_disk+=("$(python3 - "http://127.0.0.1:$static_port/file-$run.pdf" "$W/curl-$run.out" <<'EOF2'
import os, subprocess, sys, time
start = time.monotonic()
subprocess.run(["curl", "-s", "-o", sys.argv[2], sys.argv[1]], check=True)
fd = os.open(sys.argv[2], os.O_RDONLY); os.fsync(fd); os.close(fd)
print(f"{time.monotonic() - start:.4f}")
EOF2
)")
    rm -f "$W/curl-$run.out"
done
peak_rss=$(rss $server)
u=$(printf '%s\n' "${up[@]}" | median); d=$(printf '%s\n' "${down[@]}" | median)
cs=$(printf '%s\n' "${curl_static[@]}" | median); cv=$(printf '%s\n' "${curl_server[@]}" | median)
cd_=$(printf '%s\n' "${curl_disk[@]}" | median)
echo "blob-bench: $SIZE_MB MB, median of $RUNS runs, loopback, $( [[ -n ${DB:-} ]] && echo PostgreSQL || echo 'SQLite + files')"
printf '  %-44s %6s MB/s  (%s s)\n' "crm-field sync (upload)" "$(mbps "$u")" "$u"
printf '  %-44s %6s MB/s  (%s s)\n' "crm-field document get (download)" "$(mbps "$d")" "$d"
printf '  %-44s %6s MB/s  (%s s)\n' "curl from the sync server (GET /v1/blobs)" "$(mbps "$cv")" "$cv"
printf '  %-44s %6s MB/s  (%s s)\n' "curl from python3 -m http.server (reference)" "$(mbps "$cs")" "$cs"
printf '  %-44s %6s MB/s  (%s s)\n' "  the same into a file, fsynced (reference)" "$(mbps "$cd_")" "$cd_"
python3 - "$u" "$d" "$cv" "$cs" "$cd_" <<'EOF'
import sys
up, down, server, static, disk = map(float, sys.argv[1:])
print(f"  ratios to curl from the static server (1.00 = as fast as curl): curl from the sync server {static / server:.2f}; "
      f"crm-field download {static / down:.2f}, upload {static / up:.2f}; against curl into a synced file: "
      f"download {disk / down:.2f}, upload {disk / up:.2f}")
EOF
echo "  memory: crm-field peak RSS upload $(printf '%s\n' "${up_rss[@]}" | sort -n | tail -1) KB, download $(printf '%s\n' "${down_rss[@]}" | sort -n | tail -1) KB;"
echo "          server peak RSS $peak_rss KB (before the transfers $base_rss KB, growth $((peak_rss - base_rss)) KB for $((SIZE_MB * 1024)) KB files)"
