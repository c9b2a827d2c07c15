#!/usr/bin/env bash
# Builds the `crm-field` binary IT copies to laptops that have no Swift toolchain: release mode, the Swift standard
# library and Foundation linked in statically (AsyncHTTPClient, not URLSession, so no libcurl is needed). Checks
# that it needs no Swift runtime library and runs it once (`crm-field demo`).
set -euo pipefail
cd "$(dirname "$0")/.."

swift build -c release --static-swift-stdlib --product crm-field
binary=.build/release/crm-field
if ldd "$binary" | grep -q 'libswift\|libFoundation'; then
    echo "error: $binary still needs Swift runtime libraries:" >&2
    ldd "$binary" >&2
    exit 1
fi
echo "Dynamic libraries $binary needs (Debian: libc6, libstdc++6, zlib1g, libsqlite3-0):"
ldd "$binary" | awk '{print "  " $1}'
# Run it the way a laptop would, without the toolchain on the library path.
env -i HOME="$(mktemp -d)" PATH=/usr/bin:/bin "$binary" demo >/dev/null
ls -l "$binary"
echo "ok: $binary runs without a Swift toolchain"
