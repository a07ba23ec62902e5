#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for tests.
#   scripts/postgres.sh start DIR PORT   init (once) and start; prints the DATABASE_URL on stdout
#   scripts/postgres.sh stop DIR         stop it and remove DIR
# Both are idempotent. Installs nothing: the project's test script installs `postgresql`.
# Speed over durability: fsync=off, synchronous_commit=off (the data is thrown away).
set -euo pipefail

MARKER=.beamsync-test-cluster   # stop only deletes directories this script created

usage() { echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 64; }
log() { echo "postgres.sh: $*" >&2; }

find_bindir() {
    local d
    for d in /usr/lib/postgresql/15/bin $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
        [[ -x "$d/pg_ctl" && -x "$d/initdb" ]] && { echo "$d"; return; }
    done
    if command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then
        dirname "$(command -v pg_ctl)"; return
    fi
    log "PostgreSQL server binaries not found; install them with: apt-get install postgresql"
    exit 1
}

# PostgreSQL refuses to run as root: run its tools as the `postgres` system user then.
as_pg() {
    if [[ $(id -u) -eq 0 ]]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

start() {
    local dir=$1 port=$2 bin
    bin=$(find_bindir)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [[ ! -f "$dir/data/PG_VERSION" ]]; then
        [[ -z "$(ls -A "$dir")" || -f "$dir/$MARKER" ]] || { log "$dir is not empty and not ours; refusing"; exit 1; }
        touch "$dir/$MARKER"
        if [[ $(id -u) -eq 0 ]]; then
            id postgres >/dev/null 2>&1 || { log "user 'postgres' missing; apt-get install postgresql"; exit 1; }
            chown postgres: "$dir"
        fi
        chmod 700 "$dir"
        as_pg "$bin/initdb" -D "$dir/data" --auth=trust --username=postgres \
            --encoding=UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
            || { cat "$dir/initdb.log" >&2; exit 1; }
        cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF
    fi
    if as_pg "$bin/pg_ctl" status -D "$dir/data" >/dev/null 2>&1; then
        log "already running in $dir"
    else
        as_pg "$bin/pg_ctl" start -D "$dir/data" -l "$dir/server.log" -w -t 60 >/dev/null \
            || { cat "$dir/server.log" >&2; exit 1; }
    fi
    echo "postgresql://postgres@127.0.0.1:$port/postgres"
}

stop() {
    local dir=$1 bin
    [[ -d "$dir" ]] || return 0
    [[ -f "$dir/$MARKER" ]] || { log "$dir was not created by this script; refusing to remove it"; exit 1; }
    bin=$(find_bindir)
    if [[ -f "$dir/data/PG_VERSION" ]] && as_pg "$bin/pg_ctl" status -D "$dir/data" >/dev/null 2>&1; then
        as_pg "$bin/pg_ctl" stop -D "$dir/data" -m fast -w >/dev/null
    fi
    rm -rf "$dir"
}

case "${1:-}" in
    start) [[ $# -eq 3 ]] || usage; start "$2" "$3" ;;
    stop) [[ $# -eq 2 ]] || usage; stop "$2" ;;
    *) usage ;;
esac
