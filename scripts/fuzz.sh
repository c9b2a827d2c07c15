#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/Targets: push request, pull/snapshot/history/handshake answers, the binary
# storage codec, CSV import) with -sanitize=fuzzer,address in their own scratch path, and runs each for SECONDS
# (default 60) from its committed seed corpus (fuzz/corpus/<name>), with a 512 MB RSS limit. New interesting inputs
# go to a working corpus under .build-fuzz/corpus (not committed); a crash, leak or out-of-memory input is written to
# fuzz/crashes/<name>/ and fails the script; commit it, and FuzzCorpusTests replays it in every test run.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]        e.g. scripts/fuzz.sh 1800   (the recorded 30-minute run)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(push pull binary csv)
export CRM_FUZZ=1
products=()
for target in "${targets[@]}"; do products+=(--product "fuzz-$target"); done
for product in "${products[@]}"; do
    [[ $product == --product ]] && continue
    swift build -c release --scratch-path .build-fuzz --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address \
        --product "$product"
done
status=0
for target in "${targets[@]}"; do
    work=.build-fuzz/corpus/$target
    crashes=fuzz/crashes/$target
    mkdir -p "$work" "$crashes"
    log=.build-fuzz/fuzz-$target.log
    echo "fuzz-$target: ${seconds}s from fuzz/corpus/$target"
    if ! SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=1 .build-fuzz/release/"fuzz-$target" \
        -max_total_time="$seconds" -rss_limit_mb=512 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$crashes/" "$work" "fuzz/corpus/$target" >"$log" 2>&1; then
        echo "fuzz-$target FAILED: see $log and $crashes/"
        status=1
    fi
    grep -E "^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb|Done [0-9]+ runs)" "$log" | tail -3 || true
    grep -E "cov: [0-9]+" "$log" | tail -1 | sed 's/^/  last: /' || true
done
exit $status
