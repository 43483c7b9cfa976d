"""Signed receipts: every response head the gateway returns carries Sovereign-* fields and, with a
signing key, an RFC 9421 `sovgw-receipt` signature bound to the client's request. `sovgw receipt
verify` checks a head saved by curl offline with the published key; one altered byte fails."""

import base64
import hashlib
import json
import os
import re
import signal
import subprocess
import unittest

from support import (SOVGW, Gateway, TempDir, admin_get, cluster_yaml, exchange, gateway_yaml, make_certs, metric,
                     request_bytes, start_standin, wait_until)
from test_signed_requests import make_keys

POLICY = """version: 1
data_classes:
  health:
    header: health
rules:
  - id: forbid-health
    effect: forbid
    when:
      data.class: [health]
    reason: Health data is not sent to inference APIs.
  - id: permit-internal
    effect: permit
    when:
      client.country: [private]
    reason: Everything else may go.
"""

BODY = json.dumps({"model": "mistral-small", "messages": [{"role": "user", "content": "Bonjour"}]})


class ReceiptTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.certs = make_certs(os.path.join(cls.tmp.path, "certs"))
        cls.keys = os.path.join(cls.tmp.path, "keys")
        cls.keyid = make_keys(cls.keys)
        cls.jwk = os.path.join(cls.keys, "gateway.pub.jwk")
        cls.standin = start_standin(cls.certs, chunks=2, delay_ms=1)
        policy = os.path.join(cls.tmp.path, "policy.yaml")
        with open(policy, "w") as f:
            f.write(POLICY)
        clusters = cluster_yaml("paris", f"127.0.0.1:{cls.standin.port}", cls.certs).replace(
            'models: ["*"]', 'models: ["mistral-*"]')
        cls.clusters = clusters
        extra = f"policy: {policy}\nsigning:\n  key: {os.path.join(cls.keys, 'gateway.key')}\n"
        cls.gateway = Gateway(gateway_yaml(cls.certs, clusters, extra=extra), cls.tmp.path)
        cls.url = f"https://localhost:{cls.gateway.port}/v1/chat/completions"

    @classmethod
    def tearDownClass(cls):
        cls.gateway.stop()
        cls.standin.stop()
        cls.tmp.cleanup()

    def curl_head(self, name, body=BODY, headers=(), url=None):
        head = os.path.join(self.tmp.path, name)
        argv = ["curl", "-sS", "-D", head, "-o", os.devnull, "--cacert", os.path.join(self.certs, "ca.pem"),
                "-H", "Content-Type: application/json", "--data-binary", body, url or self.url]
        for h in headers:
            argv[1:1] = ["-H", h]
        subprocess.run(argv, check=True, capture_output=True, timeout=30)
        with open(head, "rb") as f:
            return head, f.read()

    def verify(self, head, *extra, method="POST", url=None):
        key = [] if "--key" in extra else ["--key", self.jwk]
        return subprocess.run([SOVGW, "receipt", "verify", head, *key, "--method", method, "--url",
                               url or self.url, *extra], capture_output=True, text=True)

    def test_receipt_of_a_served_request_verifies_offline(self):
        head, raw = self.curl_head("served.txt")
        text = raw.decode()
        self.assertIn("Sovereign-Decision: permit", text)
        self.assertIn('Sovereign-Cluster: "paris"', text)
        self.assertIn("Sovereign-Cluster-Country: FR", text)
        self.assertIn('tag="sovgw-receipt"', text)
        self.assertIn(f'keyid="{self.keyid}"', text)
        r = self.verify(head)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("receipt verifies: status 200", r.stdout)
        request_id = re.search(r"X-Request-Id: ([0-9a-f]{32})", text).group(1)
        self.assertIn(f'Sovereign-Request-Id: "{request_id}"', r.stdout)

    def test_one_altered_byte_fails(self):
        head, raw = self.curl_head("altered.txt")
        lines = raw.split(b"\r\n")
        # Every byte of the status code and of every signed value, one at a time.
        spots = [(0, i) for i in range(9, 12)]
        for n, line in enumerate(lines):
            name, sep, _ = line.partition(b": ")
            if sep and (name.lower().startswith(b"sovereign-") or name.lower() in (b"signature", b"signature-input")):
                spots += [(n, i) for i in range(len(name) + 2, len(line))]
        self.assertGreater(len(spots), 200)
        passed = []
        for n, i in spots:
            changed = list(lines)
            line = bytearray(changed[n])
            line[i] = line[i] ^ 0x01 if 0x21 <= line[i] ^ 0x01 <= 0x7e else ord("x")
            changed[n] = bytes(line)
            path = os.path.join(self.tmp.path, "one-byte.txt")
            with open(path, "wb") as f:
                f.write(b"\r\n".join(changed))
            r = self.verify(path)
            if r.returncode != 1:
                passed.append((changed[n], r.returncode, r.stdout))
        self.assertEqual(passed, [])
        self.assertEqual(self.verify(head).returncode, 0)  # the original still verifies

    def test_receipt_is_bound_to_the_request(self):
        head, _ = self.curl_head("bound.txt")
        r = self.verify(head, url=self.url.replace("/chat/completions", "/completions"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("bad_signature", r.stdout)
        self.assertEqual(self.verify(head, method="PUT").returncode, 1)

    def test_receipt_covers_the_clients_content_digest(self):
        body_file = os.path.join(self.tmp.path, "body.json")
        with open(body_file, "w") as f:
            f.write(BODY)
        digest = subprocess.run(["openssl", "dgst", "-sha256", "-binary", body_file], capture_output=True,
                                check=True).stdout
        import base64
        value = f"sha-256=:{base64.b64encode(digest).decode()}:"
        head, _ = self.curl_head("digest.txt", headers=[f"Content-Digest: {value}"])
        self.assertEqual(self.verify(head, "--body-file", body_file).returncode, 0)
        self.assertEqual(self.verify(head, "--content-digest", value).returncode, 0)
        with open(body_file, "w") as f:
            f.write(BODY.replace("Bonjour", "Bonsoir"))
        r = self.verify(head, "--body-file", body_file)
        self.assertEqual(r.returncode, 1)
        self.assertIn("the method, URL (host, port, path, query) or body (Content-Digest) may differ", r.stdout)
        self.assertEqual(self.verify(head).returncode, 1)  # the receipt covers a digest: it must be given

    def test_a_content_digest_of_another_body_is_refused(self):
        # Else the receipt would cover the digest of a prompt the gateway never received, and
        # `receipt verify --body-file` would call the receipt bound to that prompt.
        import base64
        import hashlib
        claimed = BODY.replace("Bonjour", "Patient Jean Dupont, IBAN DE89 3704 0044 0532 0130 00")
        lie = f"sha-256=:{base64.b64encode(hashlib.sha256(claimed.encode()).digest()).decode()}:"
        right = f"sha-256=:{base64.b64encode(hashlib.sha256(BODY.encode()).digest()).decode()}:"
        right512 = f"sha-512=:{base64.b64encode(hashlib.sha512(BODY.encode()).digest()).decode()}:"
        for value, text in ((lie, "does not match the request body"),
                            (f"{right}, {lie.replace('sha-256', 'sha-512')}", "does not match"),
                            ("md5=:AAAAAAAAAAAAAAAAAAAAAA==:", "neither sha-256 nor sha-512"),
                            ("sha-256=AAAA", "not an RFC 9530 dictionary")):
            with self.subTest(value):
                resp = self.send_with_digest(value)
                self.assertEqual(resp.status, 400, resp.body)
                self.assertEqual(resp.json()["error"]["code"], "bad_content_digest")
                self.assertIn(text, resp.json()["error"]["message"])
        # The right digest, alone or with a right sha-512 beside it, is served.
        for value in (right, f"{right}, {right512}"):
            self.assertEqual(self.send_with_digest(value).status, 200)

    def test_a_content_digest_giving_an_algorithm_twice_is_refused(self):
        # Probe round 45: "sha-256=:H(X):, sha-256=:H(Y):" with body Y was served (a Dictionary keeps
        # the last member) and the receipt covered a value whose first digest is of X, the one a
        # reader taking the first member checks.
        import base64
        import hashlib
        claimed = BODY.replace("Bonjour", "Patient Jean Dupont, IBAN DE89 3704 0044 0532 0130 00")
        lie = f"sha-256=:{base64.b64encode(hashlib.sha256(claimed.encode()).digest()).decode()}:"
        right = f"sha-256=:{base64.b64encode(hashlib.sha256(BODY.encode()).digest()).decode()}:"
        right512 = f"sha-512=:{base64.b64encode(hashlib.sha512(BODY.encode()).digest()).decode()}:"
        for value in (f"{lie}, {right}", f"sha-256=?1, {right}", f"{right}, {right}",
                      f"{right512}, {right}, {right512}"):
            with self.subTest(value):
                resp = self.send_with_digest(value)
                self.assertEqual(resp.status, 400, resp.body)
                self.assertEqual(resp.json()["error"]["code"], "bad_content_digest")
                self.assertIn("more than once", resp.json()["error"]["message"])

    def send_with_digest(self, value):
        return exchange(self.gateway.port, self.certs, request_bytes(
            "POST", "/v1/chat/completions", BODY.encode(), {"Content-Type": "application/json", "Content-Digest": value}))

    def test_a_body_the_receipt_does_not_cover_fails(self):
        # Sent without Content-Digest: the receipt covers no body, so no body given can be checked.
        head, raw = self.curl_head("no-digest.txt")
        self.assertNotIn(b"content-digest", raw.lower())
        other = os.path.join(self.tmp.path, "other.json")
        with open(other, "w") as f:
            f.write(BODY.replace("Bonjour", "Bonsoir"))
        for extra in (["--body-file", other], ["--content-digest", "sha-256=:" + "A" * 43 + "=:"]):
            r = self.verify(head, *extra)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn("receipt does NOT cover the request body: the request it answers carried no "
                          "Content-Digest", r.stdout)
            self.assertIn(extra[0], r.stdout)
            self.assertNotIn("receipt verifies", r.stdout)
        r = self.verify(head)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("not bound to a request body: the request carried no Content-Digest", r.stdout)

    def test_a_bad_signature_says_what_may_differ(self):
        head, _ = self.curl_head("hint.txt")
        r = self.verify(head, method="PUT")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("receipt does NOT verify: bad_signature", r.stdout)
        self.assertIn("the method, URL (host, port, path, query) may differ from the request it answers, the "
                      f"head may have been altered, or {self.jwk} may not hold the key that signed it", r.stdout)

    def test_denial_carries_a_verifiable_receipt(self):
        head, raw = self.curl_head("denied.txt", headers=["Sovereign-Data-Class: health"])
        text = raw.decode()
        self.assertTrue(text.startswith("HTTP/1.1 403"), text)
        self.assertIn("Sovereign-Decision: deny", text)
        self.assertNotIn("Sovereign-Cluster:", text)
        r = self.verify(head)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("status 403", r.stdout)

    def test_the_gateways_model_list_carries_a_verifiable_receipt(self):
        # GET/HEAD /v1/models[/{id}] are answered by the gateway itself: their 200s carry a receipt too.
        base = self.url.replace("/chat/completions", "/models")
        ca = os.path.join(self.certs, "ca.pem")
        for method, url in (("GET", base), ("HEAD", base), ("GET", f"{base}/mistral-small")):
            with self.subTest(method=method, url=url):
                head = os.path.join(self.tmp.path, "models-head.txt")
                argv = ["curl", "-sS", "-D", head, "-o", os.devnull, "--cacert", ca, url]
                subprocess.run(argv + (["-I"] if method == "HEAD" else []), check=True, capture_output=True,
                               timeout=30)
                with open(head, "rb") as f:
                    text = f.read().decode()
                self.assertTrue(text.startswith("HTTP/1.1 200"), text)
                self.assertIn('tag="sovgw-receipt"', text)
                r = self.verify(head, method=method, url=url)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertIn("receipt verifies: status 200", r.stdout)

    def test_an_answer_the_policy_did_not_decide_says_so_as_the_audit_log_does(self):
        # A model no cluster serves (404) and a body refused before the decision (400): the audit
        # record's decision is no-policy, and the receipt an auditor checks it against says the same.
        for name, body, status in (("unknown-model.txt", json.dumps({"model": "gpt-4o", "messages": []}), 404),
                                   ("no-model.txt", json.dumps({"messages": []}), 400)):
            with self.subTest(name):
                head, raw = self.curl_head(name, body=body)
                text = raw.decode()
                self.assertTrue(text.startswith(f"HTTP/1.1 {status}"), text)
                self.assertIn("Sovereign-Decision: no-policy\r\n", text)
                r = self.verify(head)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertIn("Sovereign-Decision: no-policy", r.stdout)

    def test_answers_to_no_request_line_carry_a_receipt_bound_to_no_request(self):
        # Probe round 42: these answers carried the Sovereign-* fields but no signature.
        long_target = "/v1/" + "a" * 20000
        big_field = "a" * 70000
        cases = (("414.txt", 414, f"GET {long_target} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()),
                 ("431.txt", 431, f"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: {big_field}\r\n\r\n".encode()),
                 ("400.txt", 400, b"\r\nGET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n"))
        for name, status, raw in cases:
            with self.subTest(name):
                resp = exchange(self.gateway.port, self.certs, raw)
                self.assertEqual(resp.status, status, resp.body)
                self.assert_unbound_receipt(name, resp)

    def test_a_non_canonical_target_is_refused_with_a_receipt_bound_to_its_request(self):
        # Probe round 50: the request line was read (and logged), yet the receipt was bound to none.
        for target in ("/v1//chat/completions", "/./v1/chat/completions", "/v1/chat/compl%65tions"):
            with self.subTest(target):
                raw = request_bytes("POST", target, b'{"model":"mistral-small","messages":[]}',
                                    {"Content-Type": "application/json"}, host=f"localhost:{self.gateway.port}")
                resp = exchange(self.gateway.port, self.certs, raw)
                self.assertEqual(resp.status, 400, resp.body)
                self.assertEqual(resp.json()["error"]["code"], "non_canonical_target")
                self.assertIn(";req", resp.raw_head)
                head = os.path.join(self.tmp.path, "non-canonical.txt")
                with open(head, "wb") as f:
                    f.write(resp.raw_head.encode("latin-1"))
                r = self.verify(head, method="POST", url=f"https://localhost:{self.gateway.port}{target}")
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertIn("receipt verifies: status 400", r.stdout)

    def test_a_head_that_times_out_carries_a_receipt_bound_to_no_request(self):
        extra = f"signing:\n  key: {os.path.join(self.keys, 'gateway.key')}\n"
        gateway = Gateway(gateway_yaml(self.certs, self.clusters, timeouts="  request_header: 1s\n", extra=extra),
                          self.tmp.path)
        self.addCleanup(gateway.stop)
        resp = exchange(gateway.port, self.certs, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
        self.assertEqual(resp.status, 408, resp.body)
        self.assert_unbound_receipt("408.txt", resp)

    def assert_unbound_receipt(self, name, resp):
        head = os.path.join(self.tmp.path, name)
        with open(head, "wb") as f:
            f.write(resp.raw_head.encode("latin-1"))
        self.assertIn('tag="sovgw-receipt"', resp.raw_head)
        self.assertNotIn(";req", resp.raw_head)
        r = subprocess.run([SOVGW, "receipt", "verify", head, "--key", self.jwk], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(f"receipt verifies: status {resp.status} (keyid {self.keyid}, created ", r.stdout)
        self.assertIn("NOT bound to any request", r.stdout)
        # Checked as the answer to some request, it is not one.
        r = self.verify(head, method="GET", url=f"https://localhost:{self.gateway.port}/v1/models")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("missing_required_component", r.stdout)

    def test_a_receipt_bound_to_a_request_needs_the_request(self):
        head, _ = self.curl_head("needs-request.txt")
        r = subprocess.run([SOVGW, "receipt", "verify", head, "--key", self.jwk], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("it is bound to one; give the request it answers (--method METHOD --url URL)", r.stdout)

    def test_the_key_may_be_a_pem_a_jwk_or_the_published_jwk_set(self):
        head, _ = self.curl_head("keys.txt")
        published = admin_get(self.gateway, "/.well-known/sovgw-keys.json")
        self.assertEqual(published.status, 200)
        key_set = json.loads(published.body)
        x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
        old_kid = base64.urlsafe_b64encode(hashlib.sha256(
            json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":")).encode()).digest()).decode()
        other = {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": old_kid.rstrip("=")}
        rsa = {"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "not-ours"}  # skipped: not an Ed25519 key
        files = {}
        for name, content in (("set.json", key_set), ("rotated.json", {"keys": [other, rsa] + key_set["keys"]}),
                              ("other.json", {"keys": [other]}), ("bad.json", {"keys": [other, dict(other, d="x")]}),
                              ("lying.json", {"keys": [dict(other, kid=self.keyid)]})):
            files[name] = os.path.join(self.tmp.path, name)
            with open(files[name], "w") as f:
                json.dump(content, f)
        # Sets served before and after a rotation, merged by an auditor: the same key twice is one.
        files["merged.json"] = os.path.join(self.tmp.path, "merged.json")
        with open(files["merged.json"], "w") as f:
            json.dump({"keys": key_set["keys"] + [other] + key_set["keys"]}, f)
        files["two-for-one-kid.json"] = os.path.join(self.tmp.path, "two-for-one-kid.json")
        with open(files["two-for-one-kid.json"], "w") as f:
            json.dump({"keys": key_set["keys"] + [dict(other, kid=self.keyid)]}, f)
        for key in (files["set.json"], files["rotated.json"], files["merged.json"],
                    os.path.join(self.keys, "gateway.pub.pem"), self.jwk):
            r = self.verify(head, "--key", key)
            self.assertEqual(r.returncode, 0, key + r.stdout + r.stderr)
            self.assertIn("receipt verifies", r.stdout)
        r = self.verify(head, "--key", files["other.json"])
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(f"receipt does NOT verify: it was signed with keyid {self.keyid}, which {files['other.json']} "
                      f"does not hold (it holds {other['kid']})", r.stdout)
        # The gateway's secret signing key given by mistake: said so, and how to get the public one.
        r = self.verify(head, "--key", os.path.join(self.keys, "gateway.key"))
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("this holds a private key: publish and configure only the public key (`sovgw keys "
                      "http-public KEY_FILE` prints it)", r.stderr)
        r = self.verify(head, "--key", files["bad.json"])
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn(f"{files['bad.json']}: not an Ed25519 public key (JWK Set member 1): this holds a private key",
                      r.stderr)
        r = self.verify(head, "--key", files["two-for-one-kid.json"])
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn(f"{files['two-for-one-kid.json']}: not a usable JWK Set (JWK Set member "
                      f"{len(key_set['keys'])}): two different keys of the JWK Set have the same \"kid\"", r.stderr)
        # Another key that calls itself by the gateway's keyid: it would "verify" a receipt its own
        # holder signed as the gateway's; a kid must be the key's thumbprint.
        r = self.verify(head, "--key", files["lying.json"])
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn(f"{files['lying.json']}: the JWK's kid '{self.keyid}' is not the key's RFC 7638 thumbprint "
                      f"{other['kid']} (the keyid the gateway signs with)", r.stderr)

    def test_a_signing_key_file_changed_under_the_gateway_is_said_to_need_a_restart(self):
        # Probe round 38: SIGHUP reloads certificates and keys, docs/configuration.md said; a new
        # signing key in the file was silently not used (until a restart made it so at once).
        keys = os.path.join(self.tmp.path, "rotating")
        make_keys(keys)
        g = Gateway(gateway_yaml(self.certs, self.clusters,
                                 extra=f"signing:\n  key: {os.path.join(keys, 'gateway.key')}\n"), self.tmp.path)
        self.addCleanup(g.stop)
        g.signal(signal.SIGHUP)
        g.wait_for_json(lambda o: o.get("msg") == "reloading")
        newer = os.path.join(self.tmp.path, "newer")
        make_keys(newer)
        os.replace(os.path.join(newer, "gateway.key"), os.path.join(keys, "gateway.key"))
        g.signal(signal.SIGHUP)
        line = g.wait_for_json(lambda o: o.get("msg", "").startswith("a signing key file changed since start"))
        self.assertEqual((line["setting"], line["file"]), ("signing.key", os.path.join(keys, "gateway.key")))
        self.assertIn("restart to apply it", line["msg"])
        # One warning per change, not on a SIGHUP that found the key as the gateway started with it.
        self.assertEqual(len([o for o in g.logs() if o.get("msg", "").startswith("a signing key file")]), 1)

    def test_a_key_read_at_start_made_unsafe_is_said_on_sighup_and_a_link_to_a_key_is_followed(self):
        # Probe round 40: `chmod 666` on the signing key (or the configuration) and a SIGHUP said
        # nothing, though config check and the next start refuse it; and a signing key named through
        # a symbolic link (in folders only its owner may change) was refused as "Too many levels of
        # symbolic links".
        keys = os.path.join(self.tmp.path, "real-keys")
        make_keys(keys)
        link = os.path.join(self.tmp.path, "current-key")
        os.symlink(os.path.join(keys, "gateway.key"), link)
        g = Gateway(gateway_yaml(self.certs, self.clusters, extra=f"signing:\n  key: {link}\n"), self.tmp.path)
        self.addCleanup(g.stop)
        self.assertEqual(metric(g, "sovgw_restart_check_problems"), 0)
        os.chmod(os.path.join(keys, "gateway.key"), 0o644)
        g.signal(signal.SIGHUP)
        line = g.wait_for_json(lambda o: o.get("msg", "").startswith("a restart would refuse files read at start"))
        self.assertIn(f"signing.key: refusing to use secret key {link}: its mode 0644", line["problems"])
        self.assertTrue(wait_until(lambda: metric(g, "sovgw_restart_check_problems") == 1))
        os.chmod(os.path.join(keys, "gateway.key"), 0o600)
        g.signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: metric(g, "sovgw_restart_check_problems") == 0))
        self.assertEqual(len([o for o in g.logs() if o.get("msg", "").startswith("a restart would refuse")]), 1)

    def test_bad_input_is_a_usage_error(self):
        path = os.path.join(self.tmp.path, "not-a-head.txt")
        with open(path, "w") as f:
            f.write("hello\n")
        r = self.verify(path)
        self.assertEqual(r.returncode, 2)
        self.assertIn("no final HTTP response head", r.stderr)
        head, _ = self.curl_head("usage.txt")
        r = subprocess.run([SOVGW, "receipt", "verify", head, "--key", os.path.join(self.keys, "gateway.pub.pem"),
                            "--method", "POST", "--url", "localhost/v1"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("not an absolute URL", r.stderr)
        r = self.verify(os.path.join(self.tmp.path, "missing.txt"))
        self.assertEqual(r.returncode, 3)


if __name__ == "__main__":
    unittest.main()
