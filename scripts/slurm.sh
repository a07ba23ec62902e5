#!/usr/bin/env bash
# A real single-node Slurm 22.05 cluster plus an SSH "login node" on this machine, for the
# slurm_remote backend's integration tests and benchmarks. A test logs in over SSH as an
# unprivileged HPC user, uploads files, runs DALiuGE's create_dlg_job, sbatch, squeue, sacct and
# scancel, exactly as on a site's login node.
#
#   scripts/slurm.sh install           install the Debian packages and the login node's Python
#                                      venv (DALiuGE 6.6.0 + mpi4py built against MPICH)
#   scripts/slurm.sh start DIR         install if needed, then start munged, MariaDB, slurmdbd,
#                                      slurmctld, slurmd and sshd with all their state in DIR; wait
#                                      until a job can run and a key login works; prints
#                                      `export NAME=value` lines for the tests on stdout (also in
#                                      DIR/env.sh)
#   scripts/slurm.sh status DIR        one line per daemon, then sinfo and squeue; exit 3 when a
#                                      daemon is not running
#   scripts/slurm.sh restart-sshd DIR  end the login node's sshd and every SSH connection to it,
#                                      start it again and wait for a key login (jobs keep running)
#   scripts/slurm.sh stop DIR          cancel every job, stop every daemon started from DIR, remove
#                                      the network namespace; DIR keeps logs and the job database
# All commands are idempotent. Run as root on Debian 12; needs no systemd, cgroup setup or Docker.
# One cluster per machine: `start` refuses while a cluster from another DIR runs.
#
# Network: the Slurm daemons (and therefore every job) run in a private network namespace whose
# only interfaces are its loopback and one end of a veth pair (BEAMSYNC_SLURM_NODE_ADDR); the
# other end (BEAMSYNC_SLURM_HOST_ADDR) is in this machine's namespace. Slurm 22.05 cannot bind its
# daemons to one address, and DALiuGE's start_dlg_cluster binds its managers to every interface on
# fixed ports (8000/8001/5555/6666) and picks "the first interface that is not loopback" as the
# node's address: inside the namespace that is always the veth, and nothing listens on this
# machine's own interfaces. In the machine's namespace only sshd listens, on 127.0.0.1; MariaDB and
# munge use Unix sockets.
#
# Environment (defaults in brackets):
#   BEAMSYNC_SLURM_SSH_PORT      the login node's sshd port on 127.0.0.1                  [22122]
#   BEAMSYNC_SLURM_USER          the HPC user tests log in as                           [hpcuser]
#   BEAMSYNC_SLURM_NOISY_USER    a second user whose `sbatch` prints a notice line before the
#                                job id (its login PATH starts with ~/bin, which holds a wrapper)
#                                                                                      [hpcnoisy]
#   BEAMSYNC_SLURM_ACCOUNT       Slurm account both users belong to, their default     [testacct]
#   BEAMSYNC_SLURM_OTHER_ACCOUNT second account both users belong to                   [otheracct]
#   BEAMSYNC_SLURM_FOREIGN_ACCOUNT  an account that exists but has no test user in it [foreignacct]
#   BEAMSYNC_SLURM_PARTITION     default partition, no time limit                          [work]
#   BEAMSYNC_SLURM_OTHER_PARTITION  second partition, MaxTime 30 minutes                  [debug]
#   BEAMSYNC_SLURM_CPUS          CPUs the node advertises, whatever the machine has           [2]
#   BEAMSYNC_SLURM_MEMORY_MB     memory the node advertises (not consumable)               [4096]
#   BEAMSYNC_SLURM_MIN_JOB_AGE   seconds a finished job stays visible to squeue             [300]
#   BEAMSYNC_SLURM_SCHEDULER_PARAMETERS  slurm.conf SchedulerParameters; "" for Slurm's default
#                                (which delays every batch job by up to 3 s)   [batch_sched_delay=0]
#   BEAMSYNC_SLURM_NETNS         network namespace of the Slurm daemons          [beamsync-slurm]
#   BEAMSYNC_SLURM_HOST_ADDR     this machine's end of the veth pair (/30)           [10.213.0.1]
#   BEAMSYNC_SLURM_NODE_ADDR     the namespace's end: slurmctld, slurmdbd and the node [10.213.0.2]
#   BEAMSYNC_SLURM_CTLD_PORT / _SLURMD_PORT / _DBD_PORT   in the namespace      [6817/6818/6819]
#   BEAMSYNC_SLURM_VENV          login node venv, reused when complete
#                                                          [/var/cache/beamsync/slurm-dlg-venv]
#   BEAMSYNC_SLURM_PYTHON        interpreter for that venv; must be readable by the HPC users,
#                                so not one under /root                         [/usr/bin/python3]
#   BEAMSYNC_SLURM_WAIT          seconds to wait for each daemon                             [90]
#
# Debian packages (the project's test script installs them; `install` does when run alone):
#   munge slurmctld slurmd slurm-client slurmdbd mariadb-server-core mariadb-client-core
#   mpich libmpich-dev openssh-server openssh-client iproute2 util-linux
#   and for the venv (via scripts/dlg.sh): python3 python3-venv python3-dev gcc
#
# What it writes:
#   DIR/etc/        slurm.conf, slurmdbd.conf (slurm, 0600), cgroup.conf, sshd_config
#   DIR/munge/      munge key, seed and log (munge, 0700); DIR/munge-run/ its socket and pid
#   DIR/mysql/      MariaDB data directory and socket (slurm, 0750)
#   DIR/slurmctld/  StateSaveLocation; DIR/slurmd/ SlurmdSpoolDir; DIR/run/ pid files; DIR/log/
#   DIR/ssh/        sshd host key (ed25519)
#   DIR/client/     (root, 0700) id_ed25519 (no passphrase), id_ed25519_pass + passphrase,
#                   id_rsa (libssh2 1.10 cannot use RSA keys against OpenSSH >= 8.8),
#                   known_hosts with the line "[127.0.0.1]:PORT ssh-ed25519 ..."; keys are 0600
#   DIR/home/USER/  each HPC user's home (its passwd entry points here): .ssh/authorized_keys,
#                   dlg/ (the profile's dlg_root), dlg/log/ (its log_dir); the noisy user also has
#                   bin/sbatch, .profile and .bashrc
#   DIR/env.sh      the `export` lines printed by start
# Outside DIR: the two users (created, home set to DIR/home/USER, password field `*`), /run/sshd,
# the venv, the network namespace and its veth pair (removed by stop), /run/beamsync-slurm.dir
# (which DIR runs), and /etc/slurm/slurm.conf as a symlink to DIR/etc/slurm.conf while running if
# nothing else is there (so srun finds the config even in jobs started with --export=NONE).
#
# Pitfalls handled:
#   - no systemd: every daemon is started by hand; each gets </dev/null, a log file and no
#     inherited lock descriptor (a `$(...)` caller would otherwise hang until the daemons exit);
#   - PID 1 here reaps late, so a stopped daemon can stay a zombie for seconds: a PID counts as
#     running only when /proc/PID/stat is not Z and /proc/PID/exe is the expected binary;
#   - connections to slurmdbd (slurmctld, sacct, sacctmgr) ignore AuthInfo and use the munge socket
#     named by AccountingStoragePass, else /run/munge; both are set;
#   - slurmd 22.05 always loads a cgroup plugin, and autodetection fails on hybrid or missing
#     cgroup mounts: cgroup.conf names cgroup/v1, which needs no mount when no cgroup-based
#     proctrack/task plugin is configured;
#   - slurmctld accepts being the controller when SlurmctldHost's name is "localhost"; every other
#     place gets an IP address, so no name has to resolve;
#   - slurmdbd has no socket option for MariaDB: its client library takes the socket from
#     MYSQL_UNIX_PORT, and the database account `slurm` authenticates by Unix socket (no password);
#   - sshd needs /run/sshd and an absolute path; without PAM it refuses accounts whose password
#     field is locked (`!`);
#   - `nsenter --net`, not `ip netns exec`: the latter remounts /sys, which hides cgroups from slurmd;
#   - stop lets Slurm end the jobs (scancel, then waits), then ends whatever is left in the
#     namespace, so the namespace and its veth really go away.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SSH_PORT=${BEAMSYNC_SLURM_SSH_PORT:-22122}
HPC_USER=${BEAMSYNC_SLURM_USER:-hpcuser}
NOISY_USER=${BEAMSYNC_SLURM_NOISY_USER:-hpcnoisy}
ACCOUNT=${BEAMSYNC_SLURM_ACCOUNT:-testacct}
OTHER_ACCOUNT=${BEAMSYNC_SLURM_OTHER_ACCOUNT:-otheracct}
FOREIGN_ACCOUNT=${BEAMSYNC_SLURM_FOREIGN_ACCOUNT:-foreignacct}
PARTITION=${BEAMSYNC_SLURM_PARTITION:-work}
OTHER_PARTITION=${BEAMSYNC_SLURM_OTHER_PARTITION:-debug}
CPUS=${BEAMSYNC_SLURM_CPUS:-2}
MEMORY_MB=${BEAMSYNC_SLURM_MEMORY_MB:-4096}
MIN_JOB_AGE=${BEAMSYNC_SLURM_MIN_JOB_AGE:-300}
SCHED_PARAMS=${BEAMSYNC_SLURM_SCHEDULER_PARAMETERS-batch_sched_delay=0}
NETNS=${BEAMSYNC_SLURM_NETNS:-beamsync-slurm}
HOST_ADDR=${BEAMSYNC_SLURM_HOST_ADDR:-10.213.0.1}
NODE_ADDR=${BEAMSYNC_SLURM_NODE_ADDR:-10.213.0.2}
CTLD_PORT=${BEAMSYNC_SLURM_CTLD_PORT:-6817}
SLURMD_PORT=${BEAMSYNC_SLURM_SLURMD_PORT:-6818}
DBD_PORT=${BEAMSYNC_SLURM_DBD_PORT:-6819}
VENV=${BEAMSYNC_SLURM_VENV:-/var/cache/beamsync/slurm-dlg-venv}
PYTHON=${BEAMSYNC_SLURM_PYTHON:-/usr/bin/python3}
WAIT=${BEAMSYNC_SLURM_WAIT:-90}

CLUSTER=beamsync
MPI4PY_PIN="mpi4py==4.1.2"
PACKAGES=(munge slurmctld slurmd slurm-client slurmdbd mariadb-server-core mariadb-client-core
          mpich libmpich-dev openssh-server openssh-client iproute2 util-linux
          python3 python3-venv python3-dev gcc)
MARKER=.beamsync-slurm              # in DIR: stop and start only touch directories this script made
VENV_MARKER=.beamsync-slurm-extras  # in the venv: written after mpi4py was built
OWNER_FILE=/run/beamsync-slurm.dir  # which DIR the running cluster belongs to
LOCK_FILE=/run/lock/beamsync-slurm.lock
# veth names: at most 15 characters
VETH_HOST=bsslurm-host
VETH_NODE=bsslurm-node
DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd sshd)

# ensure_packages; its log() is replaced below
# shellcheck source-path=SCRIPTDIR
source "$HERE/lib/common.sh"

T0=$(date +%s%N)
log() { printf 'slurm.sh [%5.1fs]: %s\n' "$(( ($(date +%s%N) - T0) / 1000000 ))e-3" "$*" >&2; }
die() { echo "slurm.sh: error: $*" >&2; exit 1; }
usage() { echo "usage: $0 install | start DIR | status DIR | restart-sshd DIR | stop DIR" >&2; exit 64; }

# ------------------------------------------------------------------------------------- install

venv_extras_complete() {
    [[ -f $VENV/$VENV_MARKER && "$(cat "$VENV/$VENV_MARKER")" == "$MPI4PY_PIN" ]] &&
        "$VENV/bin/python" -c 'import dlg, mpi4py.MPI' 2>/dev/null
}

cmd_install() {
    local t0
    t0=$(date +%s)
    ensure_packages "${PACKAGES[@]}"
    log "Debian packages present ($(( $(date +%s) - t0 ))s)"
    [[ $PYTHON == /root/* || $(readlink -f "$PYTHON") == /root/* ]] &&
        die "BEAMSYNC_SLURM_PYTHON=$PYTHON lives under /root, which the HPC users cannot read; use /usr/bin/python3"
    # The same DALiuGE pins and install steps as the REST stack, in a venv of its own (built from
    # an interpreter every user can run), plus mpi4py for start_dlg_cluster.
    BEAMSYNC_DLG_VENV=$VENV BEAMSYNC_DLG_PYTHON=$PYTHON bash "$HERE/dlg.sh" install
    exec 8>"$VENV.extras.lock"
    flock 8
    if venv_extras_complete; then
        log "venv $VENV has DALiuGE and mpi4py; reusing it"
    else
        t0=$(date +%s)
        # PyPI's mpi4py wheels look for libmpi.so.12, which Debian's MPICH does not ship: build it
        # from source against MPICH. -O0 compiles its one huge C file several times faster (about
        # a minute instead of over three on 2 cores); a test cluster needs a working mpi4py, not
        # a fast one.
        rm -f "$VENV/$VENV_MARKER"
        MPICC=/usr/bin/mpicc.mpich CFLAGS=-O0 "$VENV/bin/pip" install -q --no-binary=mpi4py "$MPI4PY_PIN"
        "$VENV/bin/python" -c 'import mpi4py.MPI' || die "mpi4py does not load in $VENV"
        echo "$MPI4PY_PIN" >"$VENV/$VENV_MARKER"
        log "built $MPI4PY_PIN against MPICH in $(( $(date +%s) - t0 ))s"
    fi
    exec 8>&-
    chmod -R a+rX "$VENV"
}

packages_present() {
    [[ "$(dpkg-query -W -f='${Status}\n' "${PACKAGES[@]}" 2>/dev/null | grep -c 'install ok installed')" -eq ${#PACKAGES[@]} ]]
}

# ------------------------------------------------------------------------------ process handling

pidfile_of() {
    case $1 in
        munged) echo "$DIR/munge-run/munged.pid" ;;
        *) echo "$DIR/run/$1.pid" ;;
    esac
}

# alive: exists and is not a zombie
alive() {
    local state
    state=$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ -n $state && $state != Z && $state != X ]]
}

# The PID from the daemon's pid file, if that process is alive and runs the daemon's binary.
running_pid() {
    local f pid exe
    f=$(pidfile_of "$1")
    [[ -s $f ]] || return 1
    pid=$(tr -dc '0-9' <"$f")
    [[ -n $pid ]] && alive "$pid" || return 1
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
    [[ ${exe% (deleted)} == "$(readlink -f "/usr/sbin/$1")" ]] || return 1
    echo "$pid"
}

children_of() {
    local stat pid
    for stat in /proc/[0-9]*/stat; do
        pid=${stat#/proc/}; pid=${pid%/stat}
        [[ "$(sed -E 's/^[0-9]+ \(.*\) [A-Za-z] ([0-9]+).*/\1/' "$stat" 2>/dev/null)" == "$1" ]] && echo "$pid"
    done
    return 0
}

# TERM, wait up to 10 s, then KILL. With "with-children", the daemon's direct children (sshd's
# per-connection processes) get TERM too.
stop_daemon() {
    local name=$1 pid kids=() i
    if pid=$(running_pid "$name"); then
        [[ ${2:-} == with-children ]] && mapfile -t kids < <(children_of "$pid")
        kill -TERM "$pid" "${kids[@]}" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            alive "$pid" || break
            sleep 0.1
        done
        if alive "$pid"; then
            log "$name ($pid) ignored SIGTERM for 10 s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        for pid in "${kids[@]}"; do alive "$pid" && kill -KILL "$pid" 2>/dev/null; done
        log "stopped $name"
    fi
    rm -f "$(pidfile_of "$name")"
}

wait_for() { # seconds description command...
    local secs=$1 what=$2 i
    shift 2
    for ((i = 0; i < secs * 10; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    die "$what did not happen within ${secs}s (logs in $DIR/log)"
}

in_netns() { nsenter --net="/run/netns/$NETNS" "$@"; }

# Start a daemon with nothing inherited: no terminal input, no caller's stdout (a `$(...)` caller
# would wait for it), no lock descriptor.
spawn() { # logname command...
    local name=$1; shift
    "$@" </dev/null >>"$DIR/log/$name.stderr" 2>&1 8>&- 9>&-
}

# -------------------------------------------------------------------------------------- config

write_if_changed() { # path mode owner; content on stdin; returns 0 when the file changed
    local tmp
    tmp=$(mktemp "$1.XXXXXX")
    cat >"$tmp"
    chmod "$2" "$tmp"
    chown "$3" "$tmp"
    if [[ -f $1 ]] && cmp -s "$tmp" "$1"; then
        rm -f "$tmp"
        return 1
    fi
    mv -f "$tmp" "$1"
}

node_name() {
    local n
    n=$(hostname -s 2>/dev/null || uname -n)
    n=${n%%.*}
    echo "${n:-localhost}"
}

slurm_conf() {
    cat <<EOF
# Generated by scripts/slurm.sh: one node, daemons in network namespace $NETNS.
ClusterName=$CLUSTER
SlurmctldHost=localhost($NODE_ADDR)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge-run/munge.socket
StateSaveLocation=$DIR/slurmctld
SlurmdSpoolDir=$DIR/slurmd
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SchedulerParameters=$SCHED_PARAMS
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=$MIN_JOB_AGE
KillWait=10
InactiveLimit=0
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=$NODE_ADDR
AccountingStoragePort=$DBD_PORT
AccountingStoragePass=$DIR/munge-run/munge.socket
AccountingStorageEnforce=associations
# Requests no partition can satisfy are refused at submission (as most sites do), not left
# pending forever with reason PartitionTimeLimit or PartitionConfig.
EnforcePartLimits=ALL
JobCompType=jobcomp/none
NodeName=$NODE NodeAddr=$NODE_ADDR NodeHostname=$NODE CPUs=$CPUS RealMemory=$MEMORY_MB State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
PartitionName=$OTHER_PARTITION Nodes=ALL Default=NO MaxTime=30 State=UP
EOF
}

slurmdbd_conf() {
    cat <<EOF
# Generated by scripts/slurm.sh. MariaDB is reached through MYSQL_UNIX_PORT (set when started).
AuthType=auth/munge
AuthInfo=socket=$DIR/munge-run/munge.socket
DbdHost=localhost
DbdAddr=$NODE_ADDR
DbdPort=$DBD_PORT
SlurmUser=slurm
LogFile=$DIR/log/slurmdbd.log
PidFile=$DIR/run/slurmdbd.pid
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StorageLoc=slurm_acct_db
EOF
}

sshd_conf() {
    cat <<EOF
# Generated by scripts/slurm.sh: the login node's sshd, loopback only, public keys only.
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $DIR/ssh/ssh_host_ed25519_key
PidFile $DIR/run/sshd.pid
AuthorizedKeysFile .ssh/authorized_keys
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
AllowUsers $HPC_USER $NOISY_USER
UsePAM no
StrictModes yes
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowTcpForwarding no
MaxStartups 100:30:200
MaxSessions 64
LogLevel VERBOSE
Subsystem sftp internal-sftp
SetEnv SLURM_CONF=$DIR/etc/slurm.conf
EOF
}

# Returns 0 when a configuration file changed.
write_configs() {
    local changed=1
    slurm_conf | write_if_changed "$DIR/etc/slurm.conf" 644 root:root && changed=0
    slurmdbd_conf | write_if_changed "$DIR/etc/slurmdbd.conf" 600 slurm:slurm && changed=0
    printf '# Generated by scripts/slurm.sh: no cgroup-based plugin is used.\nCgroupPlugin=cgroup/v1\nCgroupAutomount=no\n' |
        write_if_changed "$DIR/etc/cgroup.conf" 644 root:root && changed=0
    sshd_conf | write_if_changed "$DIR/etc/sshd_config" 600 root:root && changed=0
    return $changed
}

make_dirs() {
    install -d -m 755 -o root -g root "$DIR/etc" "$DIR/ssh" "$DIR/slurmd" "$DIR/home"
    install -d -m 700 -o root -g root "$DIR/client"
    install -d -m 755 -o slurm -g slurm "$DIR/run" "$DIR/log"
    install -d -m 700 -o slurm -g slurm "$DIR/slurmctld"
    install -d -m 750 -o slurm -g slurm "$DIR/mysql"
    install -d -m 700 -o munge -g munge "$DIR/munge"
    install -d -m 755 -o munge -g munge "$DIR/munge-run"
    install -d -m 755 -o root -g root /run/sshd
}

key() { # file type passphrase [ssh-keygen options...]
    local file=$1 type=$2 passphrase=$3
    shift 3
    [[ -s $file ]] || ssh-keygen -q -t "$type" -N "$passphrase" -C "beamsync-slurm-$type" "$@" -f "$file"
}

make_keys() {
    [[ -s $DIR/munge/munge.key ]] || runuser -u munge -- mungekey --create --keyfile="$DIR/munge/munge.key"
    key "$DIR/ssh/ssh_host_ed25519_key" ed25519 ""
    key "$DIR/client/id_ed25519" ed25519 ""
    [[ -s $DIR/client/passphrase ]] || head -c 18 /dev/urandom | base64 >"$DIR/client/passphrase"
    key "$DIR/client/id_ed25519_pass" ed25519 "$(cat "$DIR/client/passphrase")"
    key "$DIR/client/id_rsa" rsa "" -b 2048
    chmod 600 "$DIR/client/id_ed25519" "$DIR/client/id_ed25519_pass" "$DIR/client/passphrase" "$DIR/client/id_rsa"
    echo "[127.0.0.1]:$SSH_PORT $(cut -d' ' -f1,2 "$DIR/ssh/ssh_host_ed25519_key.pub")" |
        write_if_changed "$DIR/client/known_hosts" 644 root:root || true
}

# The wrapper the noisy user's PATH finds first: a site notice on stdout, then the real sbatch.
NOISY_NOTICE="NOTICE: scratch purge runs on Fridays; check your quota with 'quota -s'"
noisy_sbatch() {
    cat <<EOF
#!/bin/sh
# Generated by scripts/slurm.sh: a site whose sbatch prints a line before the job id.
echo "$NOISY_NOTICE"
exec /usr/bin/sbatch "\$@"
EOF
}

make_user() { # name
    local user=$1 home=$DIR/home/$1 group
    if ! id "$user" >/dev/null 2>&1; then
        useradd --home-dir "$home" --no-create-home --shell /bin/bash --user-group "$user"
    elif [[ "$(getent passwd "$user" | cut -d: -f6)" != "$home" ]]; then
        usermod --home "$home" "$user" || die "cannot move $user's home to $home (processes of $user still running?)"
    fi
    # sshd without PAM refuses an account whose password field is locked ("!").
    [[ "$(getent shadow "$user" | cut -d: -f2)" == '*' ]] || usermod -p '*' "$user"
    group=$(id -gn "$user")
    install -d -m 755 -o "$user" -g "$group" "$home" "$home/dlg" "$home/dlg/log"
    install -d -m 700 -o "$user" -g "$group" "$home/.ssh"
    cat "$DIR/client/id_ed25519.pub" "$DIR/client/id_ed25519_pass.pub" "$DIR/client/id_rsa.pub" |
        write_if_changed "$home/.ssh/authorized_keys" 600 "$user:$group" || true
}

make_users() {
    local home=$DIR/home/$NOISY_USER group
    make_user "$HPC_USER"
    make_user "$NOISY_USER"
    group=$(id -gn "$NOISY_USER")
    install -d -m 755 -o "$NOISY_USER" -g "$group" "$home/bin"
    noisy_sbatch | write_if_changed "$home/bin/sbatch" 755 "$NOISY_USER:$group" || true
    # Login shells read ~/.profile after /etc/profile has reset PATH; commands run by sshd without a
    # login shell read ~/.bashrc (Debian's bash does so for sshd).
    # shellcheck disable=SC2016
    printf '# Generated by scripts/slurm.sh\n. "$HOME/.bashrc"\n' |
        write_if_changed "$home/.profile" 644 "$NOISY_USER:$group" || true
    # shellcheck disable=SC2016
    printf '# Generated by scripts/slurm.sh: a site wrapper comes first on PATH.\ncase ":$PATH:" in *":$HOME/bin:"*) ;; *) PATH="$HOME/bin:$PATH" ;; esac\nexport PATH\n' |
        write_if_changed "$home/.bashrc" 644 "$NOISY_USER:$group" || true
}

# ------------------------------------------------------------------------------------- network

netns_up() {
    if [[ ! -e /run/netns/$NETNS ]]; then
        ip link del "$VETH_HOST" 2>/dev/null || true
        ip netns add "$NETNS"
    fi
    if ! ip link show "$VETH_HOST" >/dev/null 2>&1; then
        ip link add "$VETH_HOST" type veth peer name "$VETH_NODE" netns "$NETNS"
        ip addr add "$HOST_ADDR/30" dev "$VETH_HOST"
        ip link set "$VETH_HOST" up
        ip -n "$NETNS" addr add "$NODE_ADDR/30" dev "$VETH_NODE"
        ip -n "$NETNS" link set "$VETH_NODE" up
    fi
    ip -n "$NETNS" link set lo up
}

netns_down() {
    local pids i
    [[ -e /run/netns/$NETNS ]] || { ip link del "$VETH_HOST" 2>/dev/null || true; return 0; }
    # Whatever still runs in the namespace was started by this cluster (jobs' leftovers).
    for i in TERM KILL; do
        pids=$(ip netns pids "$NETNS" 2>/dev/null || true)
        [[ -z $pids ]] && break
        log "ending processes left in namespace $NETNS with SIG$i: ${pids//$'\n'/ }"
        # shellcheck disable=SC2086
        kill -"$i" $pids 2>/dev/null || true
        sleep 1
    done
    ip netns del "$NETNS"
    ip link del "$VETH_HOST" 2>/dev/null || true
}

# -------------------------------------------------------------------------------------- daemons

export_slurm_conf() { export SLURM_CONF=$DIR/etc/slurm.conf; }

start_munged() {
    running_pid munged >/dev/null && return 0
    local sock=$DIR/munge-run/munge.socket
    spawn munged runuser -u munge -- /usr/sbin/munged --key-file="$DIR/munge/munge.key" --socket="$sock" \
        --pid-file="$(pidfile_of munged)" --log-file="$DIR/munge/munged.log" \
        --seed-file="$DIR/munge/munged.seed" || die "munged did not start: see $DIR/munge/munged.log"
    wait_for "$WAIT" "munged answering on $sock" sh -c "munge -n -S '$sock' | unmunge -S '$sock'"
    log "munged up"
}

db_sql() { mariadb --no-defaults -S "$DIR/mysql/mysqld.sock" -u root "$@"; }

start_mariadb() {
    running_pid mariadbd >/dev/null && return 0
    local opts=(--no-defaults --user=slurm --datadir="$DIR/mysql/data" --innodb-buffer-pool-size=32M
                --innodb-log-file-size=8M)
    if [[ ! -d $DIR/mysql/data/mysql ]]; then
        rm -rf "$DIR/mysql/data"
        # --force skips its host name lookup; socket authentication makes root@localhost and
        # slurm@localhost (the --user) accounts that need no password.
        mariadb-install-db "${opts[@]}" --auth-root-authentication-method=socket --skip-test-db --force \
            >"$DIR/log/mariadb-install-db.log" 2>&1 || die "mariadb-install-db failed: see $DIR/log/mariadb-install-db.log"
    fi
    # mariadbd does not daemonise itself: it runs in the background in a session of its own. The
    # redirections sit on the background command itself, so no shell holds the caller's stdout.
    setsid /usr/sbin/mariadbd "${opts[@]}" --socket="$DIR/mysql/mysqld.sock" \
        --pid-file="$(pidfile_of mariadbd)" --skip-networking --log-error="$DIR/log/mariadbd.log" \
        --performance-schema=OFF --key-buffer-size=1M --max-connections=64 --innodb-lock-wait-timeout=900 \
        </dev/null >>"$DIR/log/mariadbd.stderr" 2>&1 8>&- 9>&- &
    wait_for "$WAIT" "MariaDB answering on $DIR/mysql/mysqld.sock" db_sql -e 'SELECT 1'
    db_sql -e "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED VIA unix_socket;
               GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';"
    log "MariaDB up (socket only)"
}

start_slurmdbd() {
    running_pid slurmdbd >/dev/null && return 0
    spawn slurmdbd env MYSQL_UNIX_PORT="$DIR/mysql/mysqld.sock" nsenter --net="/run/netns/$NETNS" /usr/sbin/slurmdbd ||
        die "slurmdbd did not start: see $DIR/log/slurmdbd.log"
    wait_for "$WAIT" "slurmdbd answering" sacctmgr -n show cluster
    log "slurmdbd up"
}

# Two queries when everything exists already; sacctmgr only for what is missing.
setup_accounts() {
    local assocs defaults a u
    # Lines "cluster|account|user"; an account's own association has an empty user.
    assocs=$(sacctmgr -n -P show assoc format=cluster,account,user 2>/dev/null) ||
        die "sacctmgr cannot reach slurmdbd (see $DIR/log/slurmdbd.log)"
    grep -q "^$CLUSTER|" <<<"$assocs" || sacctmgr -i add cluster "$CLUSTER" >/dev/null
    for a in "$ACCOUNT" "$OTHER_ACCOUNT" "$FOREIGN_ACCOUNT"; do
        grep -qxF "$CLUSTER|$a|" <<<"$assocs" ||
            sacctmgr -i add account "$a" Cluster="$CLUSTER" Description="beamsync test account" Organization=beamsync >/dev/null
    done
    for u in "$HPC_USER" "$NOISY_USER"; do
        for a in "$ACCOUNT" "$OTHER_ACCOUNT"; do
            grep -qxF "$CLUSTER|$a|$u" <<<"$assocs" ||
                sacctmgr -i add user "$u" Account="$a" Cluster="$CLUSTER" >/dev/null
        done
    done
    defaults=$(sacctmgr -n -P show user format=user,defaultaccount 2>/dev/null)
    for u in "$HPC_USER" "$NOISY_USER"; do
        grep -qxF "$u|$ACCOUNT" <<<"$defaults" ||
            sacctmgr -i modify user where name="$u" cluster="$CLUSTER" set DefaultAccount="$ACCOUNT" >/dev/null
    done
}

start_slurmctld() {
    running_pid slurmctld >/dev/null && return 0
    spawn slurmctld in_netns /usr/sbin/slurmctld -f "$DIR/etc/slurm.conf" ||
        die "slurmctld did not start: see $DIR/log/slurmctld.log"
    wait_for "$WAIT" "slurmctld answering" sh -c 'scontrol ping | grep -q "is UP"'
    log "slurmctld up"
}

node_ready() { sinfo -h -n "$NODE" -o %T | grep -qxE 'idle|mixed|allocated|completing'; }

start_slurmd() {
    if ! running_pid slurmd >/dev/null; then
        spawn slurmd in_netns /usr/sbin/slurmd -f "$DIR/etc/slurm.conf" -N "$NODE" ||
            die "slurmd did not start: see $DIR/log/slurmd.log"
    fi
    wait_for "$WAIT" "node $NODE becoming idle" node_ready
    log "slurmd up; node $NODE is $(sinfo -h -n "$NODE" -o %T)"
}

ssh_as() { # user command...
    local user=$1; shift
    ssh -F /dev/null -n -p "$SSH_PORT" -i "$DIR/client/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes \
        -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$DIR/client/known_hosts" \
        -o GlobalKnownHostsFile=/dev/null -o ConnectTimeout=5 "$user@127.0.0.1" "$@"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_sshd() {
    if ! running_pid sshd >/dev/null; then
        port_in_use "$SSH_PORT" && die "127.0.0.1:$SSH_PORT is taken by another program (set BEAMSYNC_SLURM_SSH_PORT)"
        /usr/sbin/sshd -t -f "$DIR/etc/sshd_config" || die "sshd rejected $DIR/etc/sshd_config"
        spawn sshd /usr/sbin/sshd -f "$DIR/etc/sshd_config" -E "$DIR/log/sshd.log" ||
            die "sshd did not start: see $DIR/log/sshd.log"
    fi
    wait_for "$WAIT" "a key login as $HPC_USER on 127.0.0.1:$SSH_PORT" ssh_as "$HPC_USER" true
    log "sshd up on 127.0.0.1:$SSH_PORT"
}

# /etc/slurm/slurm.conf: ours while running, and only if nothing else is there.
link_global_conf() {
    if [[ ! -e /etc/slurm/slurm.conf && ! -L /etc/slurm/slurm.conf ]] || [[ "$(readlink /etc/slurm/slurm.conf)" == "$DIR/etc/slurm.conf" ]]; then
        mkdir -p /etc/slurm
        ln -sfn "$DIR/etc/slurm.conf" /etc/slurm/slurm.conf
    elif [[ "$(readlink -f /etc/slurm/slurm.conf)" != "$DIR/etc/slurm.conf" ]]; then
        log "/etc/slurm/slurm.conf belongs to something else; SSH sessions get SLURM_CONF from sshd instead"
    fi
}

unlink_global_conf() {
    [[ "$(readlink /etc/slurm/slurm.conf 2>/dev/null)" == "$DIR/etc/slurm.conf" ]] && rm -f /etc/slurm/slurm.conf
    return 0
}

env_lines() {
    local home=$DIR/home/$HPC_USER noisy_home=$DIR/home/$NOISY_USER
    cat <<EOF
export BEAMSYNC_TEST_SLURM_DIR=$DIR
export BEAMSYNC_TEST_SLURM_SCRIPT=$HERE/slurm.sh
export BEAMSYNC_TEST_SLURM_HOST=127.0.0.1
export BEAMSYNC_TEST_SLURM_PORT=$SSH_PORT
export BEAMSYNC_TEST_SLURM_USER=$HPC_USER
export BEAMSYNC_TEST_SLURM_KEY=$DIR/client/id_ed25519
export BEAMSYNC_TEST_SLURM_PASSPHRASE_KEY=$DIR/client/id_ed25519_pass
export BEAMSYNC_TEST_SLURM_PASSPHRASE_FILE=$DIR/client/passphrase
export BEAMSYNC_TEST_SLURM_RSA_KEY=$DIR/client/id_rsa
export BEAMSYNC_TEST_SLURM_KNOWN_HOSTS=$DIR/client/known_hosts
export BEAMSYNC_TEST_SLURM_ACCOUNT=$ACCOUNT
export BEAMSYNC_TEST_SLURM_OTHER_ACCOUNT=$OTHER_ACCOUNT
export BEAMSYNC_TEST_SLURM_FOREIGN_ACCOUNT=$FOREIGN_ACCOUNT
export BEAMSYNC_TEST_SLURM_PARTITION=$PARTITION
export BEAMSYNC_TEST_SLURM_OTHER_PARTITION=$OTHER_PARTITION
export BEAMSYNC_TEST_SLURM_HOME_DIR=$home
export BEAMSYNC_TEST_SLURM_DLG_ROOT=$home/dlg
export BEAMSYNC_TEST_SLURM_LOG_DIR=$home/dlg/log
export BEAMSYNC_TEST_SLURM_VENV=$VENV
export BEAMSYNC_TEST_SLURM_NOISY_USER=$NOISY_USER
export BEAMSYNC_TEST_SLURM_NOISY_HOME_DIR=$noisy_home
export BEAMSYNC_TEST_SLURM_NOISY_DLG_ROOT=$noisy_home/dlg
export BEAMSYNC_TEST_SLURM_NOISY_BIN=$noisy_home/bin
export BEAMSYNC_TEST_SLURM_CONF=$DIR/etc/slurm.conf
EOF
}

any_running() {
    local d
    for d in "${DAEMONS[@]}"; do running_pid "$d" >/dev/null && return 0; done
    return 1
}

# Refuse to start a second cluster, or to run a command against a directory another script made.
check_dir() {
    local owner
    if [[ -d $DIR && ! -f $DIR/$MARKER && -n "$(ls -A "$DIR" 2>/dev/null)" ]]; then
        die "$DIR is not empty and was not created by $0; refusing to use it"
    fi
    owner=$(cat "$OWNER_FILE" 2>/dev/null || true)
    if [[ -n $owner && $owner != "$DIR" && -d $owner ]]; then
        local other=$DIR; DIR=$owner
        if any_running; then
            die "a cluster from $owner is running; stop it first: $0 stop $owner"
        fi
        DIR=$other
    fi
}

cmd_start() {
    check_dir
    if ! packages_present || ! venv_extras_complete; then cmd_install; fi
    mkdir -p "$DIR"
    touch "$DIR/$MARKER"
    echo "$DIR" >"$OWNER_FILE"
    make_dirs
    make_keys
    if write_configs && any_running; then
        log "configuration changed: restarting the cluster"
        stop_cluster
    fi
    make_users
    # Processes in the namespace while none of DIR's daemons runs are a previous cluster's, whose
    # directory is gone: end them, so the daemons can have their ports.
    any_running || netns_down
    netns_up
    link_global_conf
    start_munged
    start_mariadb
    start_slurmdbd
    setup_accounts
    start_slurmctld
    start_slurmd
    start_sshd
    # The login node's software: the venv must load for the HPC user, not only for root.
    ssh_as "$HPC_USER" "$VENV/bin/python -c 'import dlg, mpi4py.MPI'" ||
        die "$HPC_USER cannot import DALiuGE and mpi4py from $VENV (a venv must be made from an interpreter every user can read)"
    env_lines | tee "$DIR/env.sh"
    log "ready"
}

stop_cluster() {
    local i
    export_slurm_conf
    if running_pid slurmctld >/dev/null && [[ -n "$(squeue -h -o %i 2>/dev/null)" ]]; then
        # Slurm ends the jobs and their slurmstepd itself.
        scancel --partition="$PARTITION" 2>/dev/null || true
        scancel --partition="$OTHER_PARTITION" 2>/dev/null || true
        for ((i = 0; i < WAIT * 2; i++)); do
            [[ -z "$(squeue -h -t PD,R,CG,CF,S -o %i 2>/dev/null)" ]] && break
            sleep 0.5
        done
    fi
    stop_daemon sshd with-children
    stop_daemon slurmd
    stop_daemon slurmctld
    stop_daemon slurmdbd
    stop_daemon mariadbd
    stop_daemon munged
}

cmd_stop() {
    [[ -d $DIR ]] || return 0
    [[ -f $DIR/$MARKER ]] || die "$DIR was not created by $0 start; not touching it"
    stop_cluster
    netns_down
    unlink_global_conf
    [[ "$(cat "$OWNER_FILE" 2>/dev/null)" == "$DIR" ]] && rm -f "$OWNER_FILE"
    log "stopped; $DIR keeps the logs and the job database"
}

cmd_restart_sshd() {
    [[ -f $DIR/$MARKER && -f $DIR/etc/sshd_config ]] || die "$DIR has no cluster; run: $0 start $DIR"
    stop_daemon sshd with-children
    start_sshd
}

cmd_status() {
    local d pid rc=0
    [[ -d $DIR ]] || { echo "$DIR does not exist"; exit 3; }
    for d in "${DAEMONS[@]}"; do
        if pid=$(running_pid "$d"); then
            printf '%-10s running pid=%s\n' "$d" "$pid"
        else
            printf '%-10s stopped\n' "$d"
            rc=3
        fi
    done
    if running_pid slurmctld >/dev/null; then
        sinfo
        squeue -t all -o '%.8i %.10u %.10a %.9P %.12T %.10M %R'
    fi
    return $rc
}

main() {
    local cmd=${1:-}
    case $cmd in
        install) [[ $# -eq 1 ]] || usage ;;
        start|stop|status|restart-sshd) [[ $# -eq 2 && -n $2 ]] || usage ;;
        *) usage ;;
    esac
    [[ $(id -u) -eq 0 ]] || die "run as root"
    if [[ $cmd != install ]]; then
        mkdir -p "$(dirname "$2")"
        DIR=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
        NODE=$(node_name)
        export_slurm_conf
    fi
    # One command at a time on this machine (the network namespace and the users are global).
    mkdir -p "$(dirname "$LOCK_FILE")"
    exec 9>"$LOCK_FILE"
    flock -w 600 9 || die "another scripts/slurm.sh command is still running"
    case $cmd in
        install) cmd_install ;;
        start) cmd_start ;;
        stop) cmd_stop ;;
        status) cmd_status ;;
        restart-sshd) cmd_restart_sshd ;;
    esac
}

main "$@"
