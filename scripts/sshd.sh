#!/usr/bin/env bash
# Private OpenSSH server on loopback for BeamsyncGit's ssh:// tests.
#   scripts/sshd.sh start DIR PORT   create keys/config (once) and start sshd on 127.0.0.1:PORT;
#                                    prints `export NAME=value` lines on stdout (also in DIR/env.sh)
#   scripts/sshd.sh stop DIR         stop it and remove DIR (only if this script created DIR)
#   scripts/sshd.sh restart DIR      stop sshd and its connections, keep DIR (and so the host and
#                                    client keys), start it again on the same port
# Both are idempotent. Installs nothing: the project's test script installs openssh-server.
#
# Run as root, sshd lets exactly one dedicated user log in, `beamsync-git` (created if missing,
# home DIR/home, shell /bin/sh, password field `*` so sshd without PAM accepts the account).
# As another user, sshd runs unprivileged and lets only that user in. Public-key auth only.
# The user's ~/.gitconfig trusts every repository (`safe.directory=*`), because the tests create
# repositories under DIR/repos as root and git-upload-pack runs as the test user.
#
# What it writes into DIR:
#   sshd_config, ssh_host_ed25519_key(.pub)       server config and its ed25519 host key
#   client/id_ed25519                              client key without a passphrase
#   client/id_ed25519_pass + client/passphrase     client key protected by a passphrase
#   client/id_rsa                                  RSA key (libssh2 1.10 cannot use it with OpenSSH >= 8.8)
#   client/known_hosts                             "[127.0.0.1]:PORT ssh-ed25519 ..."
#   authorized_keys                                all three public keys (root-owned, read by sshd)
#   repos/                                         where tests create the repositories they serve
#   sshd.log, sshd.pid, env.sh
#
# Test-script fragment (for scripts/test.sh; the lead engineer wires it in):
#
#   ensure_packages openssh-server openssh-client git
#   work="$(mktemp -d ...)"; chmod 755 "$work"   # already so: the test user must traverse it
#   cleanup() { ...; bash scripts/sshd.sh stop "$work/sshd" >/dev/null 2>&1 || true; ... }
#   log "starting sshd on 127.0.0.1:${BEAMSYNC_TEST_SSHD_PORT:-22422}"
#   sshd_env="$(bash scripts/sshd.sh start "$work/sshd" "${BEAMSYNC_TEST_SSHD_PORT:-22422}")"
#   eval "$sshd_env"    # (two steps, so that set -e stops on a failed start; `eval "$(...)"` would not)
#   # exports BEAMSYNC_TEST_SSHD_HOST, BEAMSYNC_TEST_SSHD_PORT, BEAMSYNC_TEST_SSH_USER,
#   # BEAMSYNC_TEST_SSH_KEY, BEAMSYNC_TEST_SSH_PASSPHRASE_KEY, BEAMSYNC_TEST_SSH_PASSPHRASE_FILE,
#   # BEAMSYNC_TEST_SSH_RSA_KEY, BEAMSYNC_TEST_SSH_KNOWN_HOSTS, BEAMSYNC_TEST_SSH_REPOS
#   export BEAMSYNC_REQUIRE_SERVICES=1
#
# Pitfalls handled: sshd needs /run/sshd (privilege separation) and an absolute path; without
# PAM it refuses accounts with a locked password field (`!`); StrictModes is off because DIR
# usually lives under world-writable /tmp and authorized_keys is kept outside the user's home
# (everything the script writes is still 0600/0644/0755 and root-owned); daemons started from a
# script must not inherit its stdout (a `$(...)` caller would hang), hence </dev/null >>log.
set -euo pipefail

MARKER=.beamsync-test-sshd   # stop only deletes directories this script created
TEST_USER=beamsync-git
SSHD=/usr/sbin/sshd

usage() { echo "usage: $0 start DIR PORT | restart DIR | stop DIR" >&2; exit 64; }
log() { echo "sshd.sh: $*" >&2; }

# PID from DIR/sshd.pid if that process is alive, not a zombie, and is sshd.
running_pid() {
    local dir=$1 pid state
    [[ -f "$dir/sshd.pid" ]] || return 1
    pid=$(cat "$dir/sshd.pid" 2>/dev/null) || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [[ -r "/proc/$pid/stat" ]] || return 1
    state=$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$pid/stat" 2>/dev/null) || return 1
    [[ "$state" != "Z" ]] || return 1
    [[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" == "$SSHD" ]] || return 1
    echo "$pid"
}

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

login_user() {
    if [[ $(id -u) -eq 0 ]]; then echo "$TEST_USER"; else id -un; fi
}

print_env() {
    local dir=$1 port=$2 user
    user=$(login_user)
    cat <<EOF
export BEAMSYNC_TEST_SSHD_HOST=127.0.0.1
export BEAMSYNC_TEST_SSHD_PORT=$port
export BEAMSYNC_TEST_SSH_USER=$user
export BEAMSYNC_TEST_SSH_KEY=$dir/client/id_ed25519
export BEAMSYNC_TEST_SSH_PASSPHRASE_KEY=$dir/client/id_ed25519_pass
export BEAMSYNC_TEST_SSH_PASSPHRASE_FILE=$dir/client/passphrase
export BEAMSYNC_TEST_SSH_RSA_KEY=$dir/client/id_rsa
export BEAMSYNC_TEST_SSH_KNOWN_HOSTS=$dir/client/known_hosts
export BEAMSYNC_TEST_SSH_REPOS=$dir/repos
EOF
}

ensure_user() {
    local home=$1
    if ! id "$TEST_USER" >/dev/null 2>&1; then
        useradd --system --home-dir "$home" --no-create-home --shell /bin/sh "$TEST_USER"
    elif [[ "$(getent passwd "$TEST_USER" | cut -d: -f6)" != "$home" ]]; then
        # Refused while the user has processes; logins work without it (only git's
        # safe.directory setting lives in the home directory).
        usermod --home "$home" "$TEST_USER" ||
            log "could not move $TEST_USER's home to $home; ssh logins work, git may distrust repositories"
    fi
    # sshd without PAM refuses accounts whose password field is locked ("!"). Changed only when
    # needed: usermod refuses while the user has processes (a remote command may outlive its
    # connection, e.g. across `restart`).
    if [[ "$(getent shadow "$TEST_USER" | cut -d: -f2)" != "*" ]]; then
        usermod -p '*' "$TEST_USER"
    fi
}

key() {   # key FILE TYPE [PASSPHRASE]
    [[ -f "$1" ]] || ssh-keygen -q -t "$2" -N "${3:-}" -C "beamsync-test-$2" -f "$1"
}

start() {
    local dir=$1 port=$2 user pid
    [[ "$port" =~ ^[0-9]+$ ]] || usage
    [[ -x "$SSHD" ]] || { log "$SSHD not found; install it with: apt-get install openssh-server"; exit 1; }
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)

    if pid=$(running_pid "$dir"); then
        if [[ "$(cat "$dir/port" 2>/dev/null)" == "$port" ]]; then
            print_env "$dir" "$port"
            return
        fi
        log "an sshd from $dir already runs on port $(cat "$dir/port" 2>/dev/null); stop it first"
        exit 1
    fi
    if [[ ! -f "$dir/$MARKER" ]]; then
        [[ -z "$(ls -A "$dir")" ]] || { log "$dir is not empty and not ours; refusing"; exit 1; }
        touch "$dir/$MARKER"
    fi
    if port_in_use "$port"; then
        log "127.0.0.1:$port is already in use by another program; choose another port"
        exit 1
    fi

    chmod 755 "$dir"
    mkdir -p "$dir/client" "$dir/repos" "$dir/home"
    chmod 700 "$dir/client"
    chmod 755 "$dir/repos"
    user=$(login_user)
    if [[ $(id -u) -eq 0 ]]; then
        ensure_user "$dir/home"
        mkdir -p /run/sshd && chmod 755 /run/sshd
    fi
    printf '[safe]\n\tdirectory = *\n' >"$dir/home/.gitconfig"
    chmod 644 "$dir/home/.gitconfig"
    chmod 755 "$dir/home"
    [[ $(id -u) -ne 0 ]] || chown "$TEST_USER": "$dir/home" "$dir/home/.gitconfig"
    if [[ $(id -u) -eq 0 ]]; then
        # The home could not be moved here (the user still had processes of an earlier run):
        # make sure the home it has exists, or sshd refuses every login ("Could not chdir").
        local current_home
        current_home=$(getent passwd "$TEST_USER" | cut -d: -f6)
        if [[ "$current_home" != "$dir/home" && -n "$current_home" ]]; then
            install -d -m 755 -o "$TEST_USER" "$current_home"
            install -m 644 -o "$TEST_USER" "$dir/home/.gitconfig" "$current_home/.gitconfig"
        fi
    fi

    key "$dir/ssh_host_ed25519_key" ed25519
    key "$dir/client/id_ed25519" ed25519
    [[ -f "$dir/client/passphrase" ]] || { head -c 18 /dev/urandom | base64 >"$dir/client/passphrase"; }
    chmod 600 "$dir/client/passphrase"
    key "$dir/client/id_ed25519_pass" ed25519 "$(cat "$dir/client/passphrase")"
    key "$dir/client/id_rsa" rsa
    cat "$dir/client/id_ed25519.pub" "$dir/client/id_ed25519_pass.pub" "$dir/client/id_rsa.pub" >"$dir/authorized_keys"
    chmod 644 "$dir/authorized_keys"
    echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$dir/ssh_host_ed25519_key.pub")" >"$dir/client/known_hosts"
    echo "$port" >"$dir/port"
    # sshd reads authorized_keys as the user, and git-upload-pack runs as the user: every
    # directory above DIR must let it through (a `mktemp -d` parent is 0700).
    if [[ $(id -u) -eq 0 ]] && ! runuser -u "$TEST_USER" -- test -r "$dir/authorized_keys" -a -x "$dir/repos"; then
        log "user $TEST_USER cannot reach $dir: make its parent directories traversable (chmod o+x, e.g. chmod 755 $(dirname "$dir"))"
        exit 1
    fi

    cat >"$dir/sshd_config" <<EOF
# Generated by scripts/sshd.sh: a private sshd for beamsync's tests.
Port $port
ListenAddress 127.0.0.1
HostKey $dir/ssh_host_ed25519_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
AllowUsers $user
UsePAM no
StrictModes no
PrintMotd no
X11Forwarding no
AllowTcpForwarding no
MaxStartups 100:30:200
LogLevel VERBOSE
Subsystem sftp internal-sftp
EOF
    "$SSHD" -t -f "$dir/sshd_config" || { log "sshd rejected $dir/sshd_config"; exit 1; }
    "$SSHD" -f "$dir/sshd_config" -E "$dir/sshd.log" </dev/null >>"$dir/sshd.log" 2>&1 9>&- || {
        log "sshd did not start; see $dir/sshd.log"; tail -n 20 "$dir/sshd.log" >&2; exit 1; }

    # Ready when a real key login with strict host-key checking works.
    local i
    for i in $(seq 1 50); do
        if ssh -q -p "$port" -i "$dir/client/id_ed25519" -o BatchMode=yes -o IdentitiesOnly=yes \
            -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$dir/client/known_hosts" \
            -o ConnectTimeout=2 "$user@127.0.0.1" true </dev/null >/dev/null 2>&1; then
            print_env "$dir" "$port" | tee "$dir/env.sh"
            return
        fi
        sleep 0.1
    done
    log "sshd on 127.0.0.1:$port does not accept the test key; see $dir/sshd.log"
    tail -n 20 "$dir/sshd.log" >&2
    exit 1
}

# Ends the listener and its per-connection children; leaves DIR alone.
stop_processes() {
    local dir=$1 pid child i
    if pid=$(running_pid "$dir"); then
        # Per-connection children first (found by parent PID, never by name), then the listener.
        for child in $(ps -o pid= --ppid "$pid" 2>/dev/null); do kill "$child" 2>/dev/null || true; done
        kill "$pid" 2>/dev/null || true
        for i in $(seq 1 50); do
            running_pid "$dir" >/dev/null || break
            sleep 0.1
        done
        if running_pid "$dir" >/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
    fi
}

stop() {
    local dir=$1
    [[ -d "$dir" ]] || return 0
    dir=$(cd "$dir" && pwd)
    stop_processes "$dir"
    if [[ -f "$dir/$MARKER" ]]; then
        rm -rf "$dir"
    else
        log "$dir was not created by this script; stopped sshd but left the directory"
    fi
}

restart() {
    local dir=$1 port i
    [[ -f "$dir/$MARKER" && -f "$dir/port" ]] || { log "$dir holds no sshd started by this script"; exit 1; }
    dir=$(cd "$dir" && pwd)
    port=$(cat "$dir/port")
    stop_processes "$dir"
    # The old listener's socket may linger for a moment after it exits.
    for i in $(seq 1 50); do
        port_in_use "$port" || break
        sleep 0.1
    done
    start "$dir" "$port"
}

case "${1:-}" in
    start) [[ $# -eq 3 ]] || usage; start "$2" "$3" ;;
    restart) [[ $# -eq 2 ]] || usage; restart "$2" ;;
    stop) [[ $# -eq 2 ]] || usage; stop "$2" ;;
    *) usage ;;
esac
