#!/usr/bin/env bash
# Runs every test of the package: the conformance vectors (checked against their generator first), the OpenAPI
# check against a live server, the property tests, unit tests, crash tests, live-server tests, the CLI end to end,
# the conformance scenarios against live servers on both backends, and the convergence simulation at CI size on
# both backends. Extra arguments go to `swift test` (e.g. `--filter ConformanceTests`) and skip the last two.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 conformance/tools/make_vectors.py --check
swift build --build-tests
# The OpenAPI description against a live server (built above) on 127.0.0.1.
python3 conformance/tools/check_openapi.py .build/debug/crm-sync-server
# The spec and the server fuzzed against each other (schemathesis, every check, stateful phase, fixed seed, a rep's
# and an admin's token; about two minutes): 0 failures.
python3 conformance/tools/run_schemathesis.py .build/debug/crm-sync-server
# Every test, the server tests against SQLite and against a throwaway PostgreSQL cluster on 127.0.0.1.
# CRM_REQUIRE_POSTGRES=1: a missing PostgreSQL fails the PostgreSQL cases instead of leaving them out.
CRM_REQUIRE_POSTGRES=1 scripts/with-postgres.sh swift test --skip-build "$@"
# The conformance scenarios against live server processes on 127.0.0.1 (built above): SQLite, then PostgreSQL.
if (($# == 0)); then
    scripts/with-postgres.sh scripts/conformance.sh .build/debug
    # Schema evolution at CI size: today's laptop speaking the previous schema (CRM_SCHEMA_RELEASE=0.16) beside
    # a new one, on SQLite and on PostgreSQL (scripts/compat.sh without --same-build builds the real previous
    # release; its result is in BENCHMARKS.md).
    scripts/compat.sh --same-build
    scripts/with-postgres.sh bash -c \
        'psql "$POSTGRES_URL" -q -c "CREATE DATABASE compat" && scripts/compat.sh --same-build --db "${POSTGRES_URL%/*}/compat"'
    # The same for 0.19's documents: a laptop speaking 0.18's schema keeps and passes on documents, versions and
    # their files' records, and shows them once upgraded (scripts/compat-documents.sh without --same-build builds
    # the real 0.18.0).
    scripts/compat-documents.sh --same-build
    scripts/with-postgres.sh bash -c \
        'psql "$POSTGRES_URL" -q -c "CREATE DATABASE compat_documents" && scripts/compat-documents.sh --same-build --db "${POSTGRES_URL%/*}/compat_documents"'
fi
# The convergence simulation at CI size (300 seeds x 5 laptops x 200 operations, faulty network, crashes), in a
# release build (with the flags of scripts/release-cli.sh, so that build reuses these objects); skipped when only
# some tests were asked for (arguments given).
if (($# == 0)); then
    swift build -c release --static-swift-stdlib --product crm-simulate
    .build/release/crm-simulate --seeds "${CRM_SIM_SEEDS:-300}"
    # The same simulation with the server on PostgreSQL (a fresh database per seed): same seeds, same figures.
    scripts/with-postgres.sh bash -c \
        '.build/release/crm-simulate --seeds "${CRM_SIM_PG_SEEDS:-50}" --postgres "$POSTGRES_URL"'
fi
