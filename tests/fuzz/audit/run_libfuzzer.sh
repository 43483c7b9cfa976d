#!/usr/bin/env bash
# Bounded libFuzzer run of the audit decoders fuzz target (clang, ASan + UBSan).
#   tests/fuzz/audit/run_libfuzzer.sh [seconds]   (default 30)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=${TMPDIR:-/tmp}/sovgw-fuzz-audit
mkdir -p "$out/corpus"
cp -n "$here"/corpus/* "$out/corpus/" 2>/dev/null || true
srcs=("$here/audit_decoders_fuzz.cpp" "$root/audit/record.cpp" "$root/audit/proof_file.cpp" "$root/audit/store.cpp"
      "$root/audit/tree_tiles.cpp")
for f in "$root"/crypto/*.cpp; do srcs+=("$f"); done
clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I"$root" \
  "${srcs[@]}" -o "$out/fuzz_audit" -lrocksdb -lsodium -lcrypto -lfmt
"$out/fuzz_audit" -max_total_time="${1:-30}" -max_len=8192 "$out/corpus"
