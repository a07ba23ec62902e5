#!/usr/bin/env bash
# slurm_remote benchmark (`beamsync-bench slurm`): builds in release mode, starts a throwaway
# PostgreSQL, a DALiuGE 6.6.0 Translator Manager (scripts/dlg.sh) and the local Slurm cluster with
# its SSH login node (scripts/slurm.sh), runs the two workloads and stops everything again (also
# on failure):
#   (a) HelloWorld: beamsync's ExecutionRunner (created → submitted → completed) against the same
#       steps run from a shell by scripts/slurm-submit-by-hand.sh, interleaved; goal for the
#       submission (connect .. job id) <= 1.2x.
#   (b) 50 jobs in flight on one target: one poller asked for every job at once each cycle; SSH
#       sessions, remote commands per cycle and the cycle's time against one bare squeue of the
#       same jobs over the open session; goal one session, <= 2 commands, <= 1.5x.
# Arguments go to `beamsync-bench slurm`: [--runs 3] [--jobs 50] [--cycles 20] [--only submit|poll].
# Only one Slurm test cluster can run on a machine: this script stops the one it starts
# (BEAMSYNC_BENCH_SLURM_DIR [a temporary directory]; the cluster's settings are scripts/slurm.sh's).
# Ports: PostgreSQL BEAMSYNC_BENCH_PG_PORT [55469]; DALiuGE from BEAMSYNC_BENCH_DLG_PORT_BASE [39000]:
# NM 39000, DIM 39001, TM 39084, NM events 36555, NM RPC 37666 (and dlg.sh's DIM with a dead NM
# on 39002/39999).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
ensure_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"

work="$(mktemp -d /tmp/beamsync-bench-slurm.XXXXXX)"
chmod 755 "$work"
slurm_dir=${BEAMSYNC_BENCH_SLURM_DIR:-$work/slurm}
cleanup() {
  local status=$?
  bash scripts/slurm.sh stop "$slurm_dir" >/dev/null 2>&1 || true
  bash scripts/dlg.sh stop "$work/dlg" >/dev/null 2>&1 || true
  bash scripts/postgres.sh stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT INT TERM

log "building beamsync-bench (release)"
swift build -c release --product beamsync-bench

log "starting PostgreSQL on 127.0.0.1:${BEAMSYNC_BENCH_PG_PORT:-55469}"
export BEAMSYNC_BENCH_DATABASE_URL="$(bash scripts/postgres.sh start "$work/pg" "${BEAMSYNC_BENCH_PG_PORT:-55469}" | tail -n 1)"

base=${BEAMSYNC_BENCH_DLG_PORT_BASE:-39000}
export BEAMSYNC_DLG_NM_PORT=$base BEAMSYNC_DLG_DIM_PORT=$((base + 1)) BEAMSYNC_DLG_DEAD_NM_DIM_PORT=$((base + 2))
export BEAMSYNC_DLG_TM_PORT=$((base + 84)) BEAMSYNC_DLG_DEAD_NM_PORT=$((base + 999))
export BEAMSYNC_DLG_NM_EVENTS_PORT=$((base - 2445)) BEAMSYNC_DLG_NM_RPC_PORT=$((base - 1334))
log "starting the DALiuGE 6.6.0 Translator Manager on 127.0.0.1:$BEAMSYNC_DLG_TM_PORT"
dlg_env="$(bash scripts/dlg.sh start "$work/dlg")"
set -a
eval "$dlg_env"
set +a

log "starting Slurm 22.05 and its SSH login node"
slurm_env="$(bash scripts/slurm.sh start "$slurm_dir")"
eval "$slurm_env"

.build/release/beamsync-bench slurm "$@"
