"""`sovgw receipt verify` as an enterprise runs it: with the key file `sovgw keys http-public` wrote,
on a receipt signed as the gateway signs one (tests/support/sign-request receipt)."""

import json
import os
import shutil
import tempfile
import unittest

from test_audit_support import BUILD_DIR, run, sovgw, write_file

SIGN = os.path.join(BUILD_DIR, "tests", "support", "sign-request")
URL = "https://gw.example:8443/v1/chat/completions"
FIELDS = ('Sovereign-Request-Id: "r1"', "Sovereign-Decision: permit", 'Sovereign-Policy-Version: "v1"')


class receipt_cli_test(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sovgw-receipt-cli-")
        self.key = os.path.join(self.tmp, "gw.key")
        sovgw("keys", "http-new", self.key, check=0)
        self.body = os.path.join(self.tmp, "prompt.json")
        write_file(self.body, '{"model": "m", "messages": []}')

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def public(self, name, *fmt, key=None):
        path = os.path.join(self.tmp, name)
        write_file(path, sovgw("keys", "http-public", key or self.key, *fmt, check=0).stdout)
        return path

    def head(self, name, body=True, digest=None, target="/v1/chat/completions"):
        argv = [SIGN, "receipt", "--key", self.key, "--method", "POST", "--authority", "gw.example:8443",
                "--target", target] + (["--request-digest", digest] if digest else [])
        for f in FIELDS:
            argv += ["--header", f]
        if body:
            argv += ["--body-file", self.body]
        path = os.path.join(self.tmp, name)
        write_file(path, run(*argv, check=0).stdout)
        return path

    def verify(self, head, key, *extra, check):
        return sovgw("receipt", "verify", head, "--key", key, "--method", "POST", "--url", URL, *extra, check=check)

    def test_the_body_sent_verifies_whatever_digest_form_the_client_used(self):
        # Probe round 28: a request that sent its own Content-Digest as sha-512, or sha-256 and
        # sha-512 together, got a receipt that --body-file with that very body said did not verify.
        import base64
        import hashlib
        body = open(self.body, "rb").read()
        sha256 = "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"
        sha512 = "sha-512=:" + base64.b64encode(hashlib.sha512(body).digest()).decode() + ":"
        key = self.public("gw.pub.jwk", "--format", "jwk")
        for form in (sha512, f"{sha256}, {sha512}", f"{sha512},{sha256}"):
            with self.subTest(form=form):
                head = self.head("form.txt", digest=form)
                out = self.verify(head, key, "--body-file", self.body, check=0).stdout
                self.assertIn("receipt verifies", out)
                self.assertIn(f"bound to the request body: Content-Digest {form}", out)
                other = os.path.join(self.tmp, "other.json")
                write_file(other, '{"model": "m", "messages": [1]}')
                self.verify(head, key, "--body-file", other, check=1)
        # A member --body-file cannot rebuild: the hint names --content-digest, which works.
        odd = f"md5=:AAAA:, {sha256}"
        head = self.head("odd.txt", digest=odd)
        out = self.verify(head, key, "--body-file", self.body, check=1).stdout
        self.assertIn("needs --content-digest with the value it sent", out)
        self.assertIn("receipt verifies", self.verify(head, key, "--content-digest", odd, check=0).stdout)
        # A URL with no path but a query: curl sends /?x=1.
        head = self.head("query.txt", body=False, target="/?x=1")
        out = sovgw("receipt", "verify", head, "--key", key, "--method", "POST", "--url", "https://gw.example:8443?x=1",
                    check=0).stdout
        self.assertIn("receipt verifies: status 200 for POST gw.example:8443/?x=1", out)

    def test_the_default_http_public_output_is_a_key_file(self):
        both = self.public("gw.jwk")  # JWK and PEM, as `keys http-public KEY > gw.jwk` writes them
        self.assertIn("-----BEGIN PUBLIC KEY-----", open(both).read())
        p = sovgw("keys", "http-public", self.key, "--format", "xml", check=2)
        self.assertIn("sovgw keys http-public: --format must be jwk, pem or both (the default), not 'xml'", p.stderr)
        head = self.head("head.txt")
        for key in (both, self.public("gw.pub.jwk", "--format", "jwk"), self.public("gw.pem", "--format", "pem")):
            out = self.verify(head, key, "--body-file", self.body, check=0).stdout
            self.assertIn("receipt verifies: status 200 for POST gw.example:8443/v1/chat/completions", out)
        # The two halves must be one key: a file that pieces two keys together is refused.
        other = os.path.join(self.tmp, "other.key")
        sovgw("keys", "http-new", other, check=0)
        jwk = sovgw("keys", "http-public", self.key, "--format", "jwk", check=0).stdout
        pem = sovgw("keys", "http-public", other, "--format", "pem", check=0).stdout
        mixed = os.path.join(self.tmp, "mixed.jwk")
        write_file(mixed, jwk + pem)
        p = self.verify(head, mixed, "--body-file", self.body, check=2)
        self.assertIn(f"sovgw receipt verify: {mixed}: not an Ed25519 public key: the JWK and the PEM key in the "
                      "file are different keys", p.stderr)
        write_file(mixed, jwk + "\n" + jwk)
        p = self.verify(head, mixed, check=2)
        self.assertIn("the JWK is not a JSON object", p.stderr)

    def test_the_audit_logs_key_is_named_for_what_it_is(self):
        # Probe round 22: an auditor holding "the public key" tries the audit log's signing.pub first,
        # and was told only that it is neither a PEM key nor a JWK.
        keys = os.path.join(self.tmp, "audit-keys")
        sovgw("keys", "init", keys, check=0)
        note_key = os.path.join(keys, "signing.pub")
        p = self.verify(self.head("head.txt"), note_key, "--body-file", self.body, check=2)
        self.assertIn(f"{note_key}: this is the audit log's checkpoint key", p.stderr)
        self.assertIn("sovgw keys http-public", p.stderr)

    def test_a_receipt_covering_the_body_says_which_option_to_give(self):
        head = self.head("head.txt")
        key = self.public("gw.jwk", "--format", "jwk")
        p = self.verify(head, key, check=1)
        self.assertIn("receipt does NOT verify: it covers the request body (the Content-Digest the request "
                      "carried): give the body sent (--body-file FILE) or its Content-Digest (--content-digest "
                      "VALUE)", p.stdout)
        self.assertNotIn("component_unavailable", p.stdout)
        # A receipt without a body is checked without either option.
        out = self.verify(self.head("nobody.txt", body=False), key, check=0).stdout
        self.assertIn("not bound to a request body", out)

    def test_heads_saved_over_http2_and_http3_verify(self):
        key = self.public("gw.jwk", "--format", "jwk")
        lines = open(self.head("head.txt")).read().strip().splitlines()
        self.assertTrue(lines[0].startswith("HTTP/1.1 200"), lines[0])
        fields = [f"{n.lower()}:{v}" for n, _, v in (line.partition(":") for line in lines[1:])]
        for status_line in ("HTTP/2 200 ", "HTTP/3 200", "HTTP/1.1 200"):
            with self.subTest(status_line):
                # As curl -D saves them: lower-case names over HTTP/2 and 3, an interim head first.
                head = os.path.join(self.tmp, "h2.txt")
                interim = status_line.split(" ")[0] + " 103 \r\nlink: </style.css>\r\n\r\n"
                write_file(head, interim + "\r\n".join([status_line] + fields) + "\r\n\r\n")
                out = self.verify(head, key, "--body-file", self.body, check=0).stdout
                self.assertIn("receipt verifies: status 200", out)
        for not_a_status_line in ("HTTP/2 2000", "HTTP/2.5 200", "HTTP/ 200", "HTTP/2"):
            with self.subTest(not_a_status_line):
                write_file(head, "\r\n".join([not_a_status_line] + fields) + "\r\n\r\n")
                p = self.verify(head, key, "--body-file", self.body, check=2)
                self.assertIn("no final HTTP response head in the file", p.stderr)

    def test_a_file_holding_two_final_heads_is_refused_not_half_checked(self):
        # Probe round 40: two saved heads concatenated: only the last was checked, silently.
        key = self.public("gw.jwk", "--format", "jwk")
        with open(self.head("head.txt")) as f:
            one = f.read()
        two = os.path.join(self.tmp, "two.txt")
        write_file(two, one.rstrip("\r\n") + "\r\n\r\n" + one)
        p = self.verify(two, key, "--body-file", self.body, check=2)
        self.assertIn("the file holds 2 final HTTP response heads (statuses 200, 200)", p.stderr)

    def test_a_field_added_to_the_head_that_reads_as_a_sovereign_field_fails(self):
        key = self.public("gw.jwk", "--format", "jwk")
        head = self.head("head.txt")
        self.verify(head, key, "--body-file", self.body, check=0)
        text = open(head).read().rstrip()
        for added in ("Sovereign_Cluster_Country: US", "sovereign_cluster: \"us-east-1\""):
            with self.subTest(added):
                write_file(head, f"{text}\n{added}\n\n")
                p = self.verify(head, key, "--body-file", self.body, check=1)
                self.assertIn(f"receipt does NOT verify: uncovered_field: {added.split(':')[0].lower()}", p.stdout)

    def test_a_head_with_two_receipt_signatures_is_ambiguous(self):
        key = self.public("gw.jwk", "--format", "jwk")
        lines = open(self.head("head.txt")).read().strip().splitlines()
        signature_lines = [line for line in lines if line.lower().startswith("signature")]
        self.assertEqual(len(signature_lines), 2)
        # Another receipt's signature lines added after the genuine ones, or the genuine ones repeated.
        other = open(self.head("other.txt", body=False)).read().strip().splitlines()
        for added in ([line for line in other if line.lower().startswith("signature")], signature_lines):
            with self.subTest(added):
                head = os.path.join(self.tmp, "twice.txt")
                write_file(head, "\n".join(lines + added) + "\n\n")
                p = self.verify(head, key, "--body-file", self.body, check=1)
                self.assertIn("receipt does NOT verify: ambiguous_signature: sovgw-receipt", p.stdout)

    def test_a_key_whose_kid_is_not_its_thumbprint_is_refused(self):
        jwk = json.loads(sovgw("keys", "http-public", self.key, "--format", "jwk", check=0).stdout)
        other = os.path.join(self.tmp, "other.key")
        sovgw("keys", "http-new", other, check=0)
        impostor = json.loads(sovgw("keys", "http-public", other, "--format", "jwk", check=0).stdout)
        lying = os.path.join(self.tmp, "lying.jwk")
        write_file(lying, json.dumps(dict(impostor, kid=jwk["kid"])))
        p = self.verify(self.head("head.txt"), lying, "--body-file", self.body, check=2)
        self.assertIn(f"{lying}: the JWK's kid '{jwk['kid']}' is not the key's RFC 7638 thumbprint {impostor['kid']}",
                      p.stderr)

    def test_a_malformed_digest_or_a_lower_case_method_is_bad_input_not_a_bad_signature(self):
        head = self.head("head.txt")
        key = self.public("gw.jwk", "--format", "jwk")
        for digest in ("garbage", "md5=:AAAA:", "sha-256=AAAA"):
            with self.subTest(digest):
                p = self.verify(head, key, "--content-digest", digest, check=2)
                self.assertIn(f"--content-digest '{digest}' is not a Content-Digest field value", p.stderr)
        p = sovgw("receipt", "verify", head, "--key", key, "--method", "post", "--url", URL, "--body-file", self.body,
                  check=2)
        self.assertIn("--method 'post': methods are case-sensitive", p.stderr)
        self.assertIn("did you mean POST?", p.stderr)
        # A URL no request to the gateway could have had is bad usage, not a receipt that fails.
        for url, message in (("ftp://127.0.0.1:8443/v1/chat/completions", "is not an https:// URL"),
                             (URL + "#frag", "has a fragment")):
            with self.subTest(url=url):
                p = sovgw("receipt", "verify", head, "--key", key, "--method", "POST", "--url", url, "--body-file",
                          self.body, check=2)
                self.assertIn(message, p.stderr)


if __name__ == "__main__":
    unittest.main()
