#!/usr/bin/env bash
# The demo: five stand-in clusters, the gateway on its embedded default configuration
# (examples/demo/sovgw.yaml: the example EU policy, an audit log, signatures, a demo tenant) and a
# guided tour. `./run.sh demo` builds, then runs this from the repository root.
#
#   examples/demo/demo.sh [--plain] [--dir DIR]
#
# --plain  the bare proxy instead (examples/plain.yaml: one stand-in, no policy, no audit log),
#          what the benchmarks measure.
# --dir    where to run (default: the repository root): it holds certs/out and demo/ (keys, audit
#          log, tenants, logs), created on the first run (the folder too), and examples/ (a link to
#          the repository's is made when it has none). The tests run the demo in a temporary
#          directory this way.
# Uses the binaries of ${SOVGW_BUILD_DIR:-<repository>/build}. Ctrl-C (or SIGTERM) stops it all:
# the gateway first (it drains: streams in flight finish), then the stand-ins. One demo at a time:
# a second start in the same folder, or while its ports are taken, says so and changes nothing.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=${SOVGW_BUILD_DIR:-$SRC/build}
DIR=$SRC
PLAIN=0
while (($#)); do
  case $1 in
    --plain) PLAIN=1 ;;
    --dir) DIR=${2:?--dir needs a directory}; shift ;;
    -h | --help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
    *) echo "usage: $0 [--plain] [--dir DIR]" >&2; exit 2 ;;
  esac
  shift
done
SOVGW=$BUILD_DIR/sovgw
STANDIN=$BUILD_DIR/examples/standin-cluster
for binary in "$SOVGW" "$STANDIN"; do
  [[ -x $binary ]] || { echo "demo: $binary is missing: run ./run.sh build first" >&2; exit 3; }
done
# What this run creates, so that a refused start leaves nothing behind (probe round 50: a lock file
# in a new --dir folder).
new_dir=0 new_demo=0
[[ -d $DIR ]] || new_dir=1
[[ -d $DIR/demo ]] || new_demo=1
mkdir -p "$DIR/demo"
cd "$DIR"

# Before anything is written or started: a running demo's files and processes are left as they are.
# The lock is held as long as this script runs (not by what it starts: see `{lock}>&-` below).
exec {lock}>> demo/demo.lock
if ! flock -n "$lock"; then
  echo "demo: a demo is already running in $PWD (pid $(< demo/demo.lock)): stop it with Ctrl-C there," \
    "or use --dir elsewhere" >&2
  exit 1
fi
echo $$ > demo/demo.lock
if ((PLAIN)); then
  ports=(8443 9901 9443)
else
  ports=(8443 9901 9443 9444 9445 9446 9447)
fi
busy=()
for port in "${ports[@]}"; do
  if (: < "/dev/tcp/127.0.0.1/$port") 2> /dev/null; then
    busy+=("$port")
  fi
done
if ((${#busy[@]})); then
  what="ports ${busy[*]} are"
  ((${#busy[@]} > 1)) || what="port ${busy[*]} is"
  echo "demo: $what in use: another demo (from another folder?) or another program listens there;" \
    "stop it first (ss -ltnp shows which)" >&2
  if ((new_demo)); then
    rm -f demo/demo.lock
    rmdir demo
    if ((new_dir)); then
      here=$PWD
      cd / && rmdir "$here" 2> /dev/null || true
    fi
  fi
  exit 1
fi

# The embedded configuration names files relative to the repository root: examples/ must be here.
if [[ ! -e examples ]]; then
  ln -s "$SRC/examples" examples
  echo "demo: linked $PWD/examples to $SRC/examples"
fi
[[ -f examples/policies/eu_policy.yaml ]] || { echo "demo: $DIR has no examples/ folder" >&2; exit 3; }

# How the tour names the binary: relative to where the user stands when it is below it.
SHOWN_SOVGW=$SOVGW
[[ $SOVGW == "$PWD"/* ]] && SHOWN_SOVGW=${SOVGW#"$PWD"/}

[[ -f certs/out/ca.pem ]] || "$SRC/certs/make-dev-certs.sh" certs/out

# First run: the demo's keys, tenant and admin token in demo/ (kept across runs, with the log).
first_run() {
  mkdir -p demo/logs
  chmod 700 demo
  if [[ ! -f demo/keys/signing.key ]]; then
    echo "demo: first run: creating the demo's keys, tenant and admin token in $PWD/demo"
    "$SOVGW" keys init demo/keys --name sovgw-demo --auditor-dir demo/auditor >> demo/logs/first-run.log 2>&1
  fi
  if [[ ! -f demo/http-signing.key ]]; then
    "$SOVGW" keys http-new demo/http-signing.key >> demo/logs/first-run.log 2>&1
  fi
  # The clusters check every request's signature with the published key (docs/signatures.md).
  "$SOVGW" keys http-public demo/http-signing.key --format pem > demo/http-signing.pub.pem
  if [[ ! -f demo/admin.token ]]; then
    (umask 077 && openssl rand -hex 32 > demo/admin.token)
  fi
  if [[ ! -f demo/demo.key ]]; then
    cat > demo/tenants.yaml <<'YAML'
# The demo's tenants (docs/configuration.md#tenants-and-api-keys). Add keys with
#   sovgw tenants key create demo --file demo/tenants.yaml
tenants:
  - name: demo
    limits:
      requests_per_minute: 600
      tokens_per_month: 10000000
  - name: acme                      # the example policy pins acme to its dedicated cluster
  - name: globex                    # and lets globex in from its partner network
keys:
YAML
    (umask 077 && "$SOVGW" tenants key create demo --file demo/tenants.yaml > demo/demo.key \
      2>> demo/logs/first-run.log)
  fi
  # The gateway checks every tenant the policy names against the tenants file: a demo folder from
  # before that declares only `demo`; add the example policy's tenants (before `keys:`, kept last).
  for tenant in acme globex; do
    if ! grep -qE "^  - name: $tenant( |\$)" demo/tenants.yaml; then
      sed -i "s/^keys:/  - name: $tenant\nkeys:/" demo/tenants.yaml
    fi
  done
}

pids=() names=()
stop_all() {
  trap - EXIT
  trap '' INT TERM HUP # a second Ctrl-C must not leave the stand-ins running
  if ((${#pids[@]})); then
    # The gateway first: it drains, makes every record durable and signs a last checkpoint.
    kill -TERM "${pids[-1]}" 2> /dev/null || true
    wait "${pids[-1]}" 2> /dev/null || true
    kill -TERM "${pids[@]}" 2> /dev/null || true
    wait 2> /dev/null || true
  fi
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# In a session of their own: a terminal's Ctrl-C (SIGINT to its foreground process group) reaches
# this script and the gateway, not the stand-ins, which serve until the gateway has drained.
standin() { # name port
  setsid "$STANDIN" --port "$2" --name "$1" --cert certs/out/cluster.pem --key certs/out/cluster.key \
    --chunks 8 --delay-ms 150 --echo "${@:3}" > "demo/logs/$1.log" 2>&1 {lock}>&- &
  pids+=($!) names+=("$1")
}

gateway() { # serve's arguments
  "$SOVGW" serve "$@" {lock}>&- &
  pids+=($!) names+=(gateway)
}

# Exits, saying which, when something this script started has stopped.
check_alive() {
  local i
  for i in "${!pids[@]}"; do
    kill -0 "${pids[i]}" 2> /dev/null && continue
    if [[ ${names[i]} == gateway ]]; then
      echo "demo: the gateway stopped (its error is above)" >&2
    else
      echo "demo: the stand-in ${names[i]} stopped: $(tail -n 1 "demo/logs/${names[i]}.log")" >&2
    fi
    exit 1
  done
}

# The gateway proves the policy's invariants before it listens: a few seconds on a small machine.
# The ports were free before it started, so the gateway that answers, while ours runs, is ours.
wait_ready() {
  for _ in $(seq 600); do
    check_alive
    if curl -fsS -o /dev/null http://127.0.0.1:9901/readyz 2> /dev/null; then
      check_alive
      return 0
    fi
    sleep 0.1
  done
  echo "demo: the gateway is not ready after 60 s: its log is above, and once its admin listener is up" \
    "curl http://127.0.0.1:9901/readyz says why" >&2
  exit 1
}

# A Ctrl-C or SIGTERM this script receives runs stop_all. Started with SIGINT ignored (as a
# background job is), it cannot trap a Ctrl-C: the gateway drains on it alone and exits 0, and the
# demo ends with it.
serve_until_stopped() {
  local status=0
  wait -n "${pids[@]}" || status=$?
  if ((status == 0)) && ! kill -0 "${pids[-1]}" 2> /dev/null; then
    exit 0
  fi
  check_alive
  exit 1
}

if ((PLAIN)); then
  mkdir -p demo/logs
  standin standin-paris 9443
  gateway --config examples/plain.yaml
  wait_ready
  cat << MSG

Sovereign Gateway (bare proxy: no policy, no audit log) is serving https://localhost:8443
Try, from $PWD in another terminal:
  curl --cacert certs/out/ca.pem https://localhost:8443/v1/chat/completions \\
       -H 'Content-Type: application/json' \\
       -d '{"model":"mistral-small","messages":[{"role":"user","content":"Bonjour"}]}'
Press Ctrl-C to stop.
MSG
  serve_until_stopped
fi

first_run
# Each stand-in serves only requests the gateway signed for it: one signed for us-east-1 and
# replayed to fr-par-1 is refused (wrong_cluster), as a real cluster's verifier would.
signed_standin() { # name port
  standin "$1" "$2" --require-signature --verify-key demo/http-signing.pub.pem --cluster "$1"
}
signed_standin de-fra-hyperscaler 9443
signed_standin fr-par-1 9444
signed_standin ch-zrh-1 9445
signed_standin us-east-1 9446
signed_standin acme-dedicated 9447
gateway
wait_ready

KEY=$(cat demo/demo.key)
URL=https://localhost:8443/v1/chat/completions
CURL="curl --cacert certs/out/ca.pem -w '\n' $URL"
AUTH="-H 'Authorization: Bearer $KEY' -H 'Content-Type: application/json'"
chat() { # content [extra]
  printf '%s' "-d '{\"model\":\"llama-3.1-70b\",${2:-}\"messages\":[{\"role\":\"user\",\"content\":\"$1\"}]}'"
}
cat << MSG

Sovereign Gateway demo: https://localhost:8443 under examples/policies/eu_policy.yaml
  clusters (stand-ins on loopback; each declares where it runs and who operates it):
    de-fra-hyperscaler  DE, operated under US jurisdiction    fr-par-1   FR, EU-operated
    ch-zrh-1            CH (adequacy)                         us-east-1  US
    acme-dedicated      NL, EU-operated, mistral-large: the policy pins tenant acme to it
  every forwarded request is geo-tagged and signed (RFC 9421, demo/http-signing.key), and the
    clusters refuse unsigned ones; every answer carries a signed receipt (curl -i shows its
    Sovereign-* fields and Signature; sovgw receipt verify checks a saved head offline)
  audit log demo/audit, keys demo/keys; the auditor's secret key is in demo/auditor (in production
    it never sits on the gateway host)
  tenant 'demo', API key in demo/demo.key (the tenants file keeps only its hash)
  NOTE: this demo trusts loopback as a front proxy, so X-Forwarded-For sets the client address
    and one machine can play clients from anywhere. Never configure that in production.

Try, from $PWD in another terminal:

# 1. Permitted: no personal data, so the US-operated Frankfurt cluster may serve it
$CURL \\
  $AUTH \\
  $(chat 'Bonjour')

# 2. Personal data stays in the EU: the IBAN is found, redacted, and an EU-operated cluster serves it
$CURL \\
  $AUTH \\
  $(chat 'Refund IBAN DE89 3704 0044 0532 0130 00 please')

# 3. A client in Russia is refused, with the rule that refused it
$CURL \\
  $AUTH -H 'X-Forwarded-For: 5.255.255.5' \\
  $(chat 'Bonjour')

# 4. A client in the UK may send data without personal data only
$CURL \\
  $AUTH -H 'X-Forwarded-For: 81.2.69.160' \\
  $(chat 'Write to alice@example.com')

# 5. A stream (Server-Sent Events)
$CURL -N \\
  $AUTH \\
  $(chat 'Bonjour' '"stream":true,')

# The auditor: every request above is on the log, and the log proves it with its public key alone
$SHOWN_SOVGW audit query --db demo/audit --since 15m
$SHOWN_SOVGW audit verify --db demo/audit --pubkey demo/keys/signing.pub
$SHOWN_SOVGW audit prove --db demo/audit --last > demo/last.proof && $SHOWN_SOVGW audit verify-proof demo/last.proof --pubkey demo/keys/signing.pub
$SHOWN_SOVGW audit report --db demo/audit --pubkey demo/keys/signing.pub --policy examples/policies/eu_policy.yaml --out demo/report.html

# The client's receipt: the answer's signed head, kept and checked offline with the gateway's public key
curl --cacert certs/out/ca.pem -sS -D demo/receipt.txt -o /dev/null $URL \\
  $AUTH \\
  $(chat 'Bonjour') && $SHOWN_SOVGW receipt verify demo/receipt.txt --key demo/http-signing.pub.pem --method POST --url $URL

Metrics: curl http://127.0.0.1:9901/metrics. Ctrl-C stops the demo (the gateway signs a last checkpoint).
MSG
serve_until_stopped
