#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install what the build needs, build beamsync, and
# check the example GitOps repository (examples/gitops-repo) as the controller would.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
ensure_packages "${BUILD_PACKAGES[@]}"
swift build --product beamsync
.build/debug/beamsync validate examples/gitops-repo "$@"
