#!/usr/bin/env bash
# Makes a development CA and the certificates the demo and the tests use:
#   ca.pem / ca.key            the dev CA (trust it with curl --cacert certs/out/ca.pem)
#   gateway.pem / gateway.key  the gateway's server certificate (localhost, 127.0.0.1, ::1)
#   client.pem / client.key    a client certificate for mTLS (CN=demo-client)
#   cluster.pem / cluster.key  the stand-in inference cluster (localhost, standin.cluster.internal)
#   other-ca.pem / other-ca.key  an unrelated CA (tests: verification must fail against it)
# Usage: certs/make-dev-certs.sh [OUT_DIR]   (default: certs/out). Never use these in production.
set -euo pipefail
OUT=${1:-$(dirname "$0")/out}
mkdir -p "$OUT"
cd "$OUT"
umask 077

make_ca() { # name cn
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
    -subj "/O=Sovereign Gateway dev/CN=$2" -keyout "$1.key" -out "$1.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

make_leaf() { # name cn san eku
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=Sovereign Gateway dev/CN=$2" \
    -keyout "$1.key" -out "$1.csr" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\n%s\n' \
    "$4" "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

make_ca ca "sovgw dev CA"
make_ca other-ca "unrelated dev CA"
make_leaf gateway localhost "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" serverAuth
make_leaf cluster localhost "subjectAltName=DNS:localhost,DNS:standin.cluster.internal,IP:127.0.0.1" serverAuth
make_leaf client demo-client "" clientAuth
chmod 600 ./*.key
chmod 644 ./*.pem
echo "dev certificates written to $(pwd)"
