#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install what is missing, build beamsync, reconcile
# the example GitOps repository (examples/gitops-repo) into PostgreSQL, and run the execution it
# declares until it ends. With DATABASE_URL unset, beamsync starts its own private PostgreSQL
# under $BEAMSYNC_HOME and stops it again afterwards. The second plan shows that a reconciled
# repository plans no changes.
#
# The execution (executions/hello-2026-11-25.yaml) uses the profile local-dim: a DALiuGE
# Translator Manager on 127.0.0.1:18084 and Data Island Manager on 127.0.0.1:18001, where
# `scripts/dlg.sh start` puts them. It runs on the real DALiuGE when
#   - BEAMPIPE_USE_REAL_BACKENDS=true (then both must answer), or
#   - both already answer, or
#   - DALiuGE is installed (`scripts/dlg.sh install`): the stack is started for the run and stopped;
# otherwise on the simulated backend, which contacts nothing. The script says which.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
ensure_packages "${BUILD_PACKAGES[@]}" postgresql
swift build --product beamsync
beamsync=$PWD/.build/debug/beamsync
example=examples/gitops-repo
execution=hello-2026-11-25

log "validate"
$beamsync validate "$example"
log "apply (plan, then write in one transaction)"
$beamsync apply --dir "$example" --auto-approve "$@"
log "plan again: nothing left to do"
$beamsync plan --dir "$example" --detailed-exitcode

work="$(mktemp -d /tmp/beamsync-example.XXXXXX)"
controller_pid=""
cleanup() {
  local status=$?
  if [[ -n $controller_pid ]] && kill -0 "$controller_pid" 2>/dev/null; then
    kill -TERM "$controller_pid" 2>/dev/null || true
    wait "$controller_pid" 2>/dev/null || true
  fi
  [[ -d $work/dlg ]] && bash scripts/dlg.sh stop "$work/dlg" >/dev/null 2>&1 || true
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT INT TERM

# Where the example's local-dim profile sends the graph.
tm_url=http://127.0.0.1:18084
dim_url=http://127.0.0.1:18001
answers() { curl -s -o /dev/null --max-time 3 -I "$tm_url/" && curl -s -o /dev/null --max-time 3 "$dim_url/api"; }
dlg_installed() { "${BEAMSYNC_DLG_VENV:-/var/cache/beamsync/dlg-venv}/bin/dlg" version >/dev/null 2>&1; }

if [[ ${BEAMPIPE_USE_REAL_BACKENDS:-} == true ]]; then
  command -v curl >/dev/null || ensure_packages curl
  answers || { log "BEAMPIPE_USE_REAL_BACKENDS=true, but DALiuGE does not answer at $tm_url and $dim_url (start it with: scripts/dlg.sh start DIR)"; exit 1; }
  backend="the real DALiuGE at $tm_url (Translator Manager) and $dim_url (Data Island Manager)"
elif command -v curl >/dev/null && answers; then
  export BEAMPIPE_USE_REAL_BACKENDS=true
  backend="the real DALiuGE already running at $tm_url and $dim_url"
elif dlg_installed && command -v curl >/dev/null; then
  log "starting DALiuGE 6.6.0 on loopback for the example (scripts/dlg.sh)"
  BEAMSYNC_DLG_TM_PORT=18084 BEAMSYNC_DLG_DIM_PORT=18001 bash scripts/dlg.sh start "$work/dlg" >/dev/null
  export BEAMPIPE_USE_REAL_BACKENDS=true
  backend="the real DALiuGE that scripts/dlg.sh started at $tm_url and $dim_url"
else
  export BEAMPIPE_USE_REAL_BACKENDS=false
  backend="the simulated backend (no DALiuGE at $tm_url; install it with scripts/dlg.sh install, or set BEAMPIPE_USE_REAL_BACKENDS=true with one running)"
fi
log "run execution $execution on $backend"

# The controller runs executions that an apply created: it reads the same documents from a git
# repository (here a one-commit copy of the example), finds nothing left to apply, and its
# runner takes the pending execution to a terminal state.
cp -r "$example" "$work/repo"
git -C "$work/repo" init -q -b main
git -C "$work/repo" -c user.name=beamsync -c user.email=beamsync@localhost add -A
git -C "$work/repo" -c user.name=beamsync -c user.email=beamsync@localhost commit -q -m example
port=""
for _ in $(seq 1 50); do
  candidate=$((20000 + RANDOM % 20000))
  (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null || { port=$candidate; break; }
done
[[ -n $port ]] || { log "no free loopback port for the controller"; exit 1; }
$beamsync run --repo "file://$work/repo" --interval 1h --listen "127.0.0.1:$port" \
  --cache-dir "$work/cache" >"$work/controller.log" 2>&1 &
controller_pid=$!
controller_alive() {
  kill -0 "$controller_pid" 2>/dev/null && return 0
  log "the controller exited; its log:"; cat "$work/controller.log" >&2; exit 1
}
# Readiness (/readyz: its database answers) first: with DATABASE_URL unset the controller owns the
# embedded PostgreSQL, and the `executions show` calls below then use it without stopping it.
readyz() {
  local line
  exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
  printf 'GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
  read -r line <&3 || true
  exec 3<&-
  [[ $line == *" 200 "* ]]
}
for _ in $(seq 1 120); do
  controller_alive
  readyz 2>/dev/null && break
  sleep 0.5
done
readyz 2>/dev/null || { log "the controller did not become ready within 60 s; its log:"; cat "$work/controller.log" >&2; exit 1; }

status=""
for _ in $(seq 1 240); do
  controller_alive
  status=$(NO_COLOR=1 $beamsync executions show "$execution" 2>/dev/null | awk '$1 == "Status" { print $2 }') || true
  case $status in completed|failed|cancelled|not_submitted) break ;; esac
  sleep 0.5
done
NO_COLOR=1 $beamsync executions show "$execution"
case $status in
  completed|not_submitted) log "execution $execution: $status on $backend" ;;
  failed|cancelled) log "execution $execution: $status on $backend"; exit 1 ;;
  *) log "execution $execution did not end within 120 s (status '${status:-unknown}'); the controller's log:"
     cat "$work/controller.log" >&2; exit 1 ;;
esac
