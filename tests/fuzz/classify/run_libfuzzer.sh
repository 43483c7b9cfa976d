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
flags=(-std=c++20 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -I"$root")
mkdir -p "$work/obj"
# The whole library: classify/ is socket-free, and a file added there is fuzzed with it. It is
# compiled once (instrumented, two at a time) and linked into each target: compiling it per target
# took most of this test's time budget. Through ccache when installed (./run.sh installs it): the
# library changes rarely, and a cached compile costs a second instead of over a minute.
launcher=$(command -v ccache || true)
rm -f "$work"/obj/*.o
pending=()
for src in "$root"/classify/*.cpp; do
  $launcher "$cxx" "${flags[@]}" -fsanitize=fuzzer-no-link -c "$src" -o "$work/obj/$(basename "$src" .cpp).o" &
  pending+=($!)
  if ((${#pending[@]} == 2)); then
    wait "${pending[0]}"
    pending=("${pending[@]:1}")
  fi
done
for pid in "${pending[@]}"; do wait "$pid"; done
run() { # target corpus max_len
  local target=$1 corpus=$2 max_len=$3
  "$cxx" "${flags[@]}" -fsanitize=fuzzer "$here/$target.cpp" "$work"/obj/*.o -lboost_json -lfmt -o "$work/$target"
  rm -rf "$work/$corpus"
  cp -r "$here/$corpus" "$work/$corpus"
  # -error_exitcode: libFuzzer's default (77) is ctest's "skipped" here.
  (cd "$work" && "./$target" -max_total_time="$seconds" -max_len="$max_len" -error_exitcode=1 -print_final_stats=1 "$corpus" 2>&1 |
    tail -15)
}
run detectors_fuzz detectors_corpus 2048
run json_body_fuzz json_body_corpus 4096
run multipart_fuzz multipart_corpus 4096
