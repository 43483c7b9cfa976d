#!/usr/bin/env bash
# The traffic LLM clusters really see: many long streamed completions at once, through sovgw and
# through HAProxy, in the same run.
#
#   bench/compare-streams.sh [--streams 1000,5000] [--chunks 40] [--delay-ms 100] [--rounds 1]
#
# The upstream is the stand-in cluster (TLS), pacing each stream at --chunks events --delay-ms
# apart. For each N, a fresh sovgw (threads: 1) and a fresh HAProxy (nbthread 1) each carry N
# concurrent streams opened by build/bench/streams_client/streams_client (all N TLS connections
# first, then every request at once). Per proxy it prints: streams completed, time to first event
# (p50/p99), CPU time of the proxy per relayed event, and its RSS growth per stream (peak during the
# streams minus before the connections, over N). The ratio line is gateway/haproxy: below 1 is
# better for all three.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
STREAMS=1000,5000
CHUNKS=40
DELAY=100
ROUNDS=1
while (($#)); do
  case $1 in
    --streams) STREAMS=$2; shift 2 ;;
    --chunks) CHUNKS=$2; shift 2 ;;
    --delay-ms) DELAY=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

bench_start haproxy python3 openssl -- sovgw bench/streams_client/streams_client examples/standin-cluster
CLIENT=$BUILD/bench/streams_client/streams_client
bench_out streams
UP=$(free_port); GW=$(free_port); GW_ADMIN=$(free_port); HA=$(free_port)

"$BUILD/examples/standin-cluster" --port "$UP" --cert "$CERTS/cluster.pem" --key "$CERTS/cluster.key" \
  --chunks "$CHUNKS" --delay-ms "$DELAY" > "$OUT/standin.log" 2>&1 &
PIDS+=($!)

# N streams open N upstream TLS connections at once, and the stand-in completes their handshakes
# one after another: the last ones take seconds. HAProxy waits up to 5 s per attempt and retries 3
# times (its default), so sovgw gets the same 20 s budget for connect + handshake (its default,
# 5 s and no retry, left 856 of 5,000 streams unserved, "TLS handshake ... timeout").
{
  sovgw_bench_config "$GW" "$GW_ADMIN" "$UP" 40000 40000
  echo "timeouts: {upstream_connect: 20s}"
} > "$OUT/sovgw.yaml"
haproxy_bench_config "$HA" "$UP" 9000 120s 9000 > "$OUT/haproxy.cfg"
wait_port "$UP"

# One measurement on a fresh proxy process: prints the client's JSON line.
measure() { # name streams
  local name=$1 n=$2 port pid
  if [[ $name == sovgw ]]; then
    "$BUILD/sovgw" serve --config "$OUT/sovgw.yaml" >> "$OUT/sovgw.log" 2>&1 &
    pid=$!
    port=$GW
  else
    haproxy -f "$OUT/haproxy.cfg" >> "$OUT/haproxy.log" 2>&1 &
    pid=$!
    port=$HA
  fi
  wait_port "$port"
  sleep 0.5
  "$CLIENT" --port "$port" --ca "$CERTS/ca.pem" --streams "$n" --pid "$pid" --timeout-s 300
  kill "$pid" 2> /dev/null || true
  wait "$pid" 2> /dev/null || true
  sleep 1
}

# Per-proxy figures from the client's JSON lines (medians over rounds).
figures() { # streams json-lines
  python3 - "$@" <<'PY'
import json, statistics, sys
n = int(sys.argv[1])
ds = [json.loads(l) for l in sys.argv[2].strip().splitlines()]
rss = statistics.median((d['proxy_rss_peak_kib'] - d['proxy_rss_baseline_kib']) / n for d in ds)
cpu = statistics.median(d['proxy_cpu_s'] * 1e6 / max(d['events'], 1) for d in ds)
p50 = statistics.median(d['ttfb_p50_ms'] for d in ds)
p99 = statistics.median(d['ttfb_p99_ms'] for d in ds)
done = min(d['completed'] for d in ds)
print(f"{rss:.2f} {cpu:.2f} {p50:.2f} {p99:.2f} {done}")
PY
}

echo "== $CHUNKS events ${DELAY} ms apart per stream; one proxy thread each; $ROUNDS round(s) per N"
for n in ${STREAMS//,/ }; do
  sovgw_runs=""
  haproxy_runs=""
  for _ in $(seq 1 "$ROUNDS"); do
    sovgw_runs+="$(measure sovgw "$n")"$'\n'
    haproxy_runs+="$(measure haproxy "$n")"$'\n'
  done
  read -r g_rss g_cpu g_p50 g_p99 g_done < <(figures "$n" "$sovgw_runs")
  read -r h_rss h_cpu h_p50 h_p99 h_done < <(figures "$n" "$haproxy_runs")
  printf '%-8s N=%-5s completed=%s/%s ttfb_p50_ms=%-8s ttfb_p99_ms=%-8s cpu_us_per_chunk=%-7s rss_kib_per_stream=%s\n' \
    sovgw "$n" "$g_done" "$n" "$g_p50" "$g_p99" "$g_cpu" "$g_rss"
  printf '%-8s N=%-5s completed=%s/%s ttfb_p50_ms=%-8s ttfb_p99_ms=%-8s cpu_us_per_chunk=%-7s rss_kib_per_stream=%s\n' \
    haproxy "$n" "$h_done" "$n" "$h_p50" "$h_p99" "$h_cpu" "$h_rss"
  complete=$([[ $g_done == "$n" && $h_done == "$n" ]] && echo yes || echo NO)
  echo "ratio gateway/haproxy N=$n stream_rss_per_stream=$(ratio "$g_rss" "$h_rss") cpu_per_chunk=$(ratio "$g_cpu" "$h_cpu") ttfb_p99=$(ratio "$g_p99" "$h_p99") all_streams_completed=$complete"
done
