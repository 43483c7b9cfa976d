"""Writes a realistic audit log for the sovereignty report: the real gateway, the example EU policy
(examples/policies/eu_policy.yaml, reloaded once mid-run with one more rule, so two versions are in
force), five clusters in four countries (all served by one stand-in), clients from many countries
(through a trusted front proxy's X-Forwarded-For), four tenants (client certificates) and a mix of
plain, personal, IBAN, health, streamed and malformed requests, and every 40th a model listing (GET
/v1/models, which the gateway answers itself). Deterministic in content; the
timestamps are real.

    python3 tests/cli/report_log.py OUT_DIR [--requests N] [--seconds S]

leaves OUT_DIR/db, OUT_DIR/keys (signing.pub), OUT_DIR/policy.yaml (the version in force at the
end) and prints a JSON summary.
"""

import argparse
import ipaddress
import json
import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from support import (SOURCE, SOVGW, Gateway, Reader, make_certs, request_bytes, start_standin,  # noqa: E402
                     tls_connect)

GEOIP = "/usr/share/tor/geoip"
COUNTRIES = {  # client country -> weight
    "DE": 16, "FR": 14, "NL": 8, "IT": 7, "ES": 6, "PL": 5, "SE": 4, "AT": 3,
    "GB": 6, "CH": 5, "JP": 2, "US": 8, "CN": 2, "BR": 2, "RU": 3, "IR": 1}
TENANTS = {"default": 4, "acme": 3, "globex": 3, "initech": 2}
MODELS = {"mistral-small": 6, "llama-3.1-70b": 3, "gpt-4o-mini": 3, "qwen-2.5-72b": 1}
KINDS = {"plain": 56, "email": 14, "iban": 8, "health": 5, "public": 5, "stream": 8, "bad_json": 2,
         "unknown_class": 2}

CLUSTERS = [
    # name, country, region, operator jurisdiction, models
    ("fr-par-1", "FR", "eu-west", "FR", ["mistral-*", "llama-3.1-*"]),
    ("de-fra-1", "DE", "eu-central", "DE", ["llama-3.1-*", "mistral-*"]),
    ("de-fra-hyperscaler", "DE", "eu-central", "US", ["gpt-4o*", "llama-3.1-*"]),
    ("ch-zrh-1", "CH", "ch", "CH", ["qwen-*", "mistral-*"]),
    ("acme-dedicated", "NL", "eu-west", "NL", ["mistral-*", "gpt-4o-mini"]),
]

EXTRA_RULE = """  - id: forbid-unapproved-models
    effect: forbid
    when:
      model: ["qwen-*"]
    reason: Qwen models are not approved for production traffic (board decision, December 2026).

"""


def country_addresses(countries):
    """One public IPv4 address per country, from Debian's tor-geoipdb (the gateway's own geo data)."""
    found = {}
    with open(GEOIP) as f:
        for line in f:
            if line.startswith("#"):
                continue
            low, high, cc = line.strip().split(",")
            if cc in countries and cc not in found and int(high) - int(low) > 16:
                found[cc] = str(ipaddress.IPv4Address((int(low) + int(high)) // 2))
            if len(found) == len(countries):
                break
    return found


def client_cert(certs, name):
    key, csr, pem = (os.path.join(certs, f"{name}.{ext}") for ext in ("key", "csr", "pem"))
    subprocess.run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj",
                    f"/O=Sovereign Gateway dev/CN={name}", "-keyout", key, "-out", csr], check=True,
                   capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", os.path.join(certs, "ca.pem"), "-CAkey",
                    os.path.join(certs, "ca.key"), "-CAcreateserial", "-days", "30", "-out", pem], check=True,
                   capture_output=True)
    os.chmod(key, 0o600)
    return pem, key


def pick(rng, weights):
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def body_for(kind, model, i):
    prompts = {
        "plain": f"Summarise the attached quarterly figures for the board, item {i}.",
        "email": f"Draft a reply to jana.novak{i}@example.eu about the delayed shipment.",
        "iban": f"Check the transfer to DE89 3704 0044 0532 0130 00 (invoice {i}).",
        "health": f"Explain the lab results of case {i} in plain words.",
        "public": f"Translate our public press release number {i} into French.",
        "stream": f"Write a short poem about data residency, variation {i}.",
    }
    if kind == "bad_json":
        return b'{"model": "mistral-small", "messages": [}'
    msg = {"model": model, "messages": [{"role": "user", "content": prompts.get(kind, prompts["plain"])}]}
    if kind == "stream":
        msg["stream"] = True
    return json.dumps(msg).encode()


def send(port, certs, cert, raw):
    s = tls_connect(port, certs, cert=cert[0] if cert else None, key=cert[1] if cert else None)
    with s:
        s.sendall(raw)
        return Reader(s).read_response().status


def write_policy(path, with_extra_rule):
    with open(os.path.join(SOURCE, "examples", "policies", "eu_policy.yaml")) as f:
        text = f.read()
    if with_extra_rule:
        text = text.replace("  - id: permit-eea-clients\n", EXTRA_RULE + "  - id: permit-eea-clients\n", 1)
    with open(path, "w") as f:
        f.write(text)


def make_log(out, requests=160, seconds=0.0):
    os.makedirs(out, exist_ok=True)
    certs = make_certs(os.path.join(out, "certs"))
    tenant_certs = {t: client_cert(certs, t) for t in TENANTS if t != "default"}
    keys, db, policy = (os.path.join(out, n) for n in ("keys", "db", "policy.yaml"))
    subprocess.run([SOVGW, "keys", "init", keys, "--name", "demo.sovgw.local/audit"], check=True, capture_output=True)
    write_policy(policy, False)
    standin = start_standin(certs, chunks=3, delay_ms=5)
    clusters = "".join(
        f"""  - name: {name}
    endpoints: ["127.0.0.1:{standin.port}"]
    country: {cc}
    region: {region}
    operator_jurisdiction: {op}
    models: {json.dumps(models)}
    on_premises: true
    tls:
      ca: {os.path.join(certs, 'ca.pem')}
      server_name: localhost
""" for name, cc, region, op, models in CLUSTERS)
    config = f"""listen:
  address: 127.0.0.1
  port: 0
trusted_proxies: [127.0.0.1/32]
tls:
  certificate: {os.path.join(certs, 'gateway.pem')}
  private_key: {os.path.join(certs, 'gateway.key')}
  client_ca: {os.path.join(certs, 'ca.pem')}
admin:
  address: 127.0.0.1
  port: 0
threads: 2
access_log: true
policy: {policy}
audit:
  db: {db}
  keys: {keys}
  payload: sealed
clusters:
{clusters}"""
    gateway = Gateway(config, out)
    addresses = country_addresses(set(COUNTRIES))
    rng = random.Random(16)
    statuses = {}
    try:
        for i in range(requests):
            if i == requests // 2:
                write_policy(policy, True)
                gateway.signal(signal.SIGHUP)
                gateway.wait_for_json(lambda o: o.get("msg") == "policy reloaded")
            country, tenant, model, kind = (pick(rng, COUNTRIES), pick(rng, TENANTS), pick(rng, MODELS),
                                            pick(rng, KINDS))
            headers = {"Content-Type": "application/json", "X-Forwarded-For": addresses[country]}
            if kind in ("health", "public"):
                headers["Sovereign-Data-Class"] = kind
            elif kind == "unknown_class":
                headers["Sovereign-Data-Class"] = "confidential"
            raw = request_bytes(body=body_for(kind, model, i), headers=headers)
            if i % 40 == 39:  # an SDK listing the models (from DE: permitted): the gateway answers it itself
                raw = request_bytes(method="GET", path="/v1/models", headers={"X-Forwarded-For": addresses["DE"]})
            status = send(gateway.port, certs, tenant_certs.get(tenant), raw)
            statuses[status] = statuses.get(status, 0) + 1
            if seconds:
                time.sleep(seconds / requests)
    finally:
        try:
            gateway.signal(signal.SIGTERM)
            gateway.wait_for_json(lambda o: o.get("msg") == "audit log closed")
        finally:  # (a gateway that never said so must not outlive the test: CI left one running)
            gateway.stop()
            standin.stop()
    return {"db": db, "pubkey": os.path.join(keys, "signing.pub"), "policy": policy, "statuses": statuses}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out")
    parser.add_argument("--requests", type=int, default=160)
    parser.add_argument("--seconds", type=float, default=0.0, help="spread the requests over this long")
    args = parser.parse_args()
    print(json.dumps(make_log(args.out, args.requests, args.seconds)))


if __name__ == "__main__":
    main()
