#!/usr/bin/env bash
# Bounded libFuzzer sessions over the gateway's pure parsers (clang, ASan + UBSan), SECONDS each:
# the request reader, and the DNS answer parser of the stub resolver.
#   tests/fuzz/gateway/run-libfuzzer.sh [SECONDS] [WORK_DIR]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
SECONDS_TO_RUN=${1:-30}
WORK=${2:-$(mktemp -d)}
CLANG=$(command -v clang++ || command -v clang++-14 || true)
if [[ -z $CLANG ]]; then
  echo "clang++ not installed: skipping the libFuzzer runs (the corpora still run as fuzz.gateway_corpus, fuzz.dns_corpus)"
  exit 0
fi
run() { # target corpus max_len sources...
  local target=$1 corpus=$2 max_len=$3
  shift 3
  mkdir -p "$WORK/$corpus"
  cp "$HERE/$corpus"/* "$WORK/$corpus/"
  "$CLANG" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I"$ROOT" \
    "$@" -o "$WORK/$target"
  (cd "$WORK" && "./$target" -max_total_time="$SECONDS_TO_RUN" -max_len="$max_len" -print_final_stats=1 "$corpus" 2>&1 |
    tail -15)
}
run request_reader_fuzz corpus 4096 "$HERE/request_reader_fuzz.cpp" "$ROOT/gateway/http_parser.cpp" \
  "$ROOT/gateway/field_names.cpp"
run dns_answer_fuzz dns_corpus 1024 "$HERE/dns_answer_fuzz.cpp" "$ROOT/gateway/dns_message.cpp"
