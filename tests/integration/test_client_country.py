"""Client country from the client certificate (client_country.from_certificate, docs/configuration.md):
a verified certificate's subject C (exactly one, an assigned ISO 3166-1 code in upper case) is the
client country, source `mtls`, ahead of the geo lookup of the client address; a certificate without a
valid C falls back to the address; behind an L7 proxy (trusted-xff) the certificate is the proxy's and
never sets the country. The certificates are made by the openssl command line, signed by the dev CA."""

import json
import os
import signal
import socket
import subprocess
import unittest

from support import (SOVGW, Gateway, Reader, TempDir, client_context, cluster_yaml, gateway_yaml, make_certs,
                     request_bytes, start_standin)
from test_attacks import proxy_v2_header

# Only clients in Germany may call; a client on loopback is "private" by address.
POLICY = """version: 1
rules:
  - id: permit-germany
    effect: permit
    when:
      client.country: [DE]
    reason: Only clients in Germany.
"""
BODY = json.dumps({"model": "mistral-small", "messages": [{"role": "user", "content": "Hallo"}]}).encode()


def openssl_client_cert(certs, path, subject):
    """A client certificate with exactly `subject` (openssl's /A=v/B=w form), signed by the dev CA."""
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", subject, "-keyout", path + ".key", "-out", path + ".csr"], check=True, capture_output=True)
    with open(path + ".ext", "w") as f:
        f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n")
    subprocess.run(["openssl", "x509", "-req", "-in", path + ".csr", "-CA", os.path.join(certs, "ca.pem"),
                    "-CAkey", os.path.join(certs, "ca.key"), "-CAcreateserial", "-days", "1", "-extfile",
                    path + ".ext", "-out", path + ".pem"], check=True, capture_output=True)
    return path + ".pem", path + ".key"


class ClientCountryFromCertificateTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.certs = make_certs(os.path.join(cls.tmp.path, "certs"))
        cls.standin = start_standin(cls.certs, chunks=1, delay_ms=1)
        policy = os.path.join(cls.tmp.path, "policy.yaml")
        with open(policy, "w") as f:
            f.write(POLICY)
        cls.audit_keys = os.path.join(cls.tmp.path, "audit-keys")
        subprocess.run([SOVGW, "keys", "init", cls.audit_keys], check=True, capture_output=True)
        cls.db = os.path.join(cls.tmp.path, "db")
        # Loopback is a trusted proxy: without X-Forwarded-For the socket's peer is the client.
        cls.config_text = gateway_yaml(
            cls.certs, cluster_yaml("paris", f"127.0.0.1:{cls.standin.port}", cls.certs),
            tls_extra=f"  client_ca: {os.path.join(cls.certs, 'ca.pem')}\n",
            extra=(f"policy: {policy}\nclient_country:\n  from_certificate: true\ntrusted_proxies: [127.0.0.0/8]\n"
                   f"audit:\n  db: {cls.db}\n  keys: {cls.audit_keys}\n"))
        cls.gateway = Gateway(cls.config_text, cls.tmp.path)
        cls.germany = cls.cert("de", "/C=DE/O=Beispiel GmbH/CN=app")

    @classmethod
    def tearDownClass(cls):
        cls.gateway.stop()
        cls.standin.stop()
        cls.tmp.cleanup()

    @classmethod
    def cert(cls, name, subject):
        return openssl_client_cert(cls.certs, os.path.join(cls.tmp.path, name), subject)

    def send(self, cert, headers=None, raw_prefix=b"", gateway=None):
        gateway = gateway or self.gateway
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        raw = socket.create_connection(("127.0.0.1", gateway.port), timeout=10)
        raw.sendall(raw_prefix)
        ctx = client_context(self.certs, cert[0] if cert else None, cert[1] if cert else None)
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(request_bytes(path="/debug/headers", body=BODY, headers=h))
            resp = Reader(s).read_response()
        log = gateway.wait_for_json(lambda o: o.get("msg") == "request" and
                                    o.get("request_id") == resp.header("x-request-id"))
        return resp, log

    def test_a_german_certificate_on_loopback_is_decided_as_germany(self):
        resp, log = self.send(self.germany)
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(resp.json()["headers"]["sovereign-client-country"], "DE;source=mtls")
        self.assertEqual((log["client_ip"], log["client_country"], log["client_country_source"]),
                         ("127.0.0.1", "DE", "mtls"))
        self.assertEqual((log["decision"], log["rules"]), ("permit", "permit-germany"))

    def test_without_a_certificate_the_address_decides(self):
        resp, log = self.send(None)
        self.assertEqual(resp.status, 403, resp.body)
        self.assertEqual(resp.json()["error"]["code"], "policy_denied")
        self.assertEqual((log["client_country"], log["client_country_source"]), ("private", "geoip:socket"))

    def test_a_certificate_without_one_valid_country_falls_back_to_the_address(self):
        for name, subject in (("none", "/O=Beispiel GmbH/CN=app"), ("lower", "/C=de/CN=app"),
                              ("two", "/C=DE/C=FR/CN=app"), ("unassigned", "/C=ZZ/CN=app"),
                              ("eu", "/C=EU/CN=app")):
            with self.subTest(subject):
                resp, log = self.send(self.cert(name, subject))
                self.assertEqual(resp.status, 403, resp.body)  # served as any loopback client: not refused for it
                self.assertEqual(resp.json()["error"]["code"], "policy_denied")
                self.assertEqual((log["client_country"], log["client_country_source"]), ("private", "geoip:socket"))

    def test_behind_an_l7_proxy_the_certificate_is_the_proxys(self):
        # The TLS peer is the trusted proxy; the client it forwards is in Russia (tor-geoipdb).
        resp, log = self.send(self.germany, headers={"X-Forwarded-For": "5.255.255.5"})
        self.assertEqual(resp.status, 403, resp.body)
        self.assertEqual((log["client_ip"], log["client_country"], log["client_country_source"]),
                         ("5.255.255.5", "RU", "trusted-xff"))

    def test_behind_a_proxy_that_writes_forwarded_the_client_is_its_for(self):
        # RFC 7239 instead of X-Forwarded-For: the same right-most rule, the proxy's certificate
        # ignored; and a client that adds the other field itself cannot choose its address.
        resp, log = self.send(self.germany, headers={"Forwarded": 'for=5.255.255.5;proto=https'})
        self.assertEqual(resp.status, 403, resp.body)
        self.assertEqual((log["client_ip"], log["client_country"], log["client_country_source"]),
                         ("5.255.255.5", "RU", "trusted-forwarded"))
        resp, log = self.send(self.germany, headers={"Forwarded": "for=5.255.255.5",
                                                     "X-Forwarded-For": "81.2.69.160"})
        self.assertEqual(resp.status, 400, resp.body)
        self.assertEqual(resp.json()["error"]["code"], "bad_forwarded_for")
        self.assertIn("names the client 81.2.69.160 in X-Forwarded-For and 5.255.255.5 in Forwarded",
                      resp.json()["error"]["message"])

    def test_behind_an_l4_balancer_the_certificate_is_the_clients(self):
        proxied = Gateway(self.config_text.replace("  port: 0\ntls:", "  port: 0\n  proxy_protocol: true\ntls:", 1)
                          .replace(f"  db: {self.db}\n", f"  db: {self.db}-proxied\n"), self.tmp.path)
        self.addCleanup(proxied.stop)
        resp, log = self.send(self.germany, raw_prefix=proxy_v2_header("5.255.255.5"), gateway=proxied)
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual((log["client_ip"], log["client_country"], log["client_country_source"]),
                         ("5.255.255.5", "DE", "mtls"))

    def test_the_audit_record_names_the_source(self):
        gateway = Gateway(self.config_text.replace(f"  db: {self.db}\n", f"  db: {self.db}-audit\n"), self.tmp.path)
        self.addCleanup(gateway.stop)
        resp, _ = self.send(self.germany, gateway=gateway)
        self.assertEqual(resp.status, 200, resp.body)
        gateway.signal(signal.SIGTERM)
        gateway.proc.wait(timeout=30)
        q = subprocess.run([SOVGW, "audit", "query", "--db", f"{self.db}-audit", "--request-id",
                            resp.header("x-request-id"), "--format", "jsonl"], capture_output=True, text=True, check=True)
        record = json.loads(q.stdout.splitlines()[0])
        self.assertEqual((record["client_country"], record["country_source"]), ("DE", "mtls"))


class ConfigTest(unittest.TestCase):
    def test_from_certificate_needs_a_client_ca(self):
        tmp = TempDir()
        self.addCleanup(tmp.cleanup)
        certs = make_certs(os.path.join(tmp.path, "certs"))
        path = os.path.join(tmp.path, "gateway.yaml")
        with open(path, "w") as f:
            f.write(gateway_yaml(certs, cluster_yaml("paris", "127.0.0.1:9", certs),
                                 extra="client_country:\n  from_certificate: true\n"))
        r = subprocess.run([SOVGW, "config", "check", path], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertRegex(r.stderr, rf"{path}:\d+:\d+: client_country.from_certificate needs tls.client_ca")


if __name__ == "__main__":
    unittest.main()
