#!/usr/bin/env bash
# Runs every test of the package: the conformance vectors (checked against their generator first), the property
# tests and the unit tests. Extra arguments go to `swift test` (e.g. `--filter ConformanceTests`).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 conformance/tools/make_vectors.py --check
swift build --build-tests
swift test --skip-build "$@"
