#!/usr/bin/env bash
# Proves what the Dockerfile and deploy/ rely on, without a container engine:
#   1. beamsync with the Swift runtime linked statically (as the Dockerfile builds it with
#      --static-swift-stdlib) needs no Swift runtime library: `ldd` lists only Debian's libraries;
#   2. it runs with an empty environment (env -i) in a minimal Debian 12 root that holds exactly
#      the Dockerfile's RUNTIME_PACKAGES: --version, validate, plan against PostgreSQL, and a
#      clear error when no database is configured (the image has no embedded PostgreSQL);
#   3. the systemd unit: systemd-sysusers creates its user in that root, `systemd-analyze verify`
#      accepts it there, and its exposure score stays low;
#   4. the Kubernetes manifest: the API schema (kubernetes-validate --strict, pinned, in a venv)
#      and what the controller needs (scripts/lib/k8s_manifest_check.py);
#   5. the pgpass hand-over of the manifest, replayed in the root against a PostgreSQL that asks
#      for a password: the file as the kubelet mounts it (0440, group fsGroup) is ignored by
#      libpq, the init container's copy logs in; the password never appears in any output.
#
# usage: DATABASE_URL=postgresql://HOST:PORT/DB scripts/package-check.sh
#        (step 2 plans against a database it creates beside DB on that server, and drops)
#
# Environment (defaults in brackets):
#   BEAMSYNC_PACKAGE_CACHE   where the Debian 12 root and the validator venv are kept
#                            [/var/cache/beamsync]
#   BEAMSYNC_PACKAGE_BUILD   how to make the checked binary [relink]:
#                              relink   the objects of the normal debug build, linked again with
#                                       the static Swift runtime (scripts/lib/static-relink.sh;
#                                       seconds; same code as a --static-swift-stdlib build)
#                              debug | release   `swift build --static-swift-stdlib` in a build
#                                       directory of its own, as the Dockerfile does (a full build:
#                                       about 10 minutes for debug on 2 cores, longer for release)
#   BEAMSYNC_PACKAGE_BINARY  check this binary instead of building one
#
# Needs root (chroot, mmdebstrap, runuser) and the Debian packages mmdebstrap, systemd,
# postgresql, python3-venv (scripts/lib/common.sh's TEST_PACKAGES).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh

CACHE=${BEAMSYNC_PACKAGE_CACHE:-/var/cache/beamsync}
BUILD=${BEAMSYNC_PACKAGE_BUILD:-relink}
K8S_VALIDATE_PIN="kubernetes-validate==1.37.0"

fail() { log "package-check: $*"; exit 1; }
[[ $(id -u) -eq 0 ]] || fail "run as root (chroot and mmdebstrap need it)"
# The root needs /proc (the Swift runtime reads its arguments from /proc/self/cmdline). It is
# mounted in a private mount namespace, so no mount outlives this script.
if [[ -z ${BEAMSYNC_PACKAGE_CHECK_NAMESPACE:-} ]]; then
  exec env BEAMSYNC_PACKAGE_CHECK_NAMESPACE=1 unshare --mount --propagation private bash "$0" "$@"
fi
[[ -n ${DATABASE_URL:-} ]] || fail "DATABASE_URL is unset: give a PostgreSQL the plan may use (scripts/test.sh passes its own)"

work=$(mktemp -d /tmp/beamsync-package.XXXXXX)
chmod 755 "$work"   # the postgres user reaches its data directory and socket below
pg_data=""
created_db=""
cleanup() {
  local status=$?
  if [[ -n $created_db ]]; then
    psql -q -d "$DATABASE_URL" -c "DROP DATABASE IF EXISTS $created_db WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  if [[ -n $pg_data && -f $pg_data/postmaster.pid ]]; then
    runuser -u postgres -- "$pg_bin/pg_ctl" stop -D "$pg_data" -m immediate -w >/dev/null 2>&1 || true
  fi
  umount "$work/root/proc" 2>/dev/null || true
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT INT TERM

# 1. The binary, with the Swift runtime linked in as the Dockerfile links it.
if [[ -n ${BEAMSYNC_PACKAGE_BINARY:-} ]]; then
  binary=$BEAMSYNC_PACKAGE_BINARY
  [[ -x $binary ]] || fail "BEAMSYNC_PACKAGE_BINARY=$binary is not an executable file"
elif [[ $BUILD == relink ]]; then
  log "package-check: linking the debug build's objects with the static Swift runtime"
  t0=$SECONDS
  swift build --product beamsync
  binary="$work/beamsync"
  bash scripts/lib/static-relink.sh "$binary"
  log "package-check: linked in $((SECONDS - t0)) s ($(du -h "$binary" | cut -f1))"
else
  # What the Dockerfile runs, in a build directory of its own (a full build).
  log "package-check: building beamsync ($BUILD) with --static-swift-stdlib in .build-static-$BUILD"
  t0=$SECONDS
  swift build -c "$BUILD" --static-swift-stdlib --scratch-path ".build-static-$BUILD" --product beamsync
  binary="$(swift build -c "$BUILD" --static-swift-stdlib --scratch-path ".build-static-$BUILD" --show-bin-path)/beamsync"
  log "package-check: built in $((SECONDS - t0)) s ($(du -h "$binary" | cut -f1))"
fi
needed=$(ldd "$binary")
if grep -Eq 'libswift|libFoundation|libdispatch|libBlocksRuntime|lib_Foundation|/opt/swift|not found' <<<"$needed"; then
  printf '%s\n' "$needed" >&2
  fail "$binary still needs the Swift runtime (or a library is missing)"
fi
log "package-check: ldd lists no Swift runtime library"

# 2. A minimal Debian 12 root with exactly the image's runtime packages, cached by that list.
runtime_packages=$(sed -n 's/^ARG RUNTIME_PACKAGES="\(.*\)"$/\1/p' Dockerfile)
[[ -n $runtime_packages ]] || fail "Dockerfile has no ARG RUNTIME_PACKAGES=\"...\" line"
key=$(printf '%s\n' "bookworm essential $runtime_packages" | sha256sum | cut -c1-16)
cached_root="$CACHE/debian12-root-$key"
mkdir -p "$CACHE"
exec 8>"$CACHE/debian12-root.lock"
flock 8
if [[ ! -f $cached_root/.beamsync-complete ]]; then
  log "package-check: creating a Debian 12 root with: $runtime_packages"
  t0=$SECONDS
  rm -rf "$cached_root" "$cached_root.new"
  # The mirror is the one this machine's apt uses.
  sources=/etc/apt/sources.list.d/debian.sources
  [[ -f $sources ]] || sources=/etc/apt/sources.list
  mmdebstrap --quiet --variant=essential --mode=root --include="${runtime_packages// /,}" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' bookworm "$cached_root.new" "$sources"
  touch "$cached_root.new/.beamsync-complete"
  mv "$cached_root.new" "$cached_root"
  log "package-check: root created in $((SECONDS - t0)) s"
fi
flock -u 8
root="$work/root"
cp -a "$cached_root" "$root"
install -m 0755 "$binary" "$root/usr/local/bin/beamsync"
mount -t proc proc "$root/proc"
mkdir -p "$root/srv"
cp -r examples/gitops-repo "$root/srv/example"

# Runs a command in the root with nothing in its environment but what is given.
in_root() { env -i "$@"; }
chrooted() { in_root /usr/sbin/chroot "$root" "$@"; }

# Everything the binary loads must resolve inside the root, not on this machine.
missing=$(/usr/sbin/chroot "$root" /usr/bin/ldd /usr/local/bin/beamsync | grep 'not found' || true)
[[ -z $missing ]] || fail "in the Debian 12 root (RUNTIME_PACKAGES): $missing"
version=$(chrooted /usr/local/bin/beamsync --version)
log "package-check: beamsync --version in the root: $version"
chrooted /usr/local/bin/beamsync validate /srv/example >/dev/null || fail "validate failed in the root"
# A database of its own on that server, dropped at the end.
check_db="beamsync_package_check_$$"
[[ $DATABASE_URL == postgres*://*/* ]] || fail "DATABASE_URL must be a postgresql://HOST/DATABASE URI (a database beside it is created)"
check_url="${DATABASE_URL%/*}/$check_db"
psql -q -d "$DATABASE_URL" -c "CREATE DATABASE $check_db" >/dev/null || fail "cannot create database $check_db on DATABASE_URL's server"
created_db=$check_db
set +e
plan=$(in_root DATABASE_URL="$check_url" NO_COLOR=1 /usr/sbin/chroot "$root" /usr/local/bin/beamsync plan --dir /srv/example --detailed-exitcode 2>&1)
status=$?
set -e
[[ $status -eq 0 || $status -eq 2 ]] || { printf '%s\n' "$plan" >&2; fail "plan against PostgreSQL failed in the root (exit $status)"; }
grep -q 'Plan:' <<<"$plan" || { printf '%s\n' "$plan" >&2; fail "plan printed no summary"; }
log "package-check: plan against PostgreSQL in the root: $(grep 'Plan:' <<<"$plan" | head -1)"
set +e
no_db=$(in_root HOME=/root /usr/sbin/chroot "$root" /usr/local/bin/beamsync plan --dir /srv/example 2>&1)
status=$?
set -e
[[ $status -ne 0 ]] && grep -q 'DATABASE_URL' <<<"$no_db" \
  || { printf '%s\n' "$no_db" >&2; fail "without DATABASE_URL and without postgresql, beamsync must fail naming DATABASE_URL"; }
log "package-check: without a database: $(head -1 <<<"$no_db")"

# 3. systemd: the sysusers.d entry creates the unit's user; the unit verifies in the root.
install -D -m 0644 deploy/beamsync.sysusers "$root/usr/lib/sysusers.d/beamsync.conf"
systemd-sysusers --root="$root" >/dev/null 2>&1
unit_user=$(sed -n 's/^User=//p' deploy/beamsync.service)
grep -q "^$unit_user:" "$root/etc/passwd" || fail "systemd-sysusers did not create the unit's user '$unit_user'"
install -D -m 0644 deploy/beamsync.service "$root/etc/systemd/system/beamsync.service"
# The root has no systemd: lend it this machine's unit files (targets the unit is ordered after).
mkdir -p "$root/usr/lib/systemd"
cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
verify=$(systemd-analyze verify --root="$root" /etc/systemd/system/beamsync.service 2>&1) \
  || { printf '%s\n' "$verify" >&2; fail "systemd-analyze verify rejects deploy/beamsync.service"; }
exposure=$(systemd-analyze security --offline=true --root="$root" /etc/systemd/system/beamsync.service 2>/dev/null \
           | sed -n 's/.*Overall exposure level for beamsync.service: \([0-9.]*\).*/\1/p')
[[ -n $exposure ]] || fail "systemd-analyze security printed no exposure level"
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' || fail "the unit's exposure level is $exposure; keep it at 2.0 or below"
log "package-check: systemd unit verifies; user '$unit_user' created; exposure $exposure"

# 4. Kubernetes: schema and the controller's needs.
venv="$CACHE/k8s-validate-venv"
if [[ "$(cat "$venv/.beamsync-pin" 2>/dev/null)" != "$K8S_VALIDATE_PIN" ]]; then
  log "package-check: installing $K8S_VALIDATE_PIN into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --prefer-binary "$K8S_VALIDATE_PIN"
  echo "$K8S_VALIDATE_PIN" >"$venv/.beamsync-pin"
fi
"$venv/bin/kubernetes-validate" --strict --quiet deploy/kubernetes/beamsync.yaml \
  || fail "deploy/kubernetes/beamsync.yaml does not match the Kubernetes API schema"
pgpass_setup=$("$venv/bin/python" scripts/lib/k8s_manifest_check.py deploy/kubernetes/beamsync.yaml Dockerfile) \
  || fail "deploy/kubernetes/beamsync.yaml lacks what the controller needs (above)"
eval "$pgpass_setup"
log "package-check: Kubernetes manifest matches the API schema and the controller's needs"

# 5. The pgpass hand-over, against a private PostgreSQL that demands a password (scram) on a
#    Unix socket inside the root, as the manifest's user.
for d in /usr/lib/postgresql/15/bin $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
  [[ -x $d/initdb ]] && { pg_bin=$d; break; }
done
[[ -n ${pg_bin:-} ]] || fail "PostgreSQL server binaries not found (apt-get install postgresql)"
password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
install -d -o postgres -m 0700 "$work/pg"
pg_data="$work/pg/data"
install -d -o postgres -m 0755 "$root/run/pgcheck"
printf '%s\n' "$password" >"$work/pg/pwfile"
chown postgres "$work/pg/pwfile"
runuser -u postgres -- "$pg_bin/initdb" -D "$pg_data" --auth=scram-sha-256 --username=postgres \
  --pwfile="$work/pg/pwfile" --encoding=UTF8 --locale=C >/dev/null
rm -f "$work/pg/pwfile"
runuser -u postgres -- "$pg_bin/pg_ctl" start -D "$pg_data" -w -l "$work/pg/server.log" \
  -o "-c listen_addresses='' -c unix_socket_directories='$root/run/pgcheck' -c fsync=off" >/dev/null
# As the kubelet mounts a secret under fsGroup: owner root, group fsGroup, mode 0440.
install -d -m 0755 "$root$secret_mount"
printf '*:*:*:postgres:%s\n' "$password" >"$root$secret_mount/pgpass"
chown "0:$fs_group" "$root$secret_mount/pgpass"
chmod 0440 "$root$secret_mount/pgpass"
install -d -m 0777 "$root$run_mount"   # an emptyDir
as_pod_user() {
  in_root NO_COLOR=1 DATABASE_URL="host=/run/pgcheck dbname=postgres user=postgres" "$@" \
    /usr/sbin/chroot --userspec="$run_as_user:$fs_group" "$root" /usr/local/bin/beamsync plan --dir /srv/example
}
set +e
mounted=$(as_pod_user PGPASSFILE="$secret_mount/pgpass" 2>&1)
status=$?
set -e
[[ $status -eq 1 ]] || { printf '%s\n' "$mounted" >&2; fail "with the secret as mounted (0440), the login should fail"; }
grep -q 'group or world access' <<<"$mounted" || { printf '%s\n' "$mounted" >&2; fail "libpq did not say why it ignored the 0440 password file"; }
/usr/sbin/chroot --userspec="$run_as_user:$fs_group" "$root" "${init_command[@]}"
set +e
copied=$(as_pod_user PGPASSFILE="$pgpassfile" 2>&1)
status=$?
set -e
[[ $status -eq 0 || $status -eq 2 ]] || { printf '%s\n' "$copied" >&2; fail "with the init container's copy ($pgpassfile) the login failed"; }
if grep -qF "$password" <<<"$mounted$copied$plan$no_db"; then fail "the database password appeared in beamsync's output"; fi
log "package-check: pgpass as mounted (0440) is refused by libpq; the init container's 0600 copy logs in"
log "package-check: all checks passed"
