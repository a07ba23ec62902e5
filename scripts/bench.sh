#!/usr/bin/env bash
# Builds in release mode and runs beamsync's benchmarks (fixed workloads; prints times and ratios).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
ensure_packages "${BUILD_PACKAGES[@]}"
swift build -c release --product beamsync-bench
exec .build/release/beamsync-bench "$@"
