#!/usr/bin/env bash
# A bounded libFuzzer session over the DNS answer parser (clang, ASan + UBSan), SECONDS long.
#   tests/fuzz/dns/run_libfuzzer.sh [SECONDS] [WORK_DIR]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
SECONDS_TO_RUN=${1:-30}
WORK=${2:-$(mktemp -d)}
CLANG=$(command -v clang++ || command -v clang++-14 || true)
if [[ -z $CLANG ]]; then
  echo "clang++ not installed: skipping the libFuzzer run (the corpus still runs as fuzz.dns_corpus)"
  exit 0
fi
mkdir -p "$WORK/corpus"
cp "$HERE"/corpus/* "$WORK/corpus/"
"$CLANG" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I"$ROOT" \
  "$HERE/dns_answer_fuzz.cpp" "$ROOT/gateway/dns_message.cpp" -o "$WORK/dns_answer_fuzz"
cd "$WORK"
./dns_answer_fuzz -max_total_time="$SECONDS_TO_RUN" -max_len=1024 -print_final_stats=1 corpus 2>&1 | tail -15
