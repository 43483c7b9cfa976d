#!/usr/bin/env bash
# Bounded libFuzzer sessions over the classifier (clang, ASan + UBSan), SECONDS each: the
# detectors over raw bytes, the JSON body inspector with redaction, and the multipart reader.
#   tests/fuzz/classify/run_libfuzzer.sh [SECONDS] [WORK_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
seconds=${1:-30}
work=${2:-$(mktemp -d)}
cxx=$(command -v clang++ || command -v clang++-14 || true)
if [[ -z $cxx ]]; then
  echo "SKIP: clang++ not found; install clang and libclang-rt-14-dev to run the libFuzzer sessions"
  exit 77
fi
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I"$root")
run() { # target corpus max_len sources...
  local target=$1 corpus=$2 max_len=$3
  shift 3
  "$cxx" "${flags[@]}" "$@" -o "$work/$target"
  rm -rf "$work/$corpus"
  cp -r "$here/$corpus" "$work/$corpus"
  # -error_exitcode: libFuzzer's default (77) is ctest's "skipped" here.
  (cd "$work" && "./$target" -max_total_time="$seconds" -max_len="$max_len" -error_exitcode=1 -print_final_stats=1 "$corpus" 2>&1 |
    tail -15)
}
mkdir -p "$work"
# The whole library: classify/ is socket-free, and a file added there is fuzzed with it.
classify=("$root"/classify/*.cpp)
run detectors_fuzz detectors_corpus 2048 "$here/detectors_fuzz.cpp" "${classify[@]}" -lboost_json -lfmt
run json_body_fuzz json_body_corpus 4096 "$here/json_body_fuzz.cpp" "${classify[@]}" -lboost_json -lfmt
run multipart_fuzz multipart_corpus 4096 "$here/multipart_fuzz.cpp" "${classify[@]}" -lboost_json -lfmt
