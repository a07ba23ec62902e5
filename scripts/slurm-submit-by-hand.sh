#!/usr/bin/env bash
# Runs one DALiuGE logical graph on the local Slurm test cluster the way beampipe's slurm_remote
# backend does it, step by step from a shell, and prints how long each step took. It is the
# baseline the Slurm submission benchmark compares beamsync against ("the same steps run by hand
# from a shell script"), and the end-to-end proof that scripts/slurm.sh gives a working login node.
#
#   scripts/slurm-submit-by-hand.sh [options] [GRAPH]
#     GRAPH                    logical graph   [Tests/BeamsyncEngineTests/Fixtures/HelloWorld.graph]
#     --time MINUTES           the job's wall time (sbatch --time)                            [5]
#     --expect STATE           exit 0 only if sacct's final job state is STATE           [COMPLETED]
#     --expect-output FILE=TEXT  also require FILE in the DALiuGE session directory to hold TEXT
#                              (default for the default graph: beamsync-hello.txt=Hello beamsync)
#     --user USER              log in as USER instead of $BEAMSYNC_TEST_SLURM_USER (with
#                              $BEAMSYNC_TEST_SLURM_NOISY_USER sbatch prints a notice first, and
#                              the job is found by its name instead)
#     --poll SECONDS           pause between squeue/sacct polls                                  [1]
#
# Needs, in the environment: the lines `scripts/slurm.sh start DIR` prints (BEAMSYNC_TEST_SLURM_*)
# and BEAMSYNC_TEST_TM_URL from `scripts/dlg.sh start DIR` (a DALiuGE Translator Manager), e.g.
#
#   eval "$(scripts/slurm.sh start /tmp/slurm)"
#   set -a; eval "$(BEAMSYNC_DLG_TM_PORT=28084 ... scripts/dlg.sh start /tmp/dlg)"; set +a
#   scripts/slurm-submit-by-hand.sh
#   scripts/slurm-submit-by-hand.sh --time 1 --expect TIMEOUT Tests/BeamsyncEngineTests/Fixtures/FailingApp.graph
#
# Steps, each timed (one SSH connection is opened first and reused, as a driver with a connection
# pool would):
#   1. translate  POST $TM/unroll_and_partition (metis, 1 partition, 1 island); wrap the drops as
#                 ["<run>.pgt.graph", [drops...]], the form create_dlg_job's -P expects
#   2. upload     mkdir the per-run directory $DLG_ROOT/staging/<run>/, then sftp the PGT and the
#                 INI (beampipe's render_generated_ini layout) into it
#   3. create     bash -lc '... python3 -m dlg.deploy.create_dlg_job --action submit -f setonix
#                 -P <pgt> --config_file <ini>' and read "Created job submission script <path>"
#   4. sbatch     bash -lc 'cd <session dir> && sbatch --export=ALL --parsable --job-name=<run>
#                 --account=... --nodes=1 --time=... --partition=... <jobsub.sh>'; an answer
#                 other than exactly one "ID" or "ID;cluster" line makes the submission uncertain,
#                 and the job is then looked up by its unique name (squeue --name, sacct --name)
#   5. wait       poll `squeue -h -t all -j ID -o '%i|%T|%r'`, `sacct -n -P -X -j ID
#                 --format=JobID,State,ExitCode` and the last "Session status: [n]" line of
#                 <session dir>/*/start_dlg_cluster.log in one round trip until sacct shows an end
#                 state (timed as "queued": sbatch to RUNNING, and "run": RUNNING to the end)
#   6. check      read the session directory: expected output, err-ID.log, DALiuGE logs
# Then it measures single round trips over the open connection (true, squeue, sacct).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GRAPH=$HERE/../Tests/BeamsyncEngineTests/Fixtures/HelloWorld.graph
DEFAULT_GRAPH=1
MINUTES=5
EXPECT=COMPLETED
EXPECT_OUTPUT=""
POLL=1
LOGIN_USER=${BEAMSYNC_TEST_SLURM_USER:-}

die() { echo "slurm-submit-by-hand.sh: error: $*" >&2; exit 1; }
usage() { sed -n '7,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 64; }

while [[ $# -gt 0 ]]; do
    case $1 in
        --time) MINUTES=${2:?}; shift 2 ;;
        --expect) EXPECT=${2:?}; shift 2 ;;
        --expect-output) EXPECT_OUTPUT=${2:?}; shift 2 ;;
        --user) LOGIN_USER=${2:?}; shift 2 ;;
        --poll) POLL=${2:?}; shift 2 ;;
        -h|--help) usage ;;
        -*) echo "unknown option $1" >&2; usage ;;
        *) GRAPH=$1; DEFAULT_GRAPH=0; shift ;;
    esac
done
[[ $DEFAULT_GRAPH == 1 && -z $EXPECT_OUTPUT ]] && EXPECT_OUTPUT="beamsync-hello.txt=Hello beamsync"
[[ $MINUTES =~ ^[0-9]+$ && $MINUTES -ge 1 ]] || die "--time must be a whole number of minutes, at least 1 (got '$MINUTES')"
[[ -f $GRAPH ]] || die "logical graph $GRAPH does not exist"
for v in BEAMSYNC_TEST_SLURM_HOST BEAMSYNC_TEST_SLURM_PORT BEAMSYNC_TEST_SLURM_KEY BEAMSYNC_TEST_SLURM_KNOWN_HOSTS \
         BEAMSYNC_TEST_SLURM_ACCOUNT BEAMSYNC_TEST_SLURM_PARTITION BEAMSYNC_TEST_SLURM_VENV BEAMSYNC_TEST_TM_URL; do
    [[ -n ${!v:-} ]] || die "$v is not set: run  eval \"\$(scripts/slurm.sh start DIR)\"  and start a Translator Manager with scripts/dlg.sh start DIR (see the header of $0)"
done
[[ -n $LOGIN_USER ]] || die "BEAMSYNC_TEST_SLURM_USER is not set"
# The login user's home holds dlg_root: $HOME/dlg (scripts/slurm.sh makes it for every HPC user).
HOME_DIR=$(dirname "${BEAMSYNC_TEST_SLURM_DLG_ROOT:?}")
HOME_DIR=$(dirname "$HOME_DIR")/$LOGIN_USER
DLG_ROOT=$HOME_DIR/dlg
LOG_DIR=$DLG_ROOT/log
VENV=$BEAMSYNC_TEST_SLURM_VENV

WORK=$(mktemp -d /tmp/beamsync-by-hand.XXXXXX)
CONTROL=$WORK/cm
COMMON_OPTS=(-F /dev/null -i "$BEAMSYNC_TEST_SLURM_KEY" -o IdentitiesOnly=yes -o BatchMode=yes
             -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$BEAMSYNC_TEST_SLURM_KNOWN_HOSTS"
             -o GlobalKnownHostsFile=/dev/null -o ControlPath="$CONTROL")
SSH_OPTS=(-p "$BEAMSYNC_TEST_SLURM_PORT" "${COMMON_OPTS[@]}")
SFTP_OPTS=(-P "$BEAMSYNC_TEST_SLURM_PORT" "${COMMON_OPTS[@]}")
TARGET=$LOGIN_USER@$BEAMSYNC_TEST_SLURM_HOST
# shellcheck disable=SC2329  # called by the trap
cleanup() {
    ssh "${SSH_OPTS[@]}" -O exit "$TARGET" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

remote() { ssh "${SSH_OPTS[@]}" -n "$TARGET" "$@"; }

now() { date +%s%N; }
secs() { printf '%d.%03d' $(( $1 / 1000000000 )) $(( $1 % 1000000000 / 1000000 )); }
T_START=$(now)
STEP_T0=$T_START
STEPS=()
step() { # name: records the time since the previous step
    local t; t=$(now)
    STEPS+=("$(printf '%-10s %8s s' "$1" "$(secs $((t - STEP_T0)))")")
    echo "  step $1: $(secs $((t - STEP_T0))) s" >&2
    STEP_T0=$t
}

RUN=BeamsyncHand-$(date +%s)-$$   # no "_": DALiuGE cuts the session id at the first one
STAGE=$DLG_ROOT/staging/$RUN
echo "run $RUN: $(basename "$GRAPH") as $TARGET:$BEAMSYNC_TEST_SLURM_PORT, wall time $MINUTES min" >&2

# 0. One SSH connection for every step.
ssh "${SSH_OPTS[@]}" -o ControlMaster=yes -o ControlPersist=300 -f -N "$TARGET"
step connect

# 1. Translate.
code=$(curl -sS -o "$WORK/pgt.json" -w '%{http_code}' --max-time 60 -X POST "$BEAMSYNC_TEST_TM_URL/unroll_and_partition" \
    --data-urlencode "lg_content@$GRAPH" -d num_partitions=1 -d num_islands=1 -d algorithm=metis)
[[ $code == 200 ]] || die "Translator Manager answered $code to /unroll_and_partition: $(head -c 400 "$WORK/pgt.json")"
python3 - "$WORK/pgt.json" "$WORK/$RUN.pgt.graph" "$RUN.pgt.graph" <<'EOF'
import json, sys
drops = [d for d in json.load(open(sys.argv[1])) if d]   # the TM appends an empty {} object
json.dump([sys.argv[3], drops], open(sys.argv[2], "w"))
EOF
cat >"$WORK/$RUN.ini" <<EOF
[DEPLOYMENT]
remote = False
submit = False

[ENGINE]
NUM_NODES = 1
NUM_ISLANDS = 1
JOB_DUR = $MINUTES
MAX_THREADS = 0
VERBOSE_LEVEL = 1
ALL_NICS = False

[GRAPH]
PHYSICAL_GRAPH = $STAGE/$RUN.pgt.graph

[FACILITY]
USER = $LOGIN_USER
ACCOUNT = $BEAMSYNC_TEST_SLURM_ACCOUNT
LOGIN_NODE = $BEAMSYNC_TEST_SLURM_HOST
HOME_DIR = $HOME_DIR
DLG_ROOT = $DLG_ROOT
LOG_DIR = $LOG_DIR
EXEC_PREFIX = srun -l
MODULES = :
VENV = source $VENV/bin/activate
EOF
step translate

# 2. Upload into the per-run directory.
remote "mkdir -p '$STAGE'"
sftp -q "${SFTP_OPTS[@]}" -b - "$TARGET" >/dev/null <<EOF
put $WORK/$RUN.pgt.graph $STAGE/$RUN.pgt.graph
put $WORK/$RUN.ini $STAGE/$RUN.ini
EOF
step upload

# 3. create_dlg_job writes $DLG_ROOT/workspace/<session>/jobsub.sh (submit = False: no sbatch).
PRELUDE="set -euo pipefail; source '$VENV/bin/activate'; export DLG_ROOT='$DLG_ROOT'"
out=$(remote "bash -lc \"$PRELUDE; python3 -m dlg.deploy.create_dlg_job --action submit -f setonix -P '$STAGE/$RUN.pgt.graph' --config_file '$STAGE/$RUN.ini'\"" 2>&1) ||
    die "create_dlg_job failed: $out"
JOBSUB=$(sed -n 's/^Created job submission script //p' <<<"$out")
[[ -n $JOBSUB ]] || die "create_dlg_job did not print 'Created job submission script <path>': $out"
SESSION_DIR=$(dirname "$JOBSUB")
step create

# 4. sbatch; a parsable answer is exactly one line "ID" or "ID;cluster".
out=$(remote "bash -lc \"$PRELUDE; cd '$SESSION_DIR' && sbatch --export=ALL --parsable --job-name='$RUN' --account='$BEAMSYNC_TEST_SLURM_ACCOUNT' --nodes=1 --time=$MINUTES --partition='$BEAMSYNC_TEST_SLURM_PARTITION' '$JOBSUB'\"" 2>&1) ||
    die "sbatch failed: $out"
if [[ $out =~ ^([0-9]+)(;[A-Za-z0-9_-]+)?$ ]]; then
    JOB=${BASH_REMATCH[1]}
else
    # Not exactly one id line (a site wrapper added a notice, say): the job may or may not exist.
    # Never submit again; find it by its unique job name instead.
    echo "  sbatch printed something other than exactly one job id line, so the submission is uncertain:" >&2
    while IFS= read -r l; do echo "    | $l"; done <<<"$out" >&2
    found=$(remote "squeue -h -t all --name='$RUN' -o '%i'; sacct -n -X -P --name='$RUN' --starttime=now-1hour -o JobIDRaw" | sort -u)
    [[ $found =~ ^[0-9]+$ ]] || die "found $(wc -w <<<"$found") jobs named $RUN (${found//$'\n'/ }); expected exactly one"
    JOB=$found
    echo "  reconciled by job name $RUN: job $JOB" >&2
fi
echo "  job $JOB, session dir $SESSION_DIR" >&2
step sbatch

# 5. Wait for an end state in sacct; squeue (with -t all) is the fresher source while it runs.
last=""
started=""
SUBMITTED=$STEP_T0
while :; do
    # The third source is DALiuGE's own view: start_dlg_cluster logs the session status every 10 s
    # (4 FINISHED, 6 FAILED) into <session dir>/<node ip>/start_dlg_cluster.log.
    out=$(remote "squeue -h -t all -j $JOB -o '%i|%T|%r' 2>&1 | sed 's/^/Q /'; sacct -n -P -X -j $JOB --format=JobID,State,ExitCode 2>&1 | sed 's/^/A /'; grep -h 'Session status:' '$SESSION_DIR'/*/start_dlg_cluster.log 2>/dev/null | tail -n 1 | sed 's/.*Session status: /D /'")
    sq=$(sed -n 's/^Q //p' <<<"$out")
    sa=$(sed -n 's/^A //p' <<<"$out")
    dl=$(sed -n 's/^D //p' <<<"$out")
    line="squeue: ${sq:-<none>}  sacct: ${sa:-<none>}  dlg session: ${dl:-<none>}"
    if [[ $line != "$last" ]]; then
        echo "  sbatch +$(secs $(( $(now) - SUBMITTED ))) s  $line" >&2
        last=$line
    fi
    if [[ -z $started && $sq == *"|RUNNING|"* ]]; then
        step queued
        started=1
    fi
    state=$(cut -d'|' -f2 <<<"$sa" | cut -d' ' -f1)
    case $state in
        COMPLETED|FAILED|TIMEOUT|CANCELLED|OUT_OF_MEMORY|NODE_FAIL|BOOT_FAIL|DEADLINE|PREEMPTED) break ;;
    esac
    sleep "$POLL"
done
[[ -n $started ]] || step queued
EXIT_CODE=$(cut -d'|' -f3 <<<"$sa")
step run
TOTAL=$(( $(now) - T_START ))

# 6. What a driver can read about the outcome.
echo "== sacct -n -P -j $JOB --format=JobID,JobName,State,ExitCode,DerivedExitCode,Elapsed" >&2
remote "sacct -n -P -j $JOB --format=JobID,JobName,State,ExitCode,DerivedExitCode,Elapsed" >&2
echo "== session directory $SESSION_DIR" >&2
remote "cd '$SESSION_DIR' && ls -1p" | sed 's/^/  /' >&2
echo "== err-$JOB.log (sbatch --error of the generated script)" >&2
remote "cat '$SESSION_DIR/err-$JOB.log' 2>/dev/null || true" | sed 's/^/  /' >&2
echo "== DALiuGE session log: session state and drop errors" >&2
remote "grep -h -E 'Session .* (is now|finished)|ERROR|status to|Traceback' '$SESSION_DIR'/dlg_*.log '$SESSION_DIR'/*/dlgNM.*.log 2>/dev/null | cut -c1-220 | tail -n 12 || true" |
    sed 's/^/  /' >&2
rc=0
if [[ -n $EXPECT_OUTPUT ]]; then
    file=${EXPECT_OUTPUT%%=*}
    want=${EXPECT_OUTPUT#*=}
    got=$(remote "cat '$SESSION_DIR/$file'" 2>/dev/null || true)
    if [[ $got == "$want" ]]; then
        echo "== output $file holds '$want'" >&2
    else
        echo "== output $file: expected '$want', found '${got:-<missing>}'" >&2
        rc=1
    fi
fi
check_t=$(now)

# Round trips over the open connection: the cost of one poll.
measure() { # name command: median of 5 runs, in ms
    local t ms=()
    for _ in 1 2 3 4 5; do
        t=$(now)
        remote "$2" >/dev/null 2>&1 || true
        ms+=($(( ($(now) - t) / 1000000 )))
    done
    printf '  %-6s median %4d ms  (runs: %s)\n' "$1" "$(printf '%s\n' "${ms[@]}" | sort -n | sed -n 3p)" "${ms[*]}" >&2
}
echo "== one round trip over the open SSH connection" >&2
measure true true
measure squeue "squeue -h -t all -j $JOB -o '%i|%T|%r'"
measure sacct "sacct -n -P -X -j $JOB --format=JobID,State,ExitCode"

echo "== times (run $RUN, job $JOB)" >&2
printf '  %s\n' "${STEPS[@]}" >&2
printf '  %-10s %8s s   (connect .. end state in sacct)\n' total "$(secs "$TOTAL")" >&2
printf '  %-10s %8s s   (reading results, not in the total)\n' check "$(secs $((check_t - STEP_T0)))" >&2
echo "final state: $state (exit code $EXIT_CODE), expected $EXPECT" >&2
[[ $state == "$EXPECT" ]] || rc=1
echo "job=$JOB state=$state exit_code=$EXIT_CODE total_seconds=$(secs "$TOTAL") session_dir=$SESSION_DIR"
exit $rc
