#!/usr/bin/env bash
# A bounded libFuzzer session over the gateway's request reader (clang, ASan + UBSan), SECONDS long.
#   tests/fuzz/gateway/run-libfuzzer.sh [SECONDS] [WORK_DIR]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
SECONDS_TO_RUN=${1:-30}
WORK=${2:-$(mktemp -d)}
CLANG=$(command -v clang++ || command -v clang++-14 || true)
if [[ -z $CLANG ]]; then
  echo "clang++ not installed: skipping the libFuzzer run (the corpus still runs as fuzz.gateway_corpus)"
  exit 0
fi
mkdir -p "$WORK/corpus"
cp "$HERE"/corpus/* "$WORK/corpus/"
"$CLANG" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I"$ROOT" \
  "$HERE/request_reader_fuzz.cpp" "$ROOT/gateway/http_parser.cpp" "$ROOT/gateway/field_names.cpp" -o "$WORK/request_reader_fuzz"
cd "$WORK"
./request_reader_fuzz -max_total_time="$SECONDS_TO_RUN" -max_len=4096 -print_final_stats=1 corpus 2>&1 | tail -15
