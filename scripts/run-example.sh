#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install what is missing, build beamsync, and
# reconcile the example GitOps repository (examples/gitops-repo) into PostgreSQL. With
# DATABASE_URL unset, beamsync starts its own private PostgreSQL under $BEAMSYNC_HOME and stops
# it again afterwards. The second plan shows that a reconciled repository plans no changes.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
ensure_packages "${BUILD_PACKAGES[@]}" postgresql
swift build --product beamsync
beamsync=.build/debug/beamsync
log "validate"
$beamsync validate examples/gitops-repo
log "apply (plan, then write in one transaction)"
$beamsync apply --dir examples/gitops-repo --auto-approve "$@"
log "plan again: nothing left to do"
$beamsync plan --dir examples/gitops-repo --detailed-exitcode
