#!/usr/bin/env bash
# A real DALiuGE 6.6.0 stack on loopback for the engine's integration tests:
# Translator Manager (dlg tm), Data Island Manager (dlg dim) and one Node Manager (dlg nm).
#
#   scripts/dlg.sh install       create (or reuse) the venv with DALiuGE 6.6.0 and its pins
#   scripts/dlg.sh start DIR     install if needed, start NM, DIM, TM (and a DIM whose NM is
#                                down) with their state in DIR,
#                                wait until each answers; prints KEY=VALUE lines for the tests
#                                (also written to DIR/env) on stdout
#   scripts/dlg.sh status DIR    one line per process; exit 3 when one is not running
#   scripts/dlg.sh stop DIR      stop the three processes (by PID from DIR) and remove DIR
#
# All commands are idempotent. Everything binds 127.0.0.1 only.
#
# Debian packages it needs (the project's test script installs them):
#   python3 python3-venv python3-dev gcc curl util-linux
# (python3-dev and gcc build the `netifaces` sdist; curl probes readiness; flock serialises installs)
#
# Environment (defaults in brackets):
#   BEAMSYNC_DLG_VENV       venv directory, reused when complete   [/var/cache/beamsync/dlg-venv]
#   BEAMSYNC_DLG_PYTHON     interpreter that creates the venv      [python3]
#   BEAMSYNC_DLG_HOST       bind address                           [127.0.0.1]
#   BEAMSYNC_DLG_TM_PORT    Translator Manager REST port           [18084]
#   BEAMSYNC_DLG_DIM_PORT   Data Island Manager REST port          [18001]
#   BEAMSYNC_DLG_NM_PORT    Node Manager REST port                 [18000]
#   BEAMSYNC_DLG_NM_EVENTS_PORT  NM ZeroMQ events port             [15555]
#   BEAMSYNC_DLG_NM_RPC_PORT     NM ZeroRPC port                   [16666]
#   BEAMSYNC_DLG_NM_THREADS NM worker threads (0 = one per core)   [8]
#   BEAMSYNC_DLG_DEAD_NM_DIM_PORT  a second DIM whose only NM is down (nothing listens on
#                           BEAMSYNC_DLG_DEAD_NM_PORT), for tests of a stalled island   [18002]
#   BEAMSYNC_DLG_DEAD_NM_PORT      the dead NM's REST port                               [18999]
#   BEAMSYNC_DLG_START_TIMEOUT  seconds to wait for each process   [60]
set -euo pipefail

VENV=${BEAMSYNC_DLG_VENV:-/var/cache/beamsync/dlg-venv}
PYTHON=${BEAMSYNC_DLG_PYTHON:-python3}
HOST=${BEAMSYNC_DLG_HOST:-127.0.0.1}
TM_PORT=${BEAMSYNC_DLG_TM_PORT:-18084}
DIM_PORT=${BEAMSYNC_DLG_DIM_PORT:-18001}
NM_PORT=${BEAMSYNC_DLG_NM_PORT:-18000}
NM_EVENTS_PORT=${BEAMSYNC_DLG_NM_EVENTS_PORT:-15555}
NM_RPC_PORT=${BEAMSYNC_DLG_NM_RPC_PORT:-16666}
NM_THREADS=${BEAMSYNC_DLG_NM_THREADS:-8}
DEAD_DIM_PORT=${BEAMSYNC_DLG_DEAD_NM_DIM_PORT:-18002}
DEAD_NM_PORT=${BEAMSYNC_DLG_DEAD_NM_PORT:-18999}
START_TIMEOUT=${BEAMSYNC_DLG_START_TIMEOUT:-60}

# DALiuGE 6.6.0 leaves its web stack unpinned and today's PyPI breaks it:
#   fastapi>=0.155 makes `dlg tm` crash at import (Form(enum=...));
#   starlette>=1.3.1 rejects form fields over 1 MiB (large graphs get 400), >=1.0 breaks HTML pages.
PINS=(
    "daliuge-common==6.6.0"
    "daliuge-engine==6.6.0"
    "daliuge-translator==6.6.0"
    "fastapi<0.155"
    "starlette==0.52.1"
)
MARKER_NAME=.beamsync-dlg-pins     # in the venv: written last, holds the pin list
RUN_MARKER=.beamsync-dlg-run       # in DIR: stop only deletes directories this script created

usage() { echo "usage: $0 install | start DIR | status DIR | stop DIR" >&2; exit 64; }
log() { echo "dlg.sh: $*" >&2; }

expected_marker() { printf '%s\n' "${PINS[@]}"; }

# Complete: the marker holds today's pins, and the venv's interpreter (tied to the Python that
# made it) still runs dlg.
venv_complete() {
    [[ -x $VENV/bin/dlg && -f $VENV/$MARKER_NAME ]] &&
        [[ "$(cat "$VENV/$MARKER_NAME")" == "$(expected_marker)" ]] &&
        "$VENV/bin/python" -c 'import dlg' 2>/dev/null
}

cmd_install() {
    command -v "$PYTHON" >/dev/null || { log "$PYTHON not found (apt-get install python3 python3-venv python3-dev gcc)"; exit 1; }
    mkdir -p "$(dirname "$VENV")"
    # One installer at a time; a second caller waits, then finds the venv complete.
    exec 9>"$VENV.lock"
    flock 9
    if venv_complete; then
        log "venv $VENV is complete; reusing it"
        return 0
    fi
    command -v gcc >/dev/null || { log "gcc and python3-dev are needed to build netifaces"; exit 1; }
    local t0=$SECONDS
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV" || { log "python3 -m venv failed (apt-get install python3-venv)"; exit 1; }
    "$VENV/bin/pip" install -q --prefer-binary -U pip wheel setuptools
    "$VENV/bin/pip" install -q --prefer-binary "${PINS[@]}"
    "$VENV/bin/dlg" version >/dev/null
    expected_marker >"$VENV/$MARKER_NAME"
    log "installed DALiuGE into $VENV in $((SECONDS - t0))s ($(du -sh "$VENV" | cut -f1))"
}

pidfile() { echo "$DIR/$1.pid"; }

is_running() {
    local pf; pf=$(pidfile "$1")
    [[ -s $pf ]] && kill -0 "$(cat "$pf")" 2>/dev/null
}

port_in_use() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

wait_ready() { # name url curl-args...
    local name=$1 url=$2 i; shift 2
    for ((i = 0; i < START_TIMEOUT * 10; i++)); do
        curl -s -o /dev/null --max-time 2 "$@" "$url" && return 0
        if ! is_running "$name"; then
            log "$name exited during start-up; last lines of $DIR/$name.out:"
            tail -20 "$DIR/$name.out" >&2 || true
            return 1
        fi
        sleep 0.1
    done
    log "$name did not answer on $url within ${START_TIMEOUT}s"
    return 1
}

start_one() { # name url curl-args -- command...
    local name=$1 url=$2; shift 2
    local probe=()
    while [[ $1 != -- ]]; do probe+=("$1"); shift; done
    shift
    if is_running "$name"; then
        return 0
    fi
    local t0=$SECONDS
    # setsid: the servers outlive this script and do not get the caller's terminal signals.
    setsid "$@" >"$DIR/$name.out" 2>&1 </dev/null &
    echo $! >"$(pidfile "$name")"
    wait_ready "$name" "$url" "${probe[@]}"
    log "$name up (pid $(cat "$(pidfile "$name")"), $((SECONDS - t0))s)"
}

env_lines() {
    cat <<EOF
BEAMSYNC_TEST_TM_URL=http://$HOST:$TM_PORT
BEAMSYNC_TEST_DIM_HOST=$HOST
BEAMSYNC_TEST_DIM_PORT=$DIM_PORT
BEAMSYNC_TEST_NM_URL=http://$HOST:$NM_PORT
BEAMSYNC_TEST_DLG_WORK=$DIR/root/workspace
BEAMSYNC_TEST_DEAD_NM_DIM_PORT=$DEAD_DIM_PORT
EOF
}

cmd_start() {
    venv_complete || cmd_install
    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd)
    touch "$DIR/$RUN_MARKER"
    mkdir -p "$DIR/logs/dimx" "$DIR/lg" "$DIR/pgt" "$DIR/root/workspace"
    local name port
    for name in nm dim tm dimx; do
        is_running "$name" && continue
        case $name in
            nm) for port in "$NM_PORT" "$NM_EVENTS_PORT" "$NM_RPC_PORT"; do
                    port_in_use "$port" && { log "port $port on $HOST is taken by another process"; exit 1; }
                done ;;
            dim) port_in_use "$DIM_PORT" && { log "port $DIM_PORT on $HOST is taken by another process"; exit 1; } ;;
            tm) port_in_use "$TM_PORT" && { log "port $TM_PORT on $HOST is taken by another process"; exit 1; } ;;
            dimx) port_in_use "$DEAD_DIM_PORT" && { log "port $DEAD_DIM_PORT on $HOST is taken by another process"; exit 1; }
                  port_in_use "$DEAD_NM_PORT" && { log "port $DEAD_NM_PORT on $HOST must stay free (the dead NM)"; exit 1; } ;;
        esac
    done
    # Session workspaces (drop outputs) go to $DLG_ROOT/workspace/<sessionId>.
    export DLG_ROOT=$DIR/root
    start_one nm "http://$HOST:$NM_PORT/api" -- \
        "$VENV/bin/dlg" nm -H "$HOST" -P "$NM_PORT" --event_port "$NM_EVENTS_PORT" --rpc_port "$NM_RPC_PORT" \
        -t "$NM_THREADS" -l "$DIR/logs" -v
    # Every non-default NM port must be in the node string, or the DIM uses 5555/6666.
    start_one dim "http://$HOST:$DIM_PORT/api" -- \
        "$VENV/bin/dlg" dim -H "$HOST" -P "$DIM_PORT" -N "$HOST:$NM_PORT:$NM_EVENTS_PORT:$NM_RPC_PORT" \
        -l "$DIR/logs" -v
    # HEAD / is the TM's liveness route (curl -I, never -X HEAD). -d must be a dedicated directory.
    start_one tm "http://$HOST:$TM_PORT/" -I -- \
        "$VENV/bin/dlg" tm -H "$HOST" -p "$TM_PORT" -d "$DIR/lg" -t "$DIR/pgt" -l "$DIR/logs"
    # A DIM whose only Node Manager is down: every session call stalls 10 s, then 555.
    start_one dimx "http://$HOST:$DEAD_DIM_PORT/api" -- \
        "$VENV/bin/dlg" dim -H "$HOST" -P "$DEAD_DIM_PORT" -N "$HOST:$DEAD_NM_PORT:$((DEAD_NM_PORT - 1)):$((DEAD_NM_PORT - 2))" \
        -l "$DIR/logs/dimx"
    env_lines >"$DIR/env"
    env_lines
}

cmd_status() {
    [[ -d $DIR ]] || { log "$DIR does not exist"; exit 3; }
    local name rc=0
    for name in nm dim tm dimx; do
        if is_running "$name"; then
            echo "$name running pid=$(cat "$(pidfile "$name")")"
        else
            echo "$name stopped"; rc=3
        fi
    done
    return $rc
}

# SIGTERM to every process at once, SIGKILL to those still there after 10 s (a DIM whose NM is
# down spends longer than that trying to reach it while shutting down).
stop_all() {
    local name pf pids=() pid i alive
    for name in "$@"; do
        pf=$(pidfile "$name")
        [[ -s $pf ]] || continue
        pid=$(cat "$pf")
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
        fi
        rm -f "$pf"
    done
    for ((i = 0; i < 100; i++)); do
        alive=0
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        ((alive)) || return 0
        sleep 0.1
    done
    for pid in "${pids[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            log "pid $pid ignored SIGTERM for 10s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
}

cmd_stop() {
    [[ -d $DIR ]] || return 0
    if [[ ! -f $DIR/$RUN_MARKER ]]; then
        log "$DIR was not created by $0 start; not touching it"
        exit 1
    fi
    stop_all dimx tm dim nm
    rm -rf "$DIR"
}

case ${1:-} in
    install) [[ $# -eq 1 ]] || usage; cmd_install ;;
    start|status|stop)
        [[ $# -eq 2 && -n $2 ]] || usage
        DIR=$2
        "cmd_$1" ;;
    *) usage ;;
esac
