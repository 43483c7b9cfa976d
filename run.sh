#!/usr/bin/env bash
# Sovereign Gateway — one entry point for newcomers, developers and CI.
#   ./run.sh demo    install what is missing, build, run the whole mission on this machine
#                    (examples/demo/demo.sh: stand-in clusters, policy, audit log, a guided tour);
#                    ./run.sh demo --plain: the bare proxy the benchmarks measure
#   ./run.sh test    install what is missing, build, run the whole test suite (ctest)
#   ./run.sh build   install what is missing and build into ./build
#   ./run.sh bench   run the benchmarks under bench/ (installs HAProxy, nginx, wrk if missing)
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
BUILD_DIR=${SOVGW_BUILD_DIR:-$ROOT/build}

# Debian 12 packages the build, the tests and the demo need.
PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libboost1.81-dev libboost-json1.81-dev
  libssl-dev openssl libsodium-dev librocksdb-dev libfmt-dev doctest-dev libyaml-cpp-dev libmaxminddb-dev
  libhiredis-dev redis-server  # the shared limits store (limits_store:) and its tests
  tor-geoipdb
  clang libclang-rt-14-dev
  python3 python3-cryptography curl procps
  chromium fonts-dejavu-core  # headless, renders the sovereignty report in its test
)
# Hyperscan, the detectors bench's peer, is packaged for x86-64 only.
if [[ $(dpkg --print-architecture 2>/dev/null) == amd64 ]]; then
  PACKAGES+=(libhyperscan-dev)
fi

install_packages() {
  local missing=()
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  if ((${#missing[@]})); then
    echo "==> installing: ${missing[*]}"
    local sudo=""
    if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

build() {
  install_packages "${PACKAGES[@]}"
  # Node.js + npm for the official OpenAI SDK test. Some images ship Node.js outside Debian's
  # packages (with npm inside it), so only install Debian's when there is no npm at all.
  if ! command -v npm > /dev/null; then
    install_packages nodejs npm
  fi
  export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/sovgw-ccache}
  export CCACHE_BASEDIR=$ROOT
  if [[ ! -f $BUILD_DIR/build.ninja ]]; then
    cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
  fi
  cmake --build "$BUILD_DIR" -j "$(nproc)"
}

demo() {
  build
  exec "$ROOT/examples/demo/demo.sh" "$@"
}

run_tests() {
  build
  cd "$BUILD_DIR"
  ctest --output-on-failure -j 2 "$@"
}

case "${1:-}" in
  demo) shift; demo "$@" ;;
  test) shift; run_tests "$@" ;;
  build) build ;;
  bench) shift; build; "$ROOT/bench/run-all.sh" "$@" ;;
  -h | --help | help) sed -n '2,8s/^# \{0,1\}//p' "$0"; exit 0 ;;
  *) echo "usage: $0 demo|test|build|bench (./run.sh --help says what each does)" >&2; exit 2 ;;
esac
