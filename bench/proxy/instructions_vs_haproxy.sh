#!/usr/bin/env bash
# Instructions, branch misses and cache misses per proxied request, sovgw against HAProxy, counted
# by callgrind (with its cache and branch simulators) over the same fixed number of requests from
# the same client: a per-request comparison that does not move with this shared machine's load.
# Run bench/compare-proxies.sh first: this reuses its upstream nginx, request body and the two
# proxies' configurations in bench/out/proxies.
#
#   bench/proxy/instructions_vs_haproxy.sh [--binary build/sovgw] [REQUESTS_PER_CONNECTION] [CONNECTIONS]
#
# The client (python3, keep-alive TLS) opens CONNECTIONS connections (default 8) and warms them and
# the proxy's upstream pool with 30 concurrent requests each; the counters are zeroed, every
# connection then sends REQUESTS_PER_CONNECTION (default 300) requests one after another, all
# connections at once, and the counters are dumped: no TLS handshake in the window on either leg.
# Prints one line per proxy (per request: Ir instructions, Bcm/Bim conditional/indirect branch
# mispredictions, I1mr/D1mr/D1mw first-level cache misses, as simulated) and their ratios.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=build/sovgw
if [[ ${1:-} == --binary ]]; then BIN=$2; shift 2; fi
PER_CONN=${1:-300}
CONNS=${2:-8}
D=bench/out/proxies
[[ -f $D/up/nginx.conf && -f $D/body.json && -f $D/haproxy.cfg && -f $D/sovgw.yaml ]] ||
  { echo "run bench/compare-proxies.sh first" >&2; exit 2; }
command -v valgrind > /dev/null || { apt-get update -qq && apt-get install -y -qq valgrind > /dev/null; }
OUT=$(mktemp -d)
UP_PID= VG_PID=
cleanup() {
  [[ -n $VG_PID ]] && kill "$VG_PID" 2> /dev/null || true
  [[ -n $UP_PID ]] && kill "$UP_PID" 2> /dev/null || true
  rm -rf "$OUT"
}
trap cleanup EXIT

cat > "$OUT/client.py" <<'EOF'
import http.client, ssl, sys, threading
port, per_conn, conns, body_file = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
body = open(body_file, 'rb').read()
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
cs = [http.client.HTTPSConnection('127.0.0.1', port, context=ctx) for _ in range(conns)]
def one(c):
    c.request('POST', '/v1/chat/completions', body,
              {'Content-Type': 'application/json', 'Authorization': 'Bearer bench'})
    r = c.getresponse()
    r.read()
    if r.status != 200:
        raise SystemExit(f'status {r.status}')
def run(c, n):
    for _ in range(n):
        one(c)
def all_at_once(n):
    ts = [threading.Thread(target=run, args=(c, n)) for c in cs]
    [t.start() for t in ts]
    [t.join() for t in ts]
all_at_once(30)  # connections open, the proxy's upstream pool at its working size
print('ready', flush=True)
sys.stdin.readline()
all_at_once(per_conn)
print('done', flush=True)
EOF

# Neither server may keep the caller's descriptors (a lock held by the caller, for one).
if ! pgrep -f "nginx -c $PWD/$D/up/nginx.conf" > /dev/null; then
  nginx -c "$PWD/$D/up/nginx.conf" -p "$PWD/$D/up" 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
  UP_PID=$(cat "$D/up/nginx.pid")
fi

REQUESTS=$((PER_CONN * CONNS))
declare -A FIG
count() { # name port command...
  local name=$1 port=$2; shift 2
  valgrind --tool=callgrind --cache-sim=yes --branch-sim=yes --callgrind-out-file="$OUT/$name.%p" "$@" \
    > "$OUT/$name.log" 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
  VG_PID=$!
  for _ in $(seq 1 120); do curl -sk -o /dev/null "https://127.0.0.1:$port/" && break; sleep 1; done
  # The client's pipes and pid are copied: bash unsets CLIENT and CLIENT_PID once it exits.
  local line from to cpid
  coproc CLIENT { python3 "$OUT/client.py" "$port" "$PER_CONN" "$CONNS" "$D/body.json"; }
  cpid=$CLIENT_PID
  exec {from}<&"${CLIENT[0]}" {to}>&"${CLIENT[1]}"
  read -r line <&"$from" || true
  [[ $line == ready ]] || { echo "$name: the client did not start" >&2; exit 1; }
  callgrind_control -z "$VG_PID" > /dev/null 2>&1
  echo go >&"$to"
  read -r line <&"$from" || true
  [[ $line == done ]] || { echo "$name: the client failed" >&2; exit 1; }
  callgrind_control -d "$VG_PID" > /dev/null 2>&1
  exec {from}<&- {to}>&-
  wait "$cpid" 2> /dev/null || true
  # The counts are dumped: stop hard (HAProxy under valgrind can take minutes over SIGINT).
  kill -KILL "$VG_PID"; wait "$VG_PID" 2> /dev/null || true; VG_PID=
  local dump
  dump=$(ls "$OUT"/"$name".*.1)
  FIG[$name]=$(callgrind_annotate --auto=no --threshold=100 "$dump" 2> /dev/null | python3 -c "
import re, sys
events = totals = None
for line in sys.stdin:
    if line.startswith('Events shown:'):
        events = line.split(':', 1)[1].split()
    if 'PROGRAM TOTALS' in line:
        # By position: an event whose total is zero is printed without a percentage.
        totals = [int(x.replace(',', '')) for x in line.split('PROGRAM TOTALS')[0].split() if re.fullmatch(r'[0-9][0-9,]*', x)]
want = ['Ir', 'Bcm', 'Bim', 'I1mr', 'D1mr', 'D1mw']
print(' '.join('%s=%.0f' % (w, totals[events.index(w)] / $REQUESTS) for w in want))")
  printf '%-8s %s\n' "$name" "${FIG[$name]}"
}

HAPORT=$(grep -oP 'bind 127.0.0.1:\K[0-9]+' "$D/haproxy.cfg")
SOVPORT=$(grep -oP 'listen: \{address: 127.0.0.1, port: \K[0-9]+' "$D/sovgw.yaml")
echo "requests counted per proxy: $REQUESTS ($CONNS keep-alive connections x $PER_CONN)"
count haproxy "$HAPORT" haproxy -f "$D/haproxy.cfg"
count sovgw "$SOVPORT" "$BIN" serve --config "$D/sovgw.yaml"
python3 - "${FIG[sovgw]}" "${FIG[haproxy]}" <<'EOF'
import sys
s = dict(kv.split('=') for kv in sys.argv[1].split())
h = dict(kv.split('=') for kv in sys.argv[2].split())
print('ratio sovgw/haproxy ' + ' '.join('%s=%.2f' % (k, float(s[k]) / max(1.0, float(h[k]))) for k in s))
EOF
