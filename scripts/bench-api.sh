#!/usr/bin/env bash
# HTTP API benchmark (`beamsync-bench api`): builds in release mode, starts a throwaway PostgreSQL,
# runs `beamsync run` over a generated 10,000-profile repository and measures, side by side in one
# run:
#   - GET /api/v2/deployment-profiles?project_module=X (200 of 10,000 rows) with 64 concurrent
#     clients (wrk), against the same SELECT run by pgbench at the same concurrency (the floor);
#     goals: p99 <= 15 ms, throughput >= 50 % of the floor;
#   - POST /api/v2/deployment-profiles with 1, 8 and 64 clients; goal: p99 <= 30 ms;
#   - the controller's resident memory after that load; goal: <= 64 MB.
# Arguments go to `beamsync-bench api`: [--seconds 10] [--connections 64].
# Port: PostgreSQL BEAMSYNC_BENCH_PG_PORT [55479]; the controllers listen on free loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
# wrk is the HTTP load generator; postgresql-contrib brings pgbench with the server.
ensure_packages "${BUILD_PACKAGES[@]}" postgresql postgresql-contrib wrk curl

work="$(mktemp -d /tmp/beamsync-bench-api.XXXXXX)"
chmod 755 "$work"
cleanup() {
  local status=$?
  bash scripts/postgres.sh stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT INT TERM

log "building beamsync and beamsync-bench (release)"
swift build -c release --product beamsync
swift build -c release --product beamsync-bench

log "starting PostgreSQL on 127.0.0.1:${BEAMSYNC_BENCH_PG_PORT:-55479}"
pg_url="$(bash scripts/postgres.sh start "$work/pg" "${BEAMSYNC_BENCH_PG_PORT:-55479}" | tail -n 1)"
export BEAMSYNC_BENCH_DATABASE_URL="$pg_url"
export BEAMSYNC_BENCH_BINARY="$PWD/.build/release/beamsync"
export BEAMSYNC_BENCH_PGBENCH="${BEAMSYNC_BENCH_PGBENCH:-$(command -v pgbench || echo /usr/lib/postgresql/15/bin/pgbench)}"

.build/release/beamsync-bench api "$@"
