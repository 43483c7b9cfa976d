# shellcheck shell=bash
# The start-up the proxy benchmarks share (compare-proxies.sh, compare-streams.sh); sourced, not run.
# Sets ROOT (the repository, also the working directory) and BUILD; each function says what it
# sets. Processes added to PIDS, and those whose pid files are listed in PID_FILES, are stopped on exit.
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
ROOT=$PWD
BUILD=${SOVGW_BUILD_DIR:-$ROOT/build}
# The servers started here do not inherit the caller's open files (the lock /work/tools/locked
# holds, say): nginx daemonizes, and one that outlived the script would keep the lock forever.
for fd in "/proc/$$/fd"/*; do
  fd=${fd##*/}
  if ((fd > 2 && fd < 255)); then eval "exec $fd>&-"; fi
done
PIDS=()
PID_FILES=()
cleanup() {
  local p f
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for f in "${PID_FILES[@]}"; do
    if [[ -f $f ]]; then kill "$(cat "$f")" 2>/dev/null || true; fi
  done
  wait 2>/dev/null || true
}
trap cleanup EXIT

# bench_start PACKAGES... -- EXECUTABLES...: installs the Debian packages that are missing, checks
# that the build has the executables (paths under BUILD) and raises the open-files limit.
bench_start() {
  local need=() p
  while (($#)) && [[ $1 != -- ]]; do
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed" || need+=("$1")
    shift
  done
  if ((${#need[@]})); then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
  fi
  (($#)) && shift
  for p in "$@"; do
    [[ -x $BUILD/$p ]] || { echo "build first: ./run.sh build" >&2; exit 2; }
  done
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
}

# bench_out NAME: sets OUT to a fresh bench/out/NAME and CERTS to dev certificates in it (with
# gateway-combined.pem, the gateway's certificate and key in one file, for HAProxy).
bench_out() {
  OUT=$ROOT/bench/out/$1
  rm -rf "$OUT"
  mkdir -p "$OUT"
  CERTS=$OUT/certs
  "$ROOT/certs/make-dev-certs.sh" "$CERTS" >/dev/null
  cat "$CERTS/gateway.pem" "$CERTS/gateway.key" > "$CERTS/gateway-combined.pem"
  chmod 600 "$CERTS/gateway-combined.pem"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_port PORT: until 127.0.0.1:PORT accepts a connection (10 s at most; fails after).
wait_port() {
  for _ in $(seq 1 100); do
    (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null && return 0
    sleep 0.1
  done
  return 1
}

# sovgw_bench_config PORT ADMIN_PORT UPSTREAM_PORT MAX_CONNECTIONS [MAX_CONNECTIONS_PER_ENDPOINT]:
# prints the benchmarks' sovgw config (one thread, no access log, one TLS cluster on the upstream).
sovgw_bench_config() {
  cat <<EOF_YAML
listen: {address: 127.0.0.1, port: $1}
tls: {certificate: $CERTS/gateway.pem, private_key: $CERTS/gateway.key}
admin: {address: 127.0.0.1, port: $2}
threads: 1
access_log: false
limits: {max_connections: $4}
clusters:
  - name: bench
    endpoints: ["127.0.0.1:$3"]
    on_premises: true
    country: FR
    region: eu-west-3
    operator_jurisdiction: EU
    tls: {ca: $CERTS/ca.pem, server_name: localhost}
    max_idle_per_endpoint: 1024
EOF_YAML
  if [[ -n ${5:-} ]]; then echo "    max_connections_per_endpoint: $5"; fi
}

# haproxy_bench_config PORT UPSTREAM_PORT GLOBAL_MAXCONN TIMEOUT [MAXCONN]: prints the benchmarks'
# HAProxy config (one thread, TLS in front, verified TLS to the upstream, connections reused);
# MAXCONN, when given, caps the frontend and the upstream server too.
haproxy_bench_config() {
  local cap_defaults="" cap_server=""
  if [[ -n ${5:-} ]]; then
    cap_defaults=$'\n'"  maxconn $5"
    cap_server=" maxconn $5"
  fi
  cat <<EOF_CFG
global
  nbthread 1
  maxconn $3
  ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256
  ssl-default-bind-options ssl-min-ver TLSv1.2
defaults
  mode http$cap_defaults
  timeout connect 5s
  timeout client $4
  timeout server $4
  http-reuse always
frontend fe
  bind 127.0.0.1:$1 ssl crt $CERTS/gateway-combined.pem alpn http/1.1
  default_backend be
backend be
  server up 127.0.0.1:$2 ssl verify required ca-file $CERTS/ca.pem sni str(localhost) verifyhost localhost pool-max-conn 1024$cap_server
EOF_CFG
}

# ratio A B: A/B with two decimals, n/a when B is 0.
ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}' if b else 'n/a')" "$1" "$2"; }
