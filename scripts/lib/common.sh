# Shared helpers for beamsync's scripts. Sourced, not run.

# Swift lives in /opt/swift on the build machines; make sure it is on PATH.
if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
  export PATH="/opt/swift/usr/bin:$PATH"
fi

# Bold only on a terminal, and never with NO_COLOR (https://no-color.org).
log() {
  if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then printf '\033[1m==> %s\033[0m\n' "$*" >&2; else printf '==> %s\n' "$*" >&2; fi
}

# Installs the Debian packages given, running apt only for those that are missing.
ensure_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Everything the build itself needs: pkg-config finds libpq's headers for the CPostgres module;
# libyaml-dev provides only yaml.h (the code itself is the copy Yams bundles).
BUILD_PACKAGES=(pkg-config libpq-dev libyaml-dev libgit2-dev libssh2-1-dev libcurl4-openssl-dev git ca-certificates)
# The real services and tools the tests use (gnupg: gpg makes the keys that sign test commits;
# gpgv, which verifies them, is part of Debian's base system; jq: the API's documented curl calls
# are run verbatim).
TEST_PACKAGES=(postgresql python3 python3-jsonschema openssh-server openssh-client openssl
               python3-venv python3-dev gcc curl jq util-linux gnupg gpgv
               munge slurmctld slurmd slurm-client slurmdbd mariadb-server-core mariadb-client-core
               mpich libmpich-dev iproute2
               jq mmdebstrap systemd    # jq: the GitLab CI example; mmdebstrap, systemd: package-check.sh
               chromium)                # the status page in a real headless browser
