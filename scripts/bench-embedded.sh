#!/usr/bin/env bash
# What the embedded PostgreSQL costs a command: `beamsync status` with DATABASE_URL unset, timed
# against the same command on a server that is already running (DATABASE_URL set), so the
# difference is the embedded server's start and stop.
#
#   scripts/bench-embedded.sh [BINARY] [RUNS]     default: .build/debug/beamsync, 20 runs
#
# Prints the median and the fastest and slowest run of each, in seconds. Uses a private
# BEAMSYNC_HOME under /tmp (the first run's initdb is not counted) and stops what it starts.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=$(realpath "${1:-.build/debug/beamsync}")
runs=${2:-20}

home="$(mktemp -d /tmp/beamsync-bench-embedded.XXXXXX)"
chmod 755 "$home"
data="$home/postgres/data"
pg_ctl_as_owner() {
    local pg_ctl
    pg_ctl="$(ls -d /usr/lib/postgresql/*/bin | sort -rV | head -n1)/pg_ctl"
    if [[ $(id -u) -eq 0 ]]; then (cd / && runuser -u postgres -- "$pg_ctl" "$@"); else "$pg_ctl" "$@"; fi
}
cleanup() {
    [[ -f "$data/postmaster.pid" ]] && pg_ctl_as_owner stop -D "$data" -m immediate -s >/dev/null 2>&1 || true
    rm -rf "$home"
}
trap cleanup EXIT INT TERM

export BEAMSYNC_HOME="$home" NO_COLOR=1
unset DATABASE_URL

# One timed run of `beamsync status` in seconds (fails the script if the command fails).
timed() {
    local start end
    start=$(date +%s%N)
    "$binary" status >/dev/null 2>"$home/last.err" || { cat "$home/last.err" >&2; exit 1; }
    end=$(date +%s%N)
    awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f\n", (e - s) / 1e9 }'
}

summary() {
    sort -n | awk '{ v[NR] = $1 } END { printf "median %.3f s  (fastest %.3f, slowest %.3f, %d runs)\n", v[int((NR + 1) / 2)], v[1], v[NR], NR }'
}

"$binary" status >/dev/null 2>&1   # initdb and the first start, not counted
[[ ! -f "$data/postmaster.pid" ]] || { echo "the embedded server was left running after a command" >&2; exit 1; }

echo "binary: $binary"
printf 'embedded, started and stopped by each command: '
for _ in $(seq "$runs"); do timed; done | summary

pg_ctl_as_owner start -D "$data" -l "$home/postgres/postgres.log" -w -s
export DATABASE_URL="host=$home/postgres port=5432 dbname=beamsync user=beamsync"
printf 'the same server already running (DATABASE_URL): '
for _ in $(seq "$runs"); do timed; done | summary
