#!/usr/bin/env bash
# Builds in release mode and runs beamsync's benchmarks (fixed workloads; prints times and ratios).
# Starts a throwaway PostgreSQL for the database workloads and compiles the libyaml floor parser.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
ensure_packages "${BUILD_PACKAGES[@]}" postgresql libyaml-dev gcc

work="$(mktemp -d /tmp/beamsync-bench.XXXXXX)"
chmod 755 "$work"
trap 'bash scripts/postgres.sh stop "$work/pg" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT INT TERM

cc -O2 -o "$work/yaml_floor" bench/yaml_floor.c -lyaml
export BEAMSYNC_BENCH_YAML_FLOOR="$work/yaml_floor"
# Assigned first, then exported: `export X="$(...)"` would hide a failed start from set -e.
pg_url="$(bash scripts/postgres.sh start "$work/pg" "${BEAMSYNC_BENCH_PG_PORT:-55449}" | tail -n 1)"
export BEAMSYNC_BENCH_DATABASE_URL="$pg_url"

swift build -c release --product beamsync-bench
swift build -c release --product beamsync
export BEAMSYNC_BENCH_BINARY="$PWD/.build/release/beamsync"
.build/release/beamsync-bench "$@"
