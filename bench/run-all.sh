#!/usr/bin/env bash
# Runs every benchmark in turn (./run.sh bench builds first). Figures and method: bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${SOVGW_BUILD_DIR:-$PWD/build}
echo "### proxies: sovgw vs HAProxy vs nginx"
bench/compare-proxies.sh "$@"
echo "### streams: sovgw vs HAProxy, many long streamed completions"
bench/compare-streams.sh
for b in policy_bench/policy_bench detectors_bench/detectors_bench audit_bench/audit_bench \
         report_bench/report_bench geo_tags_bench/geo_tags_bench signature_bench/signature_bench; do
  if [[ -x $BUILD/bench/$b ]]; then
    echo "### $(basename "$b")"
    "$BUILD/bench/$b"
  fi
done
