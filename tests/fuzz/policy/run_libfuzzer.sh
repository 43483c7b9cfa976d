#!/usr/bin/env bash
# Builds the policy fuzz target with clang -fsanitize=fuzzer,address (objects cached between runs)
# and fuzzes a copy of the seed corpus for a bounded time.
#   run_libfuzzer.sh SOURCE_DIR WORK_DIR SECONDS
set -euo pipefail
src=$1
work=$2
seconds=${3:-30}
cxx=$(command -v clang++ || command -v clang++-14 || true)
if [[ -z $cxx ]]; then
  echo "SKIP: clang++ not found; install clang and libclang-rt-14-dev to run the libFuzzer session"
  exit 77
fi
launcher=$(command -v ccache || true)
mkdir -p "$work/obj"
# Builds share the machine: take the project's build lock for the compile step (not for fuzzing).
exec 9>/tmp/sovgw-build.lock
flock -w 480 9 || { echo "FAIL: /tmp/sovgw-build.lock busy for 8 minutes"; exit 1; }
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer-no-link,address -fno-omit-frame-pointer -I"$src"
       -DSOVGW_DEFAULT_GEOIP=\"/usr/share/tor/geoip\" -DSOVGW_DEFAULT_GEOIP6=\"/usr/share/tor/geoip6\"
       $(pkg-config --cflags yaml-cpp libmaxminddb))
objects=()
jobs=()
for cpp in "$src"/policy/*.cpp "$src"/crypto/sha256.cpp "$src"/crypto/hex.cpp "$src"/tests/fuzz/policy/policy_fuzz.cpp; do
  obj="$work/obj/$(basename "$(dirname "$cpp")")_$(basename "$cpp" .cpp).o"
  if [[ ! -f $obj || $cpp -nt $obj || -n $(find "$src/policy" "$src/crypto" -name '*.hpp' -newer "$obj" -print -quit) ]]; then
    rm -f "$obj"
    $launcher "$cxx" "${flags[@]}" -c "$cpp" -o "$obj" &
    jobs+=($!)
    if ((${#jobs[@]} >= 2)); then  # two compilers at a time: the machine has two cores
      wait "${jobs[0]}"
      jobs=("${jobs[@]:1}")
    fi
  fi
  objects+=("$obj")
done
for job in "${jobs[@]}"; do
  wait "$job"
done
relink=0
for obj in "${objects[@]}"; do
  [[ ! -f $work/policy_fuzzer || $obj -nt $work/policy_fuzzer ]] && relink=1
done
if ((relink)); then
  "$cxx" -fsanitize=fuzzer,address "${objects[@]}" -o "$work/policy_fuzzer" \
    $(pkg-config --libs yaml-cpp libmaxminddb fmt libsodium libcrypto) -lboost_json
fi
flock -u 9
rm -rf "$work/corpus"
cp -r "$src/tests/fuzz/policy/corpus" "$work/corpus"
cd "$work"
ASAN_OPTIONS=detect_leaks=1 "$work/policy_fuzzer" -max_total_time="$seconds" -max_len=8192 -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 "$work/corpus"
