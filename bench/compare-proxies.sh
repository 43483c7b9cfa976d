#!/usr/bin/env bash
# Side-by-side benchmark: sovgw vs HAProxy vs nginx, each terminating TLS and re-encrypting to the
# same TLS upstream (nginx `return 200` with a fixed chat completion), measured with wrk in one run.
#
#   bench/compare-proxies.sh [--duration 10] [--rounds 3] [--connections 32] [--idle 2000] [--audit]
#                            [--signing] [--compliance] [--stages]
#                            [--tenants N [--limits-store]]
#
# --audit adds two sovgw instances recording every request in an audit log (sealed payloads):
# sovgw_audit makes each record durable before the response's last byte (the default),
# sovgw_audit_after appends it after the response (audit.record_before_response: false); their
# cost is printed against plain sovgw.
# --signing adds sovgw_signed: plain sovgw with `signing.key` (every forwarded request signed with
# Ed25519, a Content-Digest of its body, and a signed receipt on every response), against plain sovgw.
#
# --compliance adds the whole compliance pipeline and the AI-gateway peer, in the same run:
#   sovgw_compliance: plain sovgw's config with examples/policies/eu_policy.yaml (detectors on), the
#     audit log (sealed payloads, durable before the response) and `signing.key` (Ed25519 request
#     signature, Content-Digest and a signed receipt on every response);
#   sovgw_compliance_unsigned: the same without `signing:`; the difference in measured CPU per
#     request between the two is printed as signature_us_per_request_by_difference, an upper bound
#     (closed-loop wrk drives the signed gateway slower, so its audit group commits are smaller);
#   portkey: the open-source Portkey gateway (npm @portkey-ai/gateway, installed on first use into
#     $SOVGW_BENCH_CACHE, default ~/.cache/sovgw-bench, never into the repository) on Node.js,
#     proxying to the same upstream with its default.regexMatch guardrail on every request. It
#     listens on plain HTTP (it has no TLS listener), so it is spared the client-side TLS.
# --stages (implies --compliance) then profiles sovgw_compliance (perf record, DWARF call graphs)
# during one more run and prints its CPU time per request by pipeline stage
# (bench/proxy/stage_costs.py), scaled to the cpu_us_per_req measured without the profiler, and
# signature_us_per_request: the sampled CPU of the request signature and the receipt signature.
# Every proxy's CPU time (all its threads, user + system, from /proc/PID/task/*/schedstat) is
# sampled around each measurement and printed as cpu_us_per_req: CPU time per request served.
#
# --tenants N adds sovgw_tenants: plain sovgw's config with a tenants file of N tenants, each with
# an API key and limits (high enough never to refuse); every client sends one of those keys (the
# other proxies ignore it). Its cost is printed against plain sovgw.
# --limits-store (with --tenants) adds sovgw_shared: sovgw_tenants with `limits_store:` pointing at a
# redis-server this script starts (no persistence), so all N tenants' limits sync every 100 ms. Its
# cost is printed against sovgw_tenants, with Redis's CPU time per sync (INFO commandstats).
#
# Every proxy gets one thread (sovgw threads: 1, HAProxy nbthread 1, nginx worker_processes 1); the
# upstream nginx has one worker; wrk has one thread. They share this machine's cores, so absolute
# numbers mean little: read the ratios. Access logs are off for all three. `rps` ratios are of the
# medians; `rps_paired` is the median of each round's ratio, the two measured back to back (the
# host's load drifts between rounds more than between two neighbouring measurements).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
DURATION=10
ROUNDS=3
CONNS=32
IDLE=2000
AUDIT=0
SIGNING=0
COMPLIANCE=0
STAGES=0
TENANTS=0
LIMITS_STORE=0
while (($#)); do
  case $1 in
    --duration) DURATION=$2; shift 2 ;;
    --connections) CONNS=$2; shift 2 ;;
    --idle) IDLE=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --audit) AUDIT=1; shift ;;
    --signing) SIGNING=1; shift ;;
    --compliance) COMPLIANCE=1; shift ;;
    --stages) COMPLIANCE=1; STAGES=1; shift ;;
    --tenants) TENANTS=$2; shift 2 ;;
    --limits-store) LIMITS_STORE=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

bench_start haproxy nginx-light wrk python3 openssl -- sovgw
bench_out proxies
UP=$(free_port); GW=$(free_port); GW_ADMIN=$(free_port); HA=$(free_port); NX=$(free_port)
GWA=$(free_port); GWA_ADMIN=$(free_port); GWB=$(free_port); GWB_ADMIN=$(free_port)
GWS=$(free_port); GWS_ADMIN=$(free_port)
GWT=$(free_port); GWT_ADMIN=$(free_port)
GWR=$(free_port); GWR_ADMIN=$(free_port); REDIS=$(free_port)
GWC=$(free_port); GWC_ADMIN=$(free_port); GWU=$(free_port); GWU_ADMIN=$(free_port); PK=$(free_port)
declare -A PID_OF URL_OF LUA_OF
PID_FILES+=("$OUT/up/nginx.pid" "$OUT/nx/nginx.pid")

COMPLETION='{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"mistral-small","choices":[{"index":0,"message":{"role":"assistant","content":"Les donnees restent en Europe, sous le droit europeen."},"finish_reason":"stop"}],"usage":{"prompt_tokens":230,"completion_tokens":12,"total_tokens":242}}'

# --- upstream: nginx, TLS, fixed completion ------------------------------------------------------
mkdir -p "$OUT/up"
cat > "$OUT/up/nginx.conf" <<EOF
worker_processes 1;
pid $OUT/up/nginx.pid;
error_log $OUT/up/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  server {
    listen 127.0.0.1:$UP ssl;
    ssl_certificate $CERTS/cluster.pem;
    ssl_certificate_key $CERTS/cluster.key;
    client_body_buffer_size 64k;
    location / {
      default_type application/json;
      return 200 '$COMPLETION';
    }
  }
}
EOF
nginx -c "$OUT/up/nginx.conf" -p "$OUT/up"

# --- sovgw ------------------------------------------------------------------------------------
sovgw_bench_config "$GW" "$GW_ADMIN" "$UP" 8000 > "$OUT/sovgw.yaml"
"$BUILD/sovgw" serve --config "$OUT/sovgw.yaml" > "$OUT/sovgw.log" 2>&1 &
GW_PID=$!; PIDS+=($GW_PID); PID_OF[sovgw]=$GW_PID
# A copy of the sovgw config on other ports with an audit log (own keys and database).
start_audited_gateway() { # name port admin_port extra_audit_yaml [more_clusters_yaml]
  local name=$1 port=$2 admin=$3 extra=$4 more=${5:-}
  "$BUILD/sovgw" keys init "$OUT/$name-keys" > /dev/null
  sed -e "s/port: $GW}/port: $port}/" -e "s/port: $GW_ADMIN}/port: $admin}/" "$OUT/sovgw.yaml" > "$OUT/$name.yaml"
  printf '%b' "$more" >> "$OUT/$name.yaml"  # the clusters list ends the file
  printf 'audit:\n  db: %s\n  keys: %s\n  payload: sealed\n%b' "$OUT/$name-db" "$OUT/$name-keys" "$extra" \
    >> "$OUT/$name.yaml"
  "$BUILD/sovgw" serve --config "$OUT/$name.yaml" > "$OUT/$name.log" 2>&1 &
  PIDS+=($!)
  PID_OF[${name//-/_}]=$!
}
# Prints an audited gateway's group-commit batching since it started (its admin /metrics).
audit_batching() { # name admin_port
  curl -s "http://127.0.0.1:$2/metrics" | awk -v name="$1" '
    $1 == "sovgw_audit_records_total" { r = $2 } $1 == "sovgw_audit_syncs_total" { s = $2 }
    $1 == "sovgw_audit_sync_seconds_total" { t = $2 }
    END { if (s > 0) printf "%s audit_records_per_sync=%.1f audit_sync_ms=%.2f (%d records, %d group commits)\n", name, r / s, 1000 * t / s, r, s }'
}
if ((AUDIT)); then
  start_audited_gateway sovgw-audit "$GWA" "$GWA_ADMIN" ""
  start_audited_gateway sovgw-audit-after "$GWB" "$GWB_ADMIN" "  record_before_response: false\n"
fi
if ((SIGNING)); then
  "$BUILD/sovgw" keys http-new "$OUT/http-signing.key" > /dev/null 2>&1
  sed -e "s/port: $GW}/port: $GWS}/" -e "s/port: $GW_ADMIN}/port: $GWS_ADMIN}/" "$OUT/sovgw.yaml" > "$OUT/sovgw-signed.yaml"
  printf 'signing:\n  key: %s\n' "$OUT/http-signing.key" >> "$OUT/sovgw-signed.yaml"
  "$BUILD/sovgw" serve --config "$OUT/sovgw-signed.yaml" > "$OUT/sovgw-signed.log" 2>&1 &
  PIDS+=($!); PID_OF[sovgw_signed]=$!
fi
if ((COMPLIANCE)); then
  "$BUILD/sovgw" keys http-new "$OUT/compliance-signing.key" > /dev/null 2>&1
  POLICY="policy: $ROOT/examples/policies/eu_policy.yaml\n"
  # The policy pins tenant acme to its dedicated cluster, which must exist (the same upstream).
  ACME=$(sed -n '/^  - name: bench$/,$p' "$OUT/sovgw.yaml" | sed -e 's/name: bench/name: acme-dedicated/' \
    -e 's/country: FR/country: NL/' -e 's/region: eu-west-3/region: eu-west/')
  start_audited_gateway sovgw-compliance-unsigned "$GWU" "$GWU_ADMIN" "$POLICY" "$ACME\n"
  start_audited_gateway sovgw-compliance "$GWC" "$GWC_ADMIN" "${POLICY}signing:\n  key: $OUT/compliance-signing.key\n" \
    "$ACME\n"
fi

# A copy with N tenants, keys and limits; BENCH_KEY is the key every client sends.
BENCH_KEY=sk-bench
if ((TENANTS)); then
  BENCH_KEY=$(python3 - "$OUT/tenants.yaml" "$TENANTS" <<'PY'
import base64, hashlib, os, sys
path, n = sys.argv[1], int(sys.argv[2])
lines, keys = ["tenants:"], []
for i in range(n):
    lines.append(f"  - {{name: t{i}, limits: {{requests_per_minute: 100000000, tokens_per_minute: 1000000000000, "
                 f"tokens_per_month: 1000000000000}}}}")
lines.append("keys:")
for i in range(n):
    key = "sk-sovgw-" + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    digest = hashlib.blake2b(key.encode(), digest_size=32).hexdigest()
    lines.append(f'  - {{tenant: t{i}, id: {key[:17]}, hash: "blake2b-256:{digest}", created: 2026-12-01T00:00:00Z}}')
    keys.append(key)
open(path, "w").write("\n".join(lines) + "\n")
print(keys[n // 2])
PY
)
  sed -e "s/port: $GW}/port: $GWT}/" -e "s/port: $GW_ADMIN}/port: $GWT_ADMIN}/" "$OUT/sovgw.yaml" > "$OUT/sovgw-tenants.yaml"
  echo "tenants: $OUT/tenants.yaml" >> "$OUT/sovgw-tenants.yaml"
  "$BUILD/sovgw" serve --config "$OUT/sovgw-tenants.yaml" > "$OUT/sovgw-tenants.log" 2>&1 &
  PIDS+=($!); PID_OF[sovgw_tenants]=$!
  if ((LIMITS_STORE)); then
    mkdir -p "$OUT/redis"
    redis-server --port "$REDIS" --bind 127.0.0.1 --save '' --appendonly no --dir "$OUT/redis" \
      > "$OUT/redis.log" 2>&1 &
    PIDS+=($!)
    sed -e "s/port: $GWT}/port: $GWR}/" -e "s/port: $GWT_ADMIN}/port: $GWR_ADMIN}/" "$OUT/sovgw-tenants.yaml" \
      > "$OUT/sovgw-shared.yaml"
    echo "limits_store: redis://127.0.0.1:$REDIS/0" >> "$OUT/sovgw-shared.yaml"
    "$BUILD/sovgw" serve --config "$OUT/sovgw-shared.yaml" > "$OUT/sovgw-shared.log" 2>&1 &
    PIDS+=($!); PID_OF[sovgw_shared]=$!
  fi
fi

# --- HAProxy ----------------------------------------------------------------------------------
haproxy_bench_config "$HA" "$UP" 8000 60s > "$OUT/haproxy.cfg"
haproxy -f "$OUT/haproxy.cfg" > "$OUT/haproxy.log" 2>&1 &
HA_PID=$!; PIDS+=($HA_PID); PID_OF[haproxy]=$HA_PID

# --- nginx as the proxy -------------------------------------------------------------------------
mkdir -p "$OUT/nx"
cat > "$OUT/nx/nginx.conf" <<EOF
worker_processes 1;
pid $OUT/nx/nginx.pid;
error_log $OUT/nx/error.log warn;
events { worker_connections 8000; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream up { server 127.0.0.1:$UP; keepalive 1024; }
  server {
    listen 127.0.0.1:$NX ssl;
    ssl_certificate $CERTS/gateway.pem;
    ssl_certificate_key $CERTS/gateway.key;
    location / {
      proxy_pass https://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_ssl_verify on;
      proxy_ssl_trusted_certificate $CERTS/ca.pem;
      proxy_ssl_name localhost;
      proxy_ssl_server_name on;
      proxy_ssl_session_reuse on;
    }
  }
}
EOF
nginx -c "$OUT/nx/nginx.conf" -p "$OUT/nx"
PID_OF[nginx]=$(cat "$OUT/nx/nginx.pid" 2>/dev/null || true)
PID_OF[upstream]=$(cat "$OUT/up/nginx.pid" 2>/dev/null || true)

# --- Portkey (--compliance): Node.js, plain HTTP in front, TLS to the same upstream ---------------
PORTKEY_VERSION=1.15.2
if ((COMPLIANCE)); then
  PK_DIR=${SOVGW_BENCH_CACHE:-$HOME/.cache/sovgw-bench}/portkey-$PORTKEY_VERSION
  PK_JS=$PK_DIR/node_modules/@portkey-ai/gateway/build/start-server.js
  if [[ ! -f $PK_JS ]]; then
    command -v npm > /dev/null || { echo "--compliance needs Node.js and npm (./run.sh build installs them)" >&2; exit 2; }
    mkdir -p "$PK_DIR"
    npm install --prefix "$PK_DIR" --no-audit --no-fund --silent "@portkey-ai/gateway@$PORTKEY_VERSION" \
      || { echo "npm install @portkey-ai/gateway@$PORTKEY_VERSION failed (see above)" >&2; exit 2; }
  fi
  # NODE_ENV=production and --headless: no UI, no log streaming.
  # node_client_errors.cjs logs why Node.js refuses a request it cannot parse (into portkey.log).
  NODE_ENV=production NODE_EXTRA_CA_CERTS=$CERTS/ca.pem \
    node -r "$ROOT/bench/proxy/node_client_errors.cjs" "$PK_JS" --port="$PK" --headless \
    > "$OUT/portkey.log" 2>&1 &
  PIDS+=($!); PID_OF[portkey]=$!
  URL_OF[portkey]=http://127.0.0.1:$PK/v1/chat/completions
  LUA_OF[portkey]=$OUT/post-portkey.lua
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PK/" && break; sleep 0.1; done
fi
sleep 1

python3 - "$OUT/body.json" <<'EOF'
import json, sys
msgs = [{"role": "system", "content": "You are a helpful assistant for a European bank. " * 8},
        {"role": "user", "content": "Summarise the residency rules for customer data in two sentences. " * 7}]
body = json.dumps({"model": "mistral-small", "messages": msgs, "temperature": 0.2, "max_tokens": 256})
open(sys.argv[1], "w").write(body)
print(f"request body: {len(body)} bytes", file=sys.stderr)
EOF
cat > "$OUT/post.lua" <<EOF
local f = io.open("$OUT/body.json", "r")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $BENCH_KEY"
EOF
# Portkey: the same request, with a config routing to the upstream and a regexMatch guardrail on the
# request (a PII shape — an IBAN — that must not match; deny when it does).
if ((COMPLIANCE)); then
  PK_CONFIG='{"provider":"openai","api_key":"sk-bench","custom_host":"https://localhost:'$UP'/v1","before_request_hooks":[{"type":"guardrail","id":"no-iban","deny":true,"checks":[{"id":"default.regexMatch","parameters":{"rule":"\\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){3,7}\\b","not":true}}]}]}'
  cp "$OUT/post.lua" "$OUT/post-portkey.lua"
  printf 'wrk.headers["x-portkey-config"] = [==[%s]==]\n' "$PK_CONFIG" >> "$OUT/post-portkey.lua"
  # Show the first refusals (a guardrail verdict, an upstream error) if there are any.
  cat >> "$OUT/post-portkey.lua" <<'EOF'
local shown = 0
response = function(status, headers, body)
  if status ~= 200 and shown < 2 then
    shown = shown + 1
    local h = ""
    for k, v in pairs(headers) do h = h .. k .. "=" .. v .. " " end
    io.write("portkey answered " .. status .. " [" .. h .. "]: " .. body:sub(1, 300) .. "\n")
  end
end
EOF
fi

# wrk prints latency in us/ms/s; normalise to ms.
to_ms() { python3 -c "
import re,sys
v=sys.argv[1]; m=re.match(r'([0-9.]+)(us|ms|s)',v)
n=float(m.group(1)); print(n/1000 if m.group(2)=='us' else n*1000 if m.group(2)=='s' else n)" "$1"; }

declare -A RPS P50 P99 NEWCONN RSSKB CPU
# CPU time (ns, user + system, every thread) of a process and its children (nginx's workers).
cpu_ns() { # pid
  local pids=("$1") total=0 f
  mapfile -t -O 1 pids < <(pgrep -P "$1" || true)
  for p in "${pids[@]}"; do
    for f in /proc/"$p"/task/*/schedstat; do
      [[ -r $f ]] && total=$((total + $(cut -d' ' -f1 "$f" 2>/dev/null || echo 0)))
    done
  done
  echo "$total"
}
# One measurement: wrk against a target; prints "rps p50_ms p99_ms cpu_us_per_request" (the last
# is "-" when the target's process is not known).
measure() { # name port seconds [wrk args...]
  local name=$1 port=$2 secs=$3; shift 3
  local log url=${URL_OF[$name]:-https://127.0.0.1:$port/v1/chat/completions} pid=${PID_OF[$name]:-}
  local before=0 after=0 cpu=-
  [[ -n $pid ]] && before=$(cpu_ns "$pid")
  log=$(wrk -t1 -c"$CONNS" -d"${secs}s" --latency "$@" -s "${LUA_OF[$name]:-$OUT/post.lua}" "$url")
  [[ -n $pid ]] && after=$(cpu_ns "$pid")
  local requests failed rps
  requests=$(awk '/requests in/ {print $1}' <<< "$log")
  failed=$(awk '/Non-2xx/ {print $NF}' <<< "$log")
  rps=$(awk '/Requests\/sec/ {print $2}' <<< "$log")
  if [[ -n $failed ]]; then
    # sovgw, HAProxy and nginx must answer every request; Portkey's refusals are reported, not
    # counted: its rps and CPU per request are over the requests it answered with 2xx.
    if [[ $name != portkey ]]; then echo "errors from $name:" >&2; echo "$log" >&2; exit 1; fi
    echo "$name: $failed of $requests responses were not 2xx (excluded):" >&2
    grep "answered" <<< "$log" >&2 || true
    rps=$(python3 -c "print(round($rps * ($requests - $failed) / max(1, $requests), 2))")
    requests=$((requests - failed))
  fi
  [[ -n $pid ]] && cpu=$(python3 -c "print(round(($after - $before) / 1000 / max(1, $requests), 1))")
  echo "$rps $(to_ms "$(awk '$1=="50%" {print $2}' <<< "$log")") $(to_ms "$(awk '$1=="99%" {print $2}' <<< "$log")") $cpu"
}
median() { python3 -c "import statistics,sys; print(round(statistics.median(float(x) for x in sys.argv[1:]), 2))" "$@"; }

# The machine is shared and noisy: every target is measured ROUNDS times, interleaved (A B C A B C
# ...), and the median of each figure is kept. ROUND_RPS keeps each round's rps, for paired ratios.
declare -A ROUND_RPS
run_all() { # name:port...
  local -A rps p50 p99 nc cpu
  for t in "$@"; do
    local name=${t%%:*} port=${t#*:}
    curl -sk -o /dev/null "${URL_OF[$name]:-https://127.0.0.1:$port/v1/chat/completions}" \
      -H 'Content-Type: application/json' -H "Authorization: Bearer $BENCH_KEY" -d @"$OUT/body.json" || {
      echo "$name does not answer on port $port; the end of its log ($OUT/${name//_/-}.log):" >&2
      tail -5 "$OUT/${name//_/-}.log" >&2 2> /dev/null
      exit 1
    }
    measure "$name" "$port" 2 > /dev/null  # warm-up: pools filled, caches hot
  done
  for round in $(seq 1 "$ROUNDS"); do
    for t in "$@"; do
      local name=${t%%:*} port=${t#*:}
      read -r r a b c < <(measure "$name" "$port" "$DURATION")
      rps[$name]+="$r "; p50[$name]+="$a "; p99[$name]+="$b "; cpu[$name]+="$c "
      read -r r _ _ _ < <(measure "$name" "$port" "$((DURATION / 2 > 2 ? DURATION / 2 : 2))" -H "Connection: close")
      nc[$name]+="$r "
    done
  done
  for t in "$@"; do
    local name=${t%%:*}
    ROUND_RPS[$name]=${rps[$name]}
    RPS[$name]=$(median ${rps[$name]}); P50[$name]=$(median ${p50[$name]}); P99[$name]=$(median ${p99[$name]})
    NEWCONN[$name]=$(median ${nc[$name]})
    CPU[$name]=-
    [[ ${cpu[$name]} != -* ]] && CPU[$name]=$(median ${cpu[$name]})
    printf '%-25s rps=%-10s p50_ms=%-8s p99_ms=%-8s new_tls_conn_per_s=%-9s cpu_us_per_req=%-7s (rounds rps: %s)\n' \
      "$name" "${RPS[$name]}" "${P50[$name]}" "${P99[$name]}" "${NEWCONN[$name]}" "${CPU[$name]}" "${rps[$name]}"
  done
}

# The median over rounds of A's rps over B's in the same round: the host's load drifts between rounds
# (one round at 16k rps, the next at 23k), and A and B measured back to back see the same drift.
paired() { # a b
  python3 -c "import statistics,sys; a,b=(list(map(float,x.split())) for x in sys.argv[1:]); print(round(statistics.median(x/y for x,y in zip(a,b)),2))" \
    "${ROUND_RPS[$1]}" "${ROUND_RPS[$2]}"
}

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
idle_rss() { # name port pid -> KiB per idle TLS connection
  local name=$1 port=$2 pid=$3
  local before after
  before=$(rss_kb "$pid")
  python3 "$ROOT/bench/proxy/hold_idle_tls.py" 127.0.0.1 "$port" "$IDLE" "$OUT/idle-$name.ready" &
  local holder=$!
  for _ in $(seq 1 600); do [[ -f $OUT/idle-$name.ready ]] && break; sleep 0.1; done
  sleep 1
  after=$(rss_kb "$pid")
  kill "$holder"; wait "$holder" 2>/dev/null || true
  RSSKB[$name]=$(python3 -c "print(round(($after-$before)/$IDLE, 2))")
  echo "$name: RSS $before KiB -> $after KiB with $IDLE idle TLS connections: ${RSSKB[$name]} KiB each"
}

echo "== upstream direct, then the proxies (1 thread each), $ROUNDS interleaved rounds of ${DURATION}s"
# What is compared with plain sovgw is measured right after it (paired ratios), HAProxy right after that.
targets=(upstream:"$UP" sovgw:"$GW")
((TENANTS)) && targets+=(sovgw_tenants:"$GWT")
targets+=(haproxy:"$HA" nginx:"$NX")
((AUDIT)) && targets+=(sovgw_audit:"$GWA" sovgw_audit_after:"$GWB")
((SIGNING)) && targets+=(sovgw_signed:"$GWS")
((TENANTS && LIMITS_STORE)) && targets+=(sovgw_shared:"$GWR")
((COMPLIANCE)) && targets+=(sovgw_compliance:"$GWC" sovgw_compliance_unsigned:"$GWU" portkey:"$PK")
run_all "${targets[@]}"
echo "== memory per idle TLS connection"
idle_rss sovgw "$GW" "$GW_PID"
idle_rss haproxy "$HA" "$HA_PID"

echo
for peer in haproxy nginx; do
  echo "ratio gateway/$peer rps=$(ratio "${RPS[sovgw]}" "${RPS[$peer]}") rps_paired=$(paired sovgw "$peer") p50=$(ratio "${P50[sovgw]}" "${P50[$peer]}") p99=$(ratio "${P99[sovgw]}" "${P99[$peer]}") new_tls_conn=$(ratio "${NEWCONN[sovgw]}" "${NEWCONN[$peer]}")"
done
echo "ratio gateway/haproxy idle_conn_rss=$(ratio "${RSSKB[sovgw]}" "${RSSKB[haproxy]}")"
if ((SIGNING)); then
  echo "ratio gateway_signed/gateway rps=$(ratio "${RPS[sovgw_signed]}" "${RPS[sovgw]}") p50=$(ratio "${P50[sovgw_signed]}" "${P50[sovgw]}") p99=$(ratio "${P99[sovgw_signed]}" "${P99[sovgw]}")"
fi
if ((COMPLIANCE)); then
  echo "ratio gateway_compliance/haproxy rps=$(ratio "${RPS[sovgw_compliance]}" "${RPS[haproxy]}") p50=$(ratio "${P50[sovgw_compliance]}" "${P50[haproxy]}") p99=$(ratio "${P99[sovgw_compliance]}" "${P99[haproxy]}") cpu_per_req=$(ratio "${CPU[sovgw_compliance]}" "${CPU[haproxy]}")"
  echo "ratio gateway_compliance_unsigned/haproxy rps=$(ratio "${RPS[sovgw_compliance_unsigned]}" "${RPS[haproxy]}") p50=$(ratio "${P50[sovgw_compliance_unsigned]}" "${P50[haproxy]}") p99=$(ratio "${P99[sovgw_compliance_unsigned]}" "${P99[haproxy]}")"
  echo "ratio portkey/haproxy rps=$(ratio "${RPS[portkey]}" "${RPS[haproxy]}") p50=$(ratio "${P50[portkey]}" "${P50[haproxy]}") p99=$(ratio "${P99[portkey]}" "${P99[haproxy]}") cpu_per_req=$(ratio "${CPU[portkey]}" "${CPU[haproxy]}")"
  echo "ratio gateway_compliance/portkey rps=$(ratio "${RPS[sovgw_compliance]}" "${RPS[portkey]}") cpu_per_req=$(ratio "${CPU[sovgw_compliance]}" "${CPU[portkey]}")"
  # The two compliance gateways differ only by signing.key (Content-Digest, nonce, the request
  # signature and the receipt). An upper bound: closed-loop wrk drives the signed gateway at a lower
  # rate, so each of its audit group commits carries fewer records and costs more per request.
  # --stages samples the signatures' CPU directly.
  echo "signature_us_per_request_by_difference=$(python3 -c "print(round(${CPU[sovgw_compliance]} - ${CPU[sovgw_compliance_unsigned]}, 1))") (cpu_us_per_req sovgw_compliance - sovgw_compliance_unsigned)"
  # How well the audit log's group commits batch: records per fdatasync, over the whole run.
  for name in sovgw_compliance:$GWC_ADMIN sovgw_compliance_unsigned:$GWU_ADMIN; do
    audit_batching "${name%%:*}" "${name#*:}"
  done
fi
if ((AUDIT)); then
  echo "ratio gateway_audit/gateway rps=$(ratio "${RPS[sovgw_audit]}" "${RPS[sovgw]}") p50=$(ratio "${P50[sovgw_audit]}" "${P50[sovgw]}") p99=$(ratio "${P99[sovgw_audit]}" "${P99[sovgw]}")"
  echo "ratio gateway_audit_after/gateway rps=$(ratio "${RPS[sovgw_audit_after]}" "${RPS[sovgw]}") p50=$(ratio "${P50[sovgw_audit_after]}" "${P50[sovgw]}") p99=$(ratio "${P99[sovgw_audit_after]}" "${P99[sovgw]}")"
  audit_batching sovgw_audit "$GWA_ADMIN"; audit_batching sovgw_audit_after "$GWB_ADMIN"
fi
if ((TENANTS)); then
  echo "ratio gateway_tenants/gateway rps=$(ratio "${RPS[sovgw_tenants]}" "${RPS[sovgw]}") rps_paired=$(paired sovgw_tenants sovgw) p50=$(ratio "${P50[sovgw_tenants]}" "${P50[sovgw]}") p99=$(ratio "${P99[sovgw_tenants]}" "${P99[sovgw]}") ($TENANTS tenants and keys, limits on)"
fi
if ((TENANTS && LIMITS_STORE)); then
  echo "ratio gateway_shared/gateway_tenants rps=$(ratio "${RPS[sovgw_shared]}" "${RPS[sovgw_tenants]}") p50=$(ratio "${P50[sovgw_shared]}" "${P50[sovgw_tenants]}") p99=$(ratio "${P99[sovgw_shared]}" "${P99[sovgw_tenants]}") (limits synced in Redis)"
  python3 - "$REDIS" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"*2\r\n$4\r\nINFO\r\n$12\r\ncommandstats\r\n*1\r\n$4\r\nQUIT\r\n")
data = b""
while chunk := s.recv(65536):
    data += chunk
for line in data.decode().splitlines():
    if line.startswith("cmdstat_eval:"):
        print("redis " + line)
PY
fi
if ((STAGES)); then
  command -v perf > /dev/null || { apt-get install -y -qq linux-perf > /dev/null; }
  echo
  echo "== sovgw_compliance: CPU time per request by stage (perf, ${DURATION}s)"
  perf record -q -o "$OUT/stages.perf" -F 499 --call-graph dwarf,16384 -p "${PID_OF[sovgw_compliance]}" \
    > "$OUT/perf.log" 2>&1 &
  PERF_PID=$!
  sleep 1
  log=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" -s "$OUT/post.lua" "https://127.0.0.1:$GWC/v1/chat/completions")
  kill -INT "$PERF_PID"; wait "$PERF_PID" 2>/dev/null || true
  python3 "$ROOT/bench/proxy/stage_costs.py" "$OUT/stages.perf" "$(awk '/requests in/ {print $1}' <<< "$log")" \
    "${CPU[sovgw_compliance]}"
fi
