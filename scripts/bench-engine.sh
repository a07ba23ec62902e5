#!/usr/bin/env bash
# Execution-engine benchmark (`beamsync-bench engine`): builds in release mode, starts a throwaway
# PostgreSQL and a DALiuGE 6.6.0 stack (Translator Manager, DIM, Node Manager) on private loopback
# ports, runs the two workloads and stops everything again (also on failure):
#   (a) HelloWorld: beamsync's ExecutionRunner (create → completed) against the same Translator
#       Manager and DIM calls made with curl, interleaved, same poll interval; goal <= 1.2x.
#   (b) 100 executions deployed at once on one DIM: one poll round over all of them (wall, CPU,
#       PostgreSQL calls and HTTP requests per poll), and the time until all are completed.
# Arguments go to `beamsync-bench engine`: [--runs 10] [--poll-ms 100] [--executions 100]
# [--sleep 60] [--rounds 5] [--only latency|poll].
# Ports: PostgreSQL BEAMSYNC_BENCH_PG_PORT [55459]; DALiuGE from BEAMSYNC_BENCH_DLG_PORT_BASE [38000]:
# NM 38000, DIM 38001, TM 38084, NM events 35555, NM RPC 36666 (and dlg.sh's DIM with a dead NM
# on 38002/38999). BEAMSYNC_BENCH_NM_THREADS [128] Node Manager worker threads.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
ensure_packages "${BUILD_PACKAGES[@]}" postgresql python3 python3-venv python3-dev gcc curl util-linux

work="$(mktemp -d /tmp/beamsync-bench-engine.XXXXXX)"
chmod 755 "$work"
cleanup() {
  local status=$?
  bash scripts/dlg.sh stop "$work/dlg" >/dev/null 2>&1 || true
  bash scripts/postgres.sh stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT INT TERM

log "building beamsync-bench (release)"
swift build -c release --product beamsync-bench

log "starting PostgreSQL on 127.0.0.1:${BEAMSYNC_BENCH_PG_PORT:-55459}"
export BEAMSYNC_BENCH_DATABASE_URL="$(bash scripts/postgres.sh start "$work/pg" "${BEAMSYNC_BENCH_PG_PORT:-55459}" | tail -n 1)"

base=${BEAMSYNC_BENCH_DLG_PORT_BASE:-38000}
export BEAMSYNC_DLG_NM_PORT=$base BEAMSYNC_DLG_DIM_PORT=$((base + 1)) BEAMSYNC_DLG_DEAD_NM_DIM_PORT=$((base + 2))
export BEAMSYNC_DLG_TM_PORT=$((base + 84)) BEAMSYNC_DLG_DEAD_NM_PORT=$((base + 999))
export BEAMSYNC_DLG_NM_EVENTS_PORT=$((base - 2445)) BEAMSYNC_DLG_NM_RPC_PORT=$((base - 1334))
# One NM worker thread per concurrently sleeping application: (b) runs 100 sessions at once.
export BEAMSYNC_DLG_NM_THREADS=${BEAMSYNC_BENCH_NM_THREADS:-128}
log "starting DALiuGE 6.6.0 on 127.0.0.1 (NM $BEAMSYNC_DLG_NM_PORT, DIM $BEAMSYNC_DLG_DIM_PORT, TM $BEAMSYNC_DLG_TM_PORT)"
dlg_env="$(bash scripts/dlg.sh start "$work/dlg")"
eval "$dlg_env"
export BEAMSYNC_BENCH_TM_URL="$BEAMSYNC_TEST_TM_URL" BEAMSYNC_BENCH_DIM_HOST="$BEAMSYNC_TEST_DIM_HOST"
export BEAMSYNC_BENCH_DIM_PORT="$BEAMSYNC_TEST_DIM_PORT"

.build/release/beamsync-bench engine "$@"
