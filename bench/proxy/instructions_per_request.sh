#!/usr/bin/env bash
# Instructions per proxied request of one sovgw configuration, counted by callgrind: a figure that,
# unlike rps on this shared machine, does not move with the neighbours' load. Run
# bench/compare-proxies.sh first (with --tenants N for the tenants configuration): this reuses its
# upstream nginx configuration, request (post.lua) and sovgw configurations in bench/out/proxies.
#
#   bench/proxy/instructions_per_request.sh [--binary build/sovgw] CONFIG [SECONDS]
#   e.g. CONFIG = bench/out/proxies/sovgw.yaml, bench/out/proxies/sovgw-tenants.yaml
#
# sovgw runs under valgrind --tool=callgrind; wrk (one thread, 8 connections) warms it for 3 s; the
# instructions of SECONDS (default 20) idle are counted, then those of SECONDS in the middle of a
# wrk run whose connections are already open (no TLS handshake in the window: the figure is the
# steady state of keep-alive traffic, whatever the request rate). The requests counted are the
# calls to request_recorder::finish in the window. Prints `instructions_per_request=…` (every
# thread of the process: busy minus idle, over the requests).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=build/sovgw
if [[ ${1:-} == --binary ]]; then BIN=$2; shift 2; fi
CONFIG=${1:?usage: instructions_per_request.sh [--binary BIN] CONFIG [SECONDS]}
SECONDS_RUN=${2:-20}
D=bench/out/proxies
[[ -f $D/up/nginx.conf && -f $D/post.lua ]] || { echo "run bench/compare-proxies.sh first" >&2; exit 2; }
command -v valgrind > /dev/null || { apt-get update -qq && apt-get install -y -qq valgrind > /dev/null; }
OUT=$(mktemp -d)
PORT=$(grep -oP 'listen: \{address: 127.0.0.1, port: \K[0-9]+' "$CONFIG")
UP_PID=
cleanup() {
  [[ -n $UP_PID ]] && kill "$UP_PID" 2> /dev/null || true
  [[ -n ${VG_PID:-} ]] && kill "$VG_PID" 2> /dev/null || true
  rm -rf "$OUT"
}
trap cleanup EXIT
# Neither server may keep the caller's descriptors (a lock held by the caller, for one).
if ! pgrep -f "nginx -c $PWD/$D/up/nginx.conf" > /dev/null; then
  nginx -c "$PWD/$D/up/nginx.conf" -p "$PWD/$D/up" 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
  UP_PID=$(cat "$D/up/nginx.pid")
fi
valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.%p" "$BIN" serve --config "$CONFIG" \
  > "$OUT/sovgw.log" 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
VG_PID=$!
for _ in $(seq 1 120); do curl -sk -o /dev/null "https://127.0.0.1:$PORT/" && break; sleep 1; done
url="https://127.0.0.1:$PORT/v1/chat/completions"
wrk -t1 -c8 -d3s -s "$D/post.lua" "$url" > /dev/null
# The process's own background work (timers, the control thread) while idle, for as long as the
# measurement: subtracted, so that the figure does not depend on how many requests a run served.
callgrind_control -z "$VG_PID" > /dev/null 2>&1
sleep "$SECONDS_RUN"
callgrind_control -d "$VG_PID" > /dev/null 2>&1
wrk -t1 -c8 -d"$((SECONDS_RUN + 6))s" -s "$D/post.lua" "$url" > /dev/null &
WRK_PID=$!
sleep 3
callgrind_control -z "$VG_PID" > /dev/null 2>&1
sleep "$SECONDS_RUN"
callgrind_control -d "$VG_PID" > /dev/null 2>&1
wait "$WRK_PID"
kill -INT "$VG_PID"; wait "$VG_PID" 2> /dev/null || true; VG_PID=
total_of() { callgrind_annotate --auto=no --threshold=100 "$1" 2> /dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}'; }
idle=$(total_of "$(ls "$OUT"/cg.*.1)")
busy=$(total_of "$(ls "$OUT"/cg.*.2)")
# One request_recorder::finish per request, whatever its outcome.
requests=$(callgrind_annotate --auto=no --threshold=100 --tree=calling "$(ls "$OUT"/cg.*.2)" 2> /dev/null |
  grep -F '>   ' | grep -F 'request_recorder::finish(sovgw::gateway::request_context const&) const (' |
  sed -E 's/.*\(([0-9,]+)x\).*/\1/; s/,//g' | awk '{n += $1} END {print n + 0}')
[[ $requests -gt 0 ]] || { echo "no request counted (was request_recorder::finish renamed?)" >&2; exit 1; }
echo "instructions_per_request=$(((busy - idle) / requests)) requests=$requests idle_instructions=$idle config=$CONFIG"
