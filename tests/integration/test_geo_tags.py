"""Geo-tags on the wire: the gateway adds Sovereign-* fields to every forwarded request, and with a
signing key a Content-Digest of the body as forwarded and an RFC 9421 signature (docs/http.md,
docs/signatures.md). The stand-in cluster runs in --require-signature mode: it serves what the
gateway signed and refuses (401) what was changed, replayed, too old, or never passed the gateway.
"""

import base64
import hashlib
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
import unittest

from support import (SOURCE, SOVGW, STANDIN, Gateway, Process, TempDir, admin_get, audit_record_and_proof, cluster_yaml,
                     exchange, gateway_yaml, make_certs, request_bytes)
from test_signed_requests import make_keys
from test_signed_requests import start_standin as start_verifying_standin

PARIS_CREDENTIAL = "paris-cluster-credential-0123456789abcdef"

HAVE_CRYPTOGRAPHY = importlib.util.find_spec("cryptography") is not None

POLICY = """version: 1
data_classes:
  health:
    header: health
  contact:
    detectors: [email]
rules:
  - id: permit-internal
    effect: permit
    when:
      client.country: [private]
    obligations: {redact: [email]}
    reason: Internal clients may use the inference APIs.
  - id: compute-in-eu
    effect: restrict
    route:
      cluster.country: [EU]
    reason: Compute stays in the EU.
"""

BODY = json.dumps({"model": "mistral-small", "messages": [{"role": "user", "content": "Bonjour"}]}).encode()
EMAIL_BODY = json.dumps({"model": "mistral-small",
                         "messages": [{"role": "user", "content": "write to anna@example.org"}]}).encode()
JSON = {"Content-Type": "application/json"}


class GeoTagsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.certs = make_certs(os.path.join(cls.tmp.path, "certs"))
        cls.keys = os.path.join(cls.tmp.path, "keys")
        cls.keyid = make_keys(cls.keys)
        with open(os.path.join(cls.keys, "gateway.pub.jwk")) as f:
            cls.jwk = f.read()
        cls.standin = start_verifying_standin(cls.certs, ["--verify-key", os.path.join(cls.keys, "gateway.pub.jwk")],
                                              cluster="paris")
        # A second cluster that checks an hmac-sha256 secret instead of the Ed25519 key.
        cls.hmac_standin = start_verifying_standin(cls.certs, ["--hmac-key", os.path.join(cls.keys, "cluster.hmac")],
                                                   cluster="berlin")
        cls.policy = os.path.join(cls.tmp.path, "policy.yaml")
        with open(cls.policy, "w") as f:
            f.write(POLICY)
        # paris takes a credential: the gateway covers it like every field it sends (the
        # stand-in refuses any field not covered).
        cls.token = os.path.join(cls.tmp.path, "paris.token")
        with open(cls.token, "w") as f:
            f.write(PARIS_CREDENTIAL + "\n")
        os.chmod(cls.token, 0o600)
        paris = cluster_yaml("paris", f"127.0.0.1:{cls.standin.port}", cls.certs,
                             extra=f"    auth: {{bearer_file: {cls.token}}}")
        berlin = cluster_yaml("berlin", f"127.0.0.1:{cls.hmac_standin.port}", cls.certs).replace(
            "country: FR", "country: DE").replace('models: ["*"]', 'models: ["hmac-*"]')
        signing = (f"signing:\n  key: {os.path.join(cls.keys, 'gateway.key')}\n  gateway_id: gw-test-1\n"
                   f"  cluster_hmac_keys:\n    berlin: {os.path.join(cls.keys, 'cluster.hmac')}\n")
        cls.gateway = Gateway(gateway_yaml(cls.certs, berlin + paris, extra=f"policy: {cls.policy}\n" + signing),
                              cls.tmp.path)

    @classmethod
    def tearDownClass(cls):
        cls.gateway.stop()
        cls.standin.stop()
        cls.hmac_standin.stop()
        cls.tmp.cleanup()

    def via_gateway(self, body=BODY, headers=None, path="/debug/headers", method="POST"):
        h = dict(JSON) if body else {}
        h.update(headers or {})
        return exchange(self.gateway.port, self.certs, request_bytes(method=method, path=path, body=body, headers=h))

    def forwarded(self, body=BODY, headers=None):
        """What the gateway sent the cluster (the stand-in echoes it once the signature verified)."""
        resp = self.via_gateway(body, headers)
        self.assertEqual(resp.status, 200, resp.body)
        echo = resp.json()
        fields = echo["headers"]
        if "authorization" in fields:
            # The gateway masks its credential in the cluster's echo (docs/http.md); what the cluster
            # was sent is the credential itself, as its digest shows.
            sent = "Bearer " + PARIS_CREDENTIAL
            self.assertEqual(fields["authorization"], "Bearer " + "*" * len(PARIS_CREDENTIAL))
            self.assertEqual(echo["header_sha256"]["authorization"], hashlib.sha256(sent.encode()).hexdigest())
            fields["authorization"] = sent
        return resp, fields, echo["body"].encode()

    def direct(self, headers, body, port=None, path="/debug/headers"):
        """Sends exactly these fields (as the gateway forwarded them) straight to a stand-in."""
        h = {k: v for k, v in headers.items() if k not in ("host", "content-length")}
        raw = request_bytes(method="POST" if body else "GET", path=path, body=body, headers=h,
                            host=headers.get("host", "localhost"))
        return exchange(port or self.standin.port, self.certs, raw)

    def assert_refused(self, resp, code):
        self.assertEqual(resp.status, 401, resp.body)
        error = resp.json()["error"]
        self.assertEqual((error["type"], error["code"]), ("signature_error", code), error)
        self.assertEqual(resp.header("x-standin-cluster"), "standin")  # the cluster refused, not the gateway
        return error

    def test_geo_tags_name_the_decision_and_the_request(self):
        resp, h, _ = self.forwarded(headers={"Sovereign-Data-Class": "health"})
        self.assertEqual(h["sovereign-request-id"], f'"{resp.header("x-request-id")}"')
        self.assertEqual(h["sovereign-client-country"], "private;source=geoip:socket")
        self.assertEqual(h["sovereign-data-classes"], 'declared=("health"), detected=()')
        self.assertEqual(h["sovereign-decision"], "permit")
        self.assertEqual(h["sovereign-rules"], '"permit-internal", "compute-in-eu"')
        self.assertRegex(h["sovereign-policy-version"], r'^"[^"]+"$')
        self.assertEqual(h["sovereign-cluster"], '"paris"')
        self.assertEqual(h["sovereign-cluster-country"], "FR")
        self.assertEqual(h["sovereign-gateway"], '"gw-test-1"')
        self.assertRegex(h["sovereign-tenant"], r"^:[A-Za-z0-9+/]{22}==:$")  # 16 bytes, keyed hash
        self.assertNotIn("default", h["sovereign-tenant"])
        self.assertNotIn("sovereign-data-class", h)  # the client's own field is not forwarded
        self.assertIn(f'keyid="{self.keyid}"', h["signature-input"])
        self.assertIn('alg="ed25519"', h["signature-input"])
        self.assertIn('tag="sovgw-request"', h["signature-input"])
        for covered in ("@method", "@authority", "@path", "@query", "content-type", "content-digest",
                        "sovereign-request-id", "sovereign-client-country", "sovereign-data-classes",
                        "sovereign-decision", "sovereign-rules", "sovereign-policy-version", "sovereign-cluster",
                        "sovereign-cluster-country", "sovereign-gateway", "sovereign-tenant"):
            self.assertIn(f'"{covered}"', h["signature-input"])

    def test_detected_classes_are_told_apart_from_declared_ones(self):
        _, h, _ = self.forwarded(body=EMAIL_BODY)
        self.assertEqual(h["sovereign-data-classes"], 'declared=(), detected=("contact")')

    def test_content_digest_is_of_the_body_as_forwarded_after_redaction(self):
        _, h, body = self.forwarded(body=EMAIL_BODY)
        self.assertNotIn(b"anna@example.org", body)  # the policy's redact obligation
        self.assertNotEqual(body, EMAIL_BODY)
        digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
        self.assertEqual(h["content-digest"], f"sha-256=:{digest}:")

    def test_client_signature_and_geo_tag_fields_are_replaced(self):
        # The client's Content-Digest must match its body (else 400 bad_content_digest): a sha-512
        # one is replaced by the gateway's sha-256 of the body as forwarded.
        sha512 = f"sha-512=:{base64.b64encode(hashlib.sha512(BODY).digest()).decode()}:"
        fake = {"Signature-Input": 'sovgw=("@method");created=1;keyid="x"', "Signature": "sovgw=:AAAA:",
                "Content-Digest": sha512, "Sovereign-Decision": "forbid", "Sovereign-Cluster-Country": "US"}
        _, h, _ = self.forwarded(headers=fake)
        self.assertEqual(h["sovereign-decision"], "permit")
        self.assertEqual(h["sovereign-cluster-country"], "FR")
        self.assertNotIn("\n", h["signature-input"])  # only the gateway's signature
        self.assertEqual(h["content-digest"], f"sha-256=:{base64.b64encode(hashlib.sha256(BODY).digest()).decode()}:")

    def test_request_without_body_is_signed_without_digest(self):
        resp = self.via_gateway(body=b"", method="GET", path="/v1/models")
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(resp.json()["object"], "list")

    def test_cluster_with_hmac_key_verifies_hmac_signature(self):
        body = BODY.replace(b"mistral-small", b"hmac-small")
        resp = self.via_gateway(body=body)
        self.assertEqual(resp.status, 200, resp.body)
        h = resp.json()["headers"]
        self.assertIn('alg="hmac-sha256"', h["signature-input"])
        self.assertIn('keyid="hmac-', h["signature-input"])
        self.assertEqual(h["sovereign-cluster-country"], "DE")

    def test_request_sent_straight_to_the_cluster_is_refused(self):
        raw = request_bytes(path="/v1/chat/completions", body=BODY, headers=JSON)
        self.assert_refused(exchange(self.standin.port, self.certs, raw), "missing_signature")

    def test_replayed_request_is_refused(self):
        _, h, body = self.forwarded()
        self.assert_refused(self.direct(h, body), "replayed_nonce")

    def test_body_changed_after_signing_is_refused(self):
        _, h, body = self.forwarded()
        self.assert_refused(self.direct(h, body.replace(b"Bonjour", b"Hallo!!")), "content_digest_mismatch")

    def test_dropped_geo_tag_is_refused(self):
        _, h, body = self.forwarded()
        del h["sovereign-client-country"]
        error = self.assert_refused(self.direct(h, body), "component_unavailable")
        self.assertEqual(error["detail"], '"sovereign-client-country"')

    def test_changed_geo_tag_is_refused(self):
        _, h, body = self.forwarded()
        h["sovereign-cluster-country"] = "US"
        self.assert_refused(self.direct(h, body), "bad_signature")

    def test_changed_client_address_or_request_id_is_refused(self):
        # The gateway's own X-Forwarded-For, Forwarded, X-Forwarded-Proto and X-Request-Id are
        # signed: a cluster trusting them cannot be told another client on the way.
        for field, value in (("x-forwarded-for", "5.255.255.5"), ("forwarded", "for=5.255.255.5;proto=https"),
                             ("x-forwarded-proto", "http"), ("x-request-id", "f" * 32)):
            with self.subTest(field):
                _, h, body = self.forwarded()
                self.assertIn(f'"{field}"', h["signature-input"])
                h[field] = value
                self.assert_refused(self.direct(h, body), "bad_signature")

    def replica(self):
        """Another replica of paris: its own nonce cache, so a captured request is no replay there."""
        replica = start_verifying_standin(self.certs, ["--verify-key", os.path.join(self.keys, "gateway.pub.jwk")],
                                          cluster="paris")
        self.addCleanup(replica.stop)
        return replica

    def test_every_field_forwarded_is_covered(self):
        resp, h, _ = self.forwarded(headers={"Idempotency-Key": "abc", "User-Agent": "OpenAI/Python 1.54.0",
                                             "X-Stainless-Lang": "python", "Accept": "application/json"})
        covered = re.findall(r'"([^"]+)"', h["signature-input"].split(";")[0])
        self.assertEqual(len(covered), len(set(covered)))
        for name in h:
            if name not in ("host", "content-length", "signature", "signature-input"):
                self.assertIn(name, covered)
        self.assertRegex(h["idempotency-key"], r"^[0-9a-f]{16}\.abc$")  # scoped to the tenant, and covered
        self.assertEqual(h["authorization"], "Bearer paris-cluster-credential-0123456789abcdef")
        self.assertIn("user-agent", covered)
        self.assertIn("x-stainless-lang", covered)

    def test_field_the_client_sent_on_two_lines_is_forwarded_on_one(self):
        raw = request_bytes(path="/debug/headers", body=BODY, headers=JSON).replace(
            b"\r\n\r\n", b"\r\nAccept: application/json\r\nAccept: text/event-stream\r\n\r\n", 1)
        resp = exchange(self.gateway.port, self.certs, raw)
        self.assertEqual(resp.status, 200, resp.body)  # the cluster refuses a covered field on two lines
        self.assertEqual(resp.json()["headers"]["accept"], "application/json, text/event-stream")

    def test_field_added_after_signing_is_refused(self):
        # Fields the gateway never forwards because routers and servers act on them: added to a
        # captured request on its way to another replica, the cluster would read them as signed.
        replica = self.replica()
        for field, value in (("X-HTTP-Method-Override", "DELETE"), ("X-Original-URL", "/admin/x"),
                             ("X-Forwarded-Host", "evil.example"), ("X-Custom", "1")):
            with self.subTest(field):
                _, h, body = self.forwarded()
                h[field] = value
                error = self.assert_refused(self.direct(h, body, port=replica.port), "uncovered_field")
                self.assertEqual(error["detail"], field.lower())

    def test_rewritten_idempotency_key_is_refused(self):
        replica = self.replica()
        _, h, body = self.forwarded(headers={"Idempotency-Key": "abc"})
        h["idempotency-key"] = "0000000000000000.abc"  # another tenant's scope
        self.assert_refused(self.direct(h, body, port=replica.port), "bad_signature")

    def test_field_added_in_a_trailer_is_refused(self):
        replica = self.replica()
        _, h, body = self.forwarded()
        fields = {k: v for k, v in h.items() if k not in ("host", "content-length")}
        fields["Transfer-Encoding"] = "chunked"
        raw = request_bytes(path="/debug/headers", body=b"", headers=fields, host=h["host"])
        raw += b"%x\r\n" % len(body) + body + b"\r\n0\r\nX-HTTP-Method-Override: DELETE\r\n\r\n"
        error = self.assert_refused(exchange(replica.port, self.certs, raw), "uncovered_field")
        self.assertEqual(error["detail"], "x-http-method-override")

    def test_request_captured_on_its_way_to_one_cluster_is_refused_by_another(self):
        _, h, body = self.forwarded()
        self.assertEqual(h["sovereign-cluster"], '"paris"')
        lyon = start_verifying_standin(self.certs, ["--verify-key", os.path.join(self.keys, "gateway.pub.jwk")],
                                       cluster="lyon")
        self.addCleanup(lyon.stop)
        error = self.assert_refused(self.direct(h, body, port=lyon.port), "wrong_cluster")
        self.assertEqual(error["detail"], '"paris"')

    def test_old_signature_is_refused(self):
        _, h, body = self.forwarded()
        created = int(re.search(r";created=(\d+)", h["signature-input"]).group(1))
        # A cluster that accepts signatures up to 1 s old, asked 2 s after the gateway signed.
        strict = start_verifying_standin(self.certs, ["--verify-key", os.path.join(self.keys, "gateway.pub.jwk"),
                                                      "--max-age", "1", "--max-skew", "0"])
        self.addCleanup(strict.stop)
        while int(time.time()) < created + 2:
            time.sleep(0.1)
        self.assert_refused(self.direct(h, body, port=strict.port), "too_old")

    def test_request_with_non_ascii_in_a_signed_field_is_refused_by_the_gateway(self):
        raw = request_bytes(method="GET", path="/debug/headers", headers={"Content-Type": "text/plain; x=\"caf\xe9\""})
        resp = exchange(self.gateway.port, self.certs, raw.replace(b"caf\xc3\xa9", b"caf\xe9"))
        self.assertEqual(resp.status, 400, resp.body)
        self.assertEqual(resp.json()["error"]["code"], "unsignable_request")
        self.assertIsNone(resp.header("x-standin-cluster"))

    def test_a_field_outside_ascii_is_covered_as_its_bytes(self):
        """Every forwarded field is covered; one whose value is not printable ASCII (a UTF-8 name in an
        application's own field) as its bytes (RFC 9421 `;bs`), not refused: the client notices nothing,
        and the stand-in verifies it."""
        _, h, _ = self.forwarded(headers={"User-Agent": "Caf\u00e9Bot/1.0"})
        self.assertIn('"user-agent";bs', h["signature-input"])

    @unittest.skipUnless(HAVE_CRYPTOGRAPHY, "python3-cryptography not installed")
    def test_python_recipe_verifies_what_the_gateway_sends(self):
        sys.path.insert(0, os.path.join(SOURCE, "examples", "standin_cluster"))
        import verify_request
        _, h, body = self.forwarded()
        pairs = [(k, v) for k, v in h.items()]
        self.assertIsNone(verify_request.verify("POST", h["host"], "/debug/headers", pairs, body, self.jwk,
                                                cluster="paris"))
        self.assertEqual(verify_request.verify("POST", h["host"], "/debug/headers", pairs, body, self.jwk,
                                               cluster="lyon"), "wrong_cluster")
        self.assertEqual(verify_request.verify("POST", h["host"], "/debug/headers", pairs, body + b" ", self.jwk),
                         "content_digest_mismatch")


class AuditEvidenceTest(unittest.TestCase):
    """The audit record keeps the evidence of what was forwarded: the endpoint, the signature's keyid
    and the digest of the body as forwarded; `audit prove` / `verify-proof` and `audit query` show it."""

    def test_record_carries_endpoint_keyid_and_forwarded_digest(self):
        tmp = TempDir()
        self.addCleanup(tmp.cleanup)
        certs = make_certs(os.path.join(tmp.path, "certs"))
        keys = os.path.join(tmp.path, "keys")
        keyid = make_keys(keys)
        audit_keys = os.path.join(tmp.path, "audit-keys")
        subprocess.run([SOVGW, "keys", "init", audit_keys], check=True, capture_output=True)
        db = os.path.join(tmp.path, "db")
        standin = start_verifying_standin(certs, ["--verify-key", os.path.join(keys, "gateway.pub.jwk")])
        self.addCleanup(standin.stop)
        extra = f"signing:\n  key: {os.path.join(keys, 'gateway.key')}\naudit:\n  db: {db}\n  keys: {audit_keys}\n"
        gateway = Gateway(gateway_yaml(certs, cluster_yaml("paris", f"127.0.0.1:{standin.port}", certs), extra=extra),
                          tmp.path)
        self.addCleanup(gateway.stop)
        resp = exchange(gateway.port, certs, request_bytes(path="/debug/headers", body=BODY, headers=JSON))
        self.assertEqual(resp.status, 200, resp.body)
        seen = resp.json()["headers"]
        request_id = resp.header("x-request-id")
        gateway.signal(signal.SIGTERM)
        gateway.proc.wait(timeout=30)

        record, shown = audit_record_and_proof(db, audit_keys, request_id, tmp.path)
        self.assertEqual(record["endpoint"], f"127.0.0.1:{standin.port}")
        self.assertEqual(record["endpoint_country"], "private")  # loopback, an on_premises cluster
        self.assertEqual(record["signature_keyid"], keyid)
        self.assertEqual(record["forwarded_digest"], seen["content-digest"])  # what the cluster received
        # The address the connection went to, and where that one address geolocates.
        self.assertEqual((record["endpoint_address"], record["endpoint_address_country"]), ("127.0.0.1", "private"))
        self.assertIn(f"forwarded:   to 127.0.0.1:{standin.port} at 127.0.0.1 (private; all its addresses: private), "
                      f"signed by key {keyid}, body {seen['content-digest']}", shown)


    def test_every_sealed_prompt_is_the_body_forwarded(self):
        # Probe round 30: `audit verify --payloads --auditor-key` and `audit show` compare each sealed
        # prompt with its record's forwarded_digest. The gateway seals the body as forwarded: after a
        # redact obligation the redacted one, after its own edit of a stream request
        # (stream_options.include_usage) the edited one; so a gateway's own log passes.
        tmp = TempDir()
        self.addCleanup(tmp.cleanup)
        certs = make_certs(os.path.join(tmp.path, "certs"))
        keys = os.path.join(tmp.path, "keys")
        make_keys(keys)
        audit_keys = os.path.join(tmp.path, "audit-keys")
        subprocess.run([SOVGW, "keys", "init", audit_keys], check=True, capture_output=True)
        db = os.path.join(tmp.path, "db")
        policy = os.path.join(tmp.path, "policy.yaml")
        with open(policy, "w") as f:
            f.write(POLICY)  # redacts e-mail addresses for the (private) test client
        standin = start_verifying_standin(certs, ["--verify-key", os.path.join(keys, "gateway.pub.jwk")])
        self.addCleanup(standin.stop)
        extra = (f"policy: {policy}\nsigning:\n  key: {os.path.join(keys, 'gateway.key')}\n"
                 f"audit:\n  db: {db}\n  keys: {audit_keys}\n  payload: sealed\n")
        gateway = Gateway(gateway_yaml(certs, cluster_yaml("paris", f"127.0.0.1:{standin.port}", certs), extra=extra),
                          tmp.path)
        self.addCleanup(gateway.stop)
        redacted = exchange(gateway.port, certs, request_bytes(path="/debug/headers", body=EMAIL_BODY, headers=JSON))
        self.assertEqual(redacted.status, 200, redacted.body)
        sent = redacted.json()["body"]
        self.assertNotIn("anna@example.org", sent)
        stream_body = json.dumps({"model": "mistral-small", "stream": True,
                                  "messages": [{"role": "user", "content": "Bonjour"}]}).encode()
        stream = exchange(gateway.port, certs, request_bytes(path="/v1/chat/completions", body=stream_body,
                                                             headers=JSON))
        self.assertEqual(stream.status, 200, stream.body)
        gateway.signal(signal.SIGTERM)
        gateway.proc.wait(timeout=30)

        auditor_key = os.path.join(f"{audit_keys}-auditor", "auditor.key")
        verify = subprocess.run([SOVGW, "audit", "verify", "--db", db, "--pubkey", os.path.join(audit_keys, "signing.pub"),
                                 "--payloads", "--auditor-key", auditor_key], capture_output=True, text=True)
        self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
        self.assertIn("every stored payload opens with the auditor key", verify.stdout)
        for resp, prompt in ((redacted, sent), (stream, None)):
            q = subprocess.run([SOVGW, "audit", "query", "--db", db, "--request-id", resp.header("x-request-id"),
                                "--format", "jsonl"], capture_output=True, text=True, check=True)
            self.assertTrue(json.loads(q.stdout)["forwarded_digest"].startswith("sha-256=:"))  # compared
            shown = subprocess.run([SOVGW, "audit", "show", "--db", db, "--request-id", resp.header("x-request-id"),
                                    "--auditor-key", auditor_key], capture_output=True, text=True)
            self.assertEqual(shown.returncode, 0, shown.stdout + shown.stderr)
            self.assertNotIn("NOT the body forwarded", shown.stdout)
            if prompt is not None:
                self.assertIn(f"---\n{prompt}\n--- completion", shown.stdout)
            else:
                self.assertIn('"include_usage"', shown.stdout)  # the gateway's edit, sealed as forwarded


class PublishedKeyTest(unittest.TestCase):
    """`sovgw keys http-new/http-public` and the admin listener publish the verification key; a cluster
    configured with nothing but that published JWK (or PEM) accepts what the gateway signs."""

    def test_key_created_printed_served_and_accepted(self):
        tmp = TempDir()
        self.addCleanup(tmp.cleanup)
        certs = make_certs(os.path.join(tmp.path, "certs"))
        key = os.path.join(tmp.path, "http-signing.key")
        created = subprocess.run([SOVGW, "keys", "http-new", key], capture_output=True, text=True)
        self.assertEqual(created.returncode, 0, created.stderr)
        self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
        again = subprocess.run([SOVGW, "keys", "http-new", key], capture_output=True, text=True)
        self.assertEqual(again.returncode, 3)  # never overwrites a key
        jwk = subprocess.run([SOVGW, "keys", "http-public", key, "--format", "jwk"], capture_output=True,
                             text=True, check=True).stdout
        pem = subprocess.run([SOVGW, "keys", "http-public", key, "--format", "pem"], capture_output=True,
                             text=True, check=True).stdout
        self.assertTrue(pem.startswith("-----BEGIN PUBLIC KEY-----"), pem)
        self.assertEqual(created.stdout, jwk + pem)
        kid = json.loads(jwk)["kid"]
        self.assertIn(kid, created.stderr)
        bad = subprocess.run([SOVGW, "keys", "http-public", key, "--format", "xml"], capture_output=True, text=True)
        self.assertEqual(bad.returncode, 2)

        jwk_file = os.path.join(tmp.path, "published.jwk")
        with open(jwk_file, "w") as f:
            f.write(jwk)
        standin = start_verifying_standin(certs, ["--verify-key", jwk_file])
        self.addCleanup(standin.stop)
        gateway = Gateway(gateway_yaml(certs, cluster_yaml("paris", f"127.0.0.1:{standin.port}", certs),
                                       extra=f"signing:\n  key: {key}\n"), tmp.path)
        self.addCleanup(gateway.stop)
        served = admin_get(gateway, "/.well-known/sovgw-keys.json")
        self.assertEqual(served.status, 200)
        self.assertEqual(served.header("content-type"), "application/jwk-set+json")
        self.assertEqual(served.json(), {"keys": [json.loads(jwk)]})
        resp = exchange(gateway.port, certs, request_bytes(body=BODY, path="/v1/chat/completions", headers=JSON))
        self.assertEqual(resp.status, 200, resp.body)

        # Rotation: the next key is published beside the current one before the switch, and the old
        # one after it, so a cluster or a client that fetches the set verifies both (each key once).
        next_key = os.path.join(tmp.path, "next-signing.key")
        next_jwk = json.loads(subprocess.run([SOVGW, "keys", "http-new", next_key], capture_output=True,
                                             text=True, check=True).stdout.split("\n-----")[0])
        next_pem = os.path.join(tmp.path, "next.pem")
        with open(next_pem, "w") as f:
            f.write(subprocess.run([SOVGW, "keys", "http-public", next_key, "--format", "pem"],
                                   capture_output=True, text=True, check=True).stdout)
        set_file = os.path.join(tmp.path, "earlier-set.json")
        with open(set_file, "w") as f:
            json.dump({"keys": [json.loads(jwk), next_jwk, {"kty": "RSA", "n": "AQAB", "e": "AQAB"}]}, f)
        rotating = Gateway(gateway_yaml(certs, cluster_yaml("paris", f"127.0.0.1:{standin.port}", certs),
                                        extra=f"signing:\n  key: {key}\n  publish: [{next_pem}, {set_file}]\n"),
                           tmp.path)
        self.addCleanup(rotating.stop)
        self.assertEqual(admin_get(rotating, "/.well-known/sovgw-keys.json").json(),
                         {"keys": [json.loads(jwk), next_jwk]})
        rotating.stop()
        switched = Gateway(gateway_yaml(certs, cluster_yaml("paris", f"127.0.0.1:{standin.port}", certs),
                                        extra=f"signing:\n  key: {next_key}\n  publish: [{jwk_file}]\n"),
                           tmp.path)
        self.addCleanup(switched.stop)
        self.assertEqual(admin_get(switched, "/.well-known/sovgw-keys.json").json(),
                         {"keys": [next_jwk, json.loads(jwk)]})
        # Bad files are the admin's mistakes, each at its line: the private key itself, a JWK whose
        # kid is not its thumbprint, something that is no key, a directory.
        wrong_kid = os.path.join(tmp.path, "wrong-kid.jwk")
        with open(wrong_kid, "w") as f:
            json.dump(dict(json.loads(jwk), kid="my-key"), f)
        config = os.path.join(tmp.path, "bad-publish.yaml")
        with open(config, "w") as f:
            f.write(gateway_yaml(certs, cluster_yaml("paris", "127.0.0.1:9", certs),
                                 extra=f"signing:\n  key: {key}\n  publish:\n    - {next_key}\n"
                                       f"    - {wrong_kid}\n    - {tmp.path}\n    - {config}\n"))
        r = subprocess.run([SOVGW, "config", "check", config], capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertRegex(r.stderr, rf"bad-publish\.yaml:\d+:7: signing\.publish: {re.escape(next_key)}: this holds a "
                                   r"private key: publish and configure only the public key")
        self.assertRegex(r.stderr, rf"bad-publish\.yaml:\d+:7: signing\.publish: {re.escape(config)}: neither a PEM "
                                   r"public key nor a JWK \(`sovgw keys http-public KEY_FILE`")
        self.assertRegex(r.stderr, rf"bad-publish\.yaml:\d+:7: signing\.publish: {re.escape(wrong_kid)}: the key's kid "
                                   rf"'my-key' is not its JWK thumbprint {kid}")
        self.assertRegex(r.stderr, r"bad-publish\.yaml:\d+:7: signing\.publish: .* is a directory, not a regular file")
        self.assertEqual(len(re.findall(r"signing\.publish: ", r.stderr)), 4, r.stderr)

        os.chmod(key, 0o640)
        unsafe = subprocess.run([SOVGW, "keys", "http-public", key], capture_output=True, text=True)
        self.assertEqual(unsafe.returncode, 3)
        self.assertIn(key, unsafe.stderr)


class UnsignedGeoTagsTest(unittest.TestCase):
    """Without a signing key the geo-tags still travel, unsigned, and no tenant pseudonym is sent."""

    def test_geo_tags_without_signing(self):
        tmp = TempDir()
        self.addCleanup(tmp.cleanup)
        certs = make_certs(os.path.join(tmp.path, "certs"))
        standin = Process([STANDIN, "--port", "0", "--cert", os.path.join(certs, "cluster.pem"), "--key",
                           os.path.join(certs, "cluster.key")])
        self.addCleanup(standin.stop)
        port = standin.wait_for_json(lambda o: o.get("msg") == "listening")["port"]
        gateway = Gateway(gateway_yaml(certs, cluster_yaml("paris", f"127.0.0.1:{port}", certs)), tmp.path)
        self.addCleanup(gateway.stop)
        resp = exchange(gateway.port, certs, request_bytes(method="GET", path="/debug/headers"))
        self.assertEqual(resp.status, 200, resp.body)
        h = resp.json()["headers"]
        self.assertEqual(h["sovereign-client-country"], "unknown;source=none")  # no policy: no geo lookup
        self.assertEqual(h["sovereign-policy-version"], '""')
        self.assertEqual(h["sovereign-data-classes"], "declared=(), detected=()")
        self.assertNotIn("sovereign-rules", h)
        self.assertNotIn("sovereign-tenant", h)
        self.assertNotIn("signature", h)
        self.assertNotIn("content-digest", h)
        self.assertEqual(admin_get(gateway, "/.well-known/sovgw-keys.json").json(), {"keys": []})


class SigningConfigTest(unittest.TestCase):
    def test_unsafe_or_missing_key_stops_the_start(self):
        tmp = TempDir()
        self.addCleanup(tmp.cleanup)
        certs = make_certs(os.path.join(tmp.path, "certs"))
        keys = os.path.join(tmp.path, "keys")
        make_keys(keys)
        key = os.path.join(keys, "gateway.key")
        os.chmod(key, 0o644)
        config = os.path.join(tmp.path, "gw.yaml")
        with open(config, "w") as f:
            f.write(gateway_yaml(certs, cluster_yaml("paris", "127.0.0.1:9", certs),
                                 extra=f"signing:\n  key: {key}\n"))
        r = subprocess.run([SOVGW, "config", "check", config], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn(key, r.stderr)
        with open(config, "w") as f:
            f.write(gateway_yaml(certs, cluster_yaml("paris", "127.0.0.1:9", certs),
                                 extra="signing:\n  lifetime: 2h\n  cluster_hmac_keys:\n    nowhere: x.hmac\n"))
        r = subprocess.run([SOVGW, "config", "check", config], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("signing.lifetime must be between 1s and 1h", r.stderr)
        self.assertIn("no cluster is named 'nowhere'", r.stderr)
        self.assertIn("signing needs key", r.stderr)
        self.assertRegex(r.stderr, r"gw\.yaml:\d+:\d+: ")

    def test_one_hmac_secret_for_two_clusters_is_refused(self):
        # Probe round 42: a per-cluster secret binds a request to its cluster only if no other
        # cluster holds it; the same file, or a copy of its bytes, for two clusters is refused.
        tmp = TempDir()
        self.addCleanup(tmp.cleanup)
        certs = make_certs(os.path.join(tmp.path, "certs"))
        keys = os.path.join(tmp.path, "keys")
        make_keys(keys)
        secret = os.path.join(keys, "cluster.hmac")
        copy = os.path.join(keys, "copy.hmac")
        with open(secret, "rb") as f, open(os.open(copy, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as g:
            g.write(f.read())
        clusters = cluster_yaml("paris", "127.0.0.1:9", certs) + cluster_yaml("berlin", "127.0.0.1:9", certs)
        config = os.path.join(tmp.path, "gw.yaml")
        for second in (secret, copy):
            with self.subTest(second):
                with open(config, "w") as f:
                    f.write(gateway_yaml(certs, clusters, extra=(
                        f"signing:\n  key: {os.path.join(keys, 'gateway.key')}\n  cluster_hmac_keys:\n"
                        f"    paris: {secret}\n    berlin: {second}\n")))
                r = subprocess.run([SOVGW, "config", "check", config], capture_output=True, text=True)
                self.assertNotEqual(r.returncode, 0, r.stdout)
                self.assertRegex(r.stderr, r"gw\.yaml:\d+:\d+: signing\.cluster_hmac_keys\.berlin: the same "
                                           r"hmac-sha256 secret as cluster 'paris' \(line \d+, column \d+\)")


if __name__ == "__main__":
    unittest.main()
