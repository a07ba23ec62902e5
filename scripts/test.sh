#!/usr/bin/env bash
# Runs every beamsync test on a fresh Debian 12 machine: installs the system packages that are
# missing, starts the real services the tests talk to on private ports, runs `swift test`, and
# stops the services again (also on failure).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh

ensure_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"

work="$(mktemp -d /tmp/beamsync-test.XXXXXX)"
chmod 755 "$work"
cleanup() {
  local status=$?
  bash scripts/postgres.sh stop "$work/pg" >/dev/null 2>&1 || true
  bash scripts/sshd.sh stop "$work/sshd" >/dev/null 2>&1 || true
  bash scripts/dlg.sh stop "$work/dlg" >/dev/null 2>&1 || true
  bash scripts/slurm.sh stop "$work/slurm" >/dev/null 2>&1 || true
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT INT TERM

log "starting PostgreSQL on 127.0.0.1:${BEAMSYNC_TEST_PG_PORT:-55439}"
pg_url="$(bash scripts/postgres.sh start "$work/pg" "${BEAMSYNC_TEST_PG_PORT:-55439}" | tail -n 1)"
export BEAMSYNC_TEST_DATABASE_URL="$pg_url"
log "starting sshd on 127.0.0.1:${BEAMSYNC_TEST_SSHD_PORT:-22422}"
# Captured first, then evaluated: `eval "$(...)"` would hide a failed start from set -e.
sshd_env="$(bash scripts/sshd.sh start "$work/sshd" "${BEAMSYNC_TEST_SSHD_PORT:-22422}")"
eval "$sshd_env"

log "starting DALiuGE 6.6.0 (Translator Manager, Data Island Manager, Node Manager) on loopback"
dlg_env="$(bash scripts/dlg.sh start "$work/dlg")"
set -a
eval "$dlg_env"
set +a

log "starting Slurm 22.05 and its SSH login node on 127.0.0.1:${BEAMSYNC_SLURM_SSH_PORT:-22122}"
slurm_env="$(bash scripts/slurm.sh start "$work/slurm")"
eval "$slurm_env"

# Tests that need a service fail instead of skipping when it is missing.
export BEAMSYNC_REQUIRE_SERVICES=1
export BEAMSYNC_PYTHON=/usr/bin/python3

log "checking that Package.swift declares exactly what each target imports"
python3 scripts/check-imports.py

log "building"
swift build --build-tests
# The packaging checks (scripts/package-check.sh) run on a full run, or when asked for.
if [[ ${BEAMSYNC_PACKAGE_CHECK:-$([[ $# -eq 0 ]] && echo 1 || echo 0)} == 1 ]]; then
  log "checking the packaging: static binary, Debian 12 root, systemd unit, Kubernetes manifest"
  DATABASE_URL="$pg_url" bash scripts/package-check.sh
fi
log "running tests"
# One test at a time: many tests drive real processes and servers, and a 2-core machine running
# them all at once starves the concurrency pool (timeouts then measure load, not behaviour).
swift test --skip-build --no-parallel "$@"
