"""The stand-in cluster in --require-signature mode, over real TLS: it serves only requests signed
under the sovgw RFC 9421 profile (docs/signatures.md) and answers everything else 401 with the reason.

Requests are signed by tests/support/sign-request (the same crypto/ code the gateway uses), then
changed the way an attacker or a broken proxy would change them, and sent over a raw TLS socket.
"""

import importlib.util
import json
import os
import re
import subprocess
import sys
import time
import unittest

from support import BUILD, SOURCE, SOVGW, STANDIN, Process, TempDir, exchange, make_certs, request_bytes

HAVE_CRYPTOGRAPHY = importlib.util.find_spec("cryptography") is not None

SIGN = os.path.join(BUILD, "tests", "support", "sign-request")
TARGET = "/v1/chat/completions"
BODY = json.dumps({"model": "mistral-small", "messages": [{"role": "user", "content": "Bonjour"}]}).encode()
GEO_TAGS = {
    "Content-Type": "application/json",
    "Sovereign-Request-Id": '"req-42"',
    "Sovereign-Client-Country": "FR;method=geoip-socket",
    "Sovereign-Policy-Version": '"2026-12-01.1"',
    "Sovereign-Decision": 'permit;rules=("eu-only")',
}


def make_keys(directory):
    """A fresh gateway key pair and cluster hmac secret (sign-request keygen); returns the keyid."""
    os.mkdir(directory, 0o700)
    return subprocess.run([SIGN, "keygen", directory], check=True, capture_output=True, text=True).stdout.strip()


def write_body(tmp):
    path = os.path.join(tmp.path, "body.json")
    with open(path, "wb") as f:
        f.write(BODY)
    return path


def sign_fields(key_args, headers, body_file=None, target=TARGET, authority="localhost", created=None):
    """The fields sign-request adds, as a dict (Content-Digest, Signature-Input, Signature)."""
    argv = [SIGN, "sign", "--method", "POST" if body_file else "GET", "--authority", authority,
            "--target", target] + key_args
    for name, value in headers.items():
        argv += ["--header", f"{name}: {value}"]
    if body_file:
        argv += ["--body-file", body_file]
    if created is not None:
        argv += ["--created", str(created)]
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    return dict(line.split(": ", 1) for line in out.splitlines())


def start_standin(certs, extra, chunks=2, delay_ms=1, cluster=None):
    """The stand-in in --require-signature mode (`extra`: its key options; `cluster`: the name the
    gateway's configuration gives it, so it refuses requests signed for another cluster)."""
    argv = [STANDIN, "--port", "0", "--chunks", str(chunks), "--delay-ms", str(delay_ms), "--cert",
            os.path.join(certs, "cluster.pem"), "--key", os.path.join(certs, "cluster.key"),
            "--require-signature"] + extra + (["--cluster", cluster] if cluster else [])
    p = Process(argv)
    ready = p.wait_for_json(lambda o: o.get("msg") == "listening")
    assert ready["require_signature"] is True
    p.port = ready["port"]
    return p


class KeyedTest(unittest.TestCase):
    """Dev certificates, a gateway key pair (sign-request keygen) and a request body in a temp dir."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.certs = make_certs(os.path.join(cls.tmp.path, "certs"))
        cls.keys = os.path.join(cls.tmp.path, "keys")
        make_keys(cls.keys)
        cls.body_file = write_body(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()


class SignedRequests(KeyedTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other_keys = os.path.join(cls.tmp.path, "other-keys")
        make_keys(cls.other_keys)
        cls.standin = start_standin(cls.certs, ["--verify-key", os.path.join(cls.keys, "gateway.pub.pem")])

    @classmethod
    def tearDownClass(cls):
        cls.standin.stop()
        super().tearDownClass()

    def sign(self, headers, body=BODY, target=TARGET, key=None, created=None):
        return sign_fields(["--key", key or os.path.join(self.keys, "gateway.key")], headers,
                           self.body_file if body else None, target=target, created=created)

    def send(self, headers, body=BODY, target=TARGET, port=None):
        raw = request_bytes(method="POST" if body else "GET", path=target, body=body, headers=headers)
        return exchange(port or self.standin.port, self.certs, raw)

    def assert_refused(self, response, code):
        self.assertEqual(response.status, 401, response.body)
        error = response.json()["error"]
        self.assertEqual(error["type"], "signature_error")
        self.assertEqual(error["code"], code, error)
        self.assertEqual(response.header("x-standin-cluster"), "standin")  # the stand-in answered, not a proxy
        return error

    def signed_headers(self, **kwargs):
        headers = dict(GEO_TAGS)
        headers.update(self.sign(GEO_TAGS, **kwargs))
        return headers

    def test_correctly_signed_request_is_served(self):
        response = self.send(self.signed_headers())
        self.assertEqual(response.status, 200, response.body)
        self.assertEqual(response.json()["object"], "chat.completion")

    def test_signed_request_without_body_is_served(self):
        tags = {k: v for k, v in GEO_TAGS.items() if k != "Content-Type"}
        headers = dict(tags)
        headers.update(self.sign(tags, body=b"", target="/v1/models"))
        response = self.send(headers, body=b"", target="/v1/models")
        self.assertEqual(response.status, 200, response.body)
        self.assertEqual(response.json()["object"], "list")

    def test_unsigned_request_is_refused(self):
        error = self.assert_refused(self.send(dict(GEO_TAGS)), "missing_signature")
        self.assertIn("missing_signature", error["message"])

    def test_body_changed_after_signing_is_refused(self):
        headers = self.signed_headers()
        self.assert_refused(self.send(headers, body=BODY.replace(b"Bonjour", b"Hallo!!")), "content_digest_mismatch")

    def test_dropped_sovereign_field_is_refused(self):
        headers = self.signed_headers()
        del headers["Sovereign-Client-Country"]
        error = self.assert_refused(self.send(headers), "component_unavailable")
        self.assertEqual(error["detail"], '"sovereign-client-country"')

    def test_added_sovereign_field_is_refused(self):
        headers = self.signed_headers()
        headers["Sovereign-Data-Class"] = "public"
        error = self.assert_refused(self.send(headers), "uncovered_field")
        self.assertEqual(error["detail"], "sovereign-data-class")

    def test_field_that_reads_as_a_sovereign_or_covered_field_is_refused(self):
        # WSGI, CGI and Rack servers read "_" as "-": the application would see these as the
        # geo-tag Sovereign-Client-Country and as the covered Content-Type.
        for name, value in (("Sovereign_Client_Country", "RU"), ("sovereign_data_class", "public"),
                            ("Content_Type", "text/plain")):
            with self.subTest(name):
                headers = self.signed_headers()
                headers[name] = value
                error = self.assert_refused(self.send(headers), "uncovered_field")
                self.assertEqual(error["detail"], name.lower())

    def test_field_not_covered_is_refused_unless_the_operator_allows_it(self):
        # Probe round 42: whatever the cluster reads was signed; a field added after signing (a
        # trailer field too) is refused, naming it.
        for name, value in (("X-HTTP-Method-Override", "DELETE"), ("X_Trace_Id", "abc")):
            with self.subTest(name):
                headers = self.signed_headers()
                headers[name] = value
                error = self.assert_refused(self.send(headers), "uncovered_field")
                self.assertEqual(error["detail"], name.lower())
        headers = self.signed_headers()
        headers["Transfer-Encoding"] = "chunked"
        raw = request_bytes(body=b"", headers=headers)
        raw += b"%x\r\n" % len(BODY) + BODY + b"\r\n0\r\nX-HTTP-Method-Override: DELETE\r\n\r\n"
        error = self.assert_refused(exchange(self.standin.port, self.certs, raw), "uncovered_field")
        self.assertEqual(error["detail"], "x-http-method-override")
        # A balancer of the operator's own between the gateway and the verifier: its field by name.
        lb = start_standin(self.certs, ["--verify-key", os.path.join(self.keys, "gateway.pub.pem"),
                                        "--allow-uncovered", "X-LB-Hop", "--allow-uncovered", "sovereign_tenant"])
        self.addCleanup(lb.stop)
        headers = self.signed_headers()
        headers["X-LB-Hop"] = "lb-1"
        headers["Connection"] = "keep-alive"  # framing: never covered
        self.assertEqual(self.send(headers, port=lb.port).status, 200)
        headers = self.signed_headers()
        headers["Sovereign_Tenant"] = ":AAAA:"  # reads as a geo-tag: allowing it does not make it so
        error = self.assert_refused(self.send(headers, port=lb.port), "uncovered_field")
        self.assertEqual(error["detail"], "sovereign_tenant")

    def test_connection_naming_fields_is_refused(self):
        # Probe round 45: a hop after the verifier removes what Connection names: the geo-tags and
        # Content-Type it had just checked would be gone before the application reads the request.
        headers = self.signed_headers()
        headers["Connection"] = "Sovereign-Cluster, Content-Type, Content-Digest"
        error = self.assert_refused(self.send(headers), "uncovered_field")
        self.assertEqual(error["detail"], "connection: sovereign-cluster")

    def test_changed_sovereign_field_is_refused(self):
        headers = self.signed_headers()
        headers["Sovereign-Client-Country"] = "US;method=geoip-socket"
        self.assert_refused(self.send(headers), "bad_signature")

    def test_old_created_is_refused(self):
        error = self.assert_refused(self.send(self.signed_headers(created=int(time.time()) - 3600)), "too_old")
        self.assertTrue(error["detail"].isdigit())

    def test_created_in_the_future_is_refused(self):
        self.assert_refused(self.send(self.signed_headers(created=int(time.time()) + 3600)), "created_in_future")

    def test_replayed_nonce_is_refused(self):
        headers = self.signed_headers()
        self.assertEqual(self.send(headers).status, 200)
        error = self.assert_refused(self.send(headers), "replayed_nonce")
        self.assertEqual(error["detail"], headers["Signature-Input"].split('nonce="')[1].split('"')[0])

    def test_signature_no_key_could_have_made_is_malformed(self):
        for value in ("sovgw=:AAA:", "sovgw=:A:", "sovgw=:" + "A" * 88 + ":"):
            with self.subTest(value):
                headers = self.signed_headers()
                headers["Signature"] = value
                self.assert_refused(self.send(headers), "malformed_signature")

    def test_two_candidate_signatures_are_ambiguous(self):
        genuine = self.signed_headers()
        other = self.sign(GEO_TAGS)  # another signature of the gateway's, valid on its own
        for field in ("Signature-Input", "Signature"):
            with self.subTest(field):
                raw = request_bytes(body=BODY, headers=genuine).replace(
                    b"\r\n\r\n", f"\r\n{field}: {other[field]}\r\n\r\n".encode(), 1)
                response = exchange(self.standin.port, self.certs, raw)
                self.assertEqual(response.json()["error"]["code"], "ambiguous_signature", response.body)

    def test_request_signed_by_another_key_is_refused(self):
        headers = self.signed_headers(key=os.path.join(self.other_keys, "gateway.key"))
        self.assert_refused(self.send(headers), "unknown_key")

    def test_request_sent_to_another_path_is_refused(self):
        headers = self.signed_headers()
        self.assert_refused(self.send(headers, target="/v1/completions"), "bad_signature")

    def test_required_geo_tag_missing_from_the_signature_is_refused(self):
        tags = {k: v for k, v in GEO_TAGS.items() if k != "Sovereign-Policy-Version"}
        headers = dict(tags)
        headers.update(self.sign(tags))
        error = self.assert_refused(self.send(headers), "missing_required_component")
        self.assertEqual(error["detail"], '"sovereign-policy-version"')


class ClusterIdentity(KeyedTest):
    """A stand-in started with --cluster serves only requests the gateway signed for that cluster:
    a request captured on its way to one cluster is refused by every other."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.paris = start_standin(cls.certs, ["--verify-key", os.path.join(cls.keys, "gateway.pub.pem")],
                                  cluster="paris")

    @classmethod
    def tearDownClass(cls):
        cls.paris.stop()
        super().tearDownClass()

    def send(self, port, sovereign_cluster):
        tags = dict(GEO_TAGS)
        if sovereign_cluster is not None:
            tags["Sovereign-Cluster"] = sovereign_cluster
        headers = dict(tags)
        headers.update(sign_fields(["--key", os.path.join(self.keys, "gateway.key")], tags, self.body_file))
        return exchange(port, self.certs, request_bytes(body=BODY, headers=headers))

    def refusal(self, response):
        self.assertEqual(response.status, 401, response.body)
        return response.json()["error"]

    def test_request_signed_for_this_cluster_is_served(self):
        response = self.send(self.paris.port, '"paris"')
        self.assertEqual(response.status, 200, response.body)

    def test_request_signed_for_another_cluster_is_refused(self):
        error = self.refusal(self.send(self.paris.port, '"berlin"'))
        self.assertEqual((error["code"], error["detail"]), ("wrong_cluster", '"berlin"'))
        self.assertEqual(self.refusal(self.send(self.paris.port, "paris"))["code"], "wrong_cluster")

    def test_request_that_names_no_cluster_is_refused(self):
        error = self.refusal(self.send(self.paris.port, None))
        self.assertEqual((error["code"], error["detail"]), ("missing_required_component", '"sovereign-cluster"'))

    def test_without_cluster_any_cluster_is_accepted_and_the_start_says_so(self):
        anywhere = start_standin(self.certs, ["--verify-key", os.path.join(self.keys, "gateway.pub.pem")])
        self.addCleanup(anywhere.stop)
        self.assertEqual(self.send(anywhere.port, '"berlin"').status, 200)
        self.assertEqual(anywhere.wait_for_json(lambda o: o.get("msg") == "listening")["cluster"], "")
        self.assertEqual(self.paris.wait_for_json(lambda o: o.get("msg") == "listening")["cluster"], "paris")
        anywhere.stop()
        self.assertIn("without --cluster, a request the gateway signed for any other cluster is accepted",
                      anywhere.stderr_text)


class Framing(KeyedTest):
    """The stand-in frames requests as strictly as the gateway does (RFC 9112): the request it
    verifies is the one the application reads, and every refusal is answered, never a silent close."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.standin = start_standin(cls.certs, ["--verify-key", os.path.join(cls.keys, "gateway.pub.pem"),
                                                "--read-timeout-ms", "300"])

    @classmethod
    def tearDownClass(cls):
        cls.standin.stop()
        super().tearDownClass()

    def signed_request(self, extra=(), body=BODY, content_length=True, signed=()):
        """A correctly signed request with `extra` field lines (uncovered) before the body, and the
        fields `signed` covered with the geo-tags."""
        tags = dict(GEO_TAGS)
        tags.update(signed)
        headers = dict(tags)
        headers.update(sign_fields(["--key", os.path.join(self.keys, "gateway.key")], tags, self.body_file))
        lines = ["POST /v1/chat/completions HTTP/1.1", "Host: localhost"] + [f"{k}: {v}" for k, v in headers.items()]
        lines += [f"{k}: {v}" for k, v in extra]
        if content_length:
            lines.append(f"Content-Length: {len(BODY)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def refused(self, raw, status, code):
        response = exchange(self.standin.port, self.certs, raw)
        self.assertEqual(response.status, status, response.body)
        self.assertEqual(response.json()["error"]["code"], code)
        self.assertEqual(response.header("connection"), "close")
        self.assertEqual(response.header("x-standin-cluster"), "standin")

    def test_signed_request_with_a_large_header_section_is_served(self):
        # As large as the gateway forwards: 64 KiB of the client's fields (limits.max_header_bytes).
        # Signed, as the gateway signs every field it forwards.
        padding = [("X-Pad-1", "a" * 40000), ("X-Pad-2", "b" * 25000)]
        response = exchange(self.standin.port, self.certs, self.signed_request(signed=padding))
        self.assertEqual(response.status, 200, response.body)

    def test_header_section_too_large_is_431(self):
        self.refused(self.signed_request([("X-Pad", "a" * 200000)]), 431, "header_too_large")
        # One field line longer than the parser can store is the same answer, and the server lives on.
        self.refused(self.signed_request([("X-Pad", "a" * 70000)]), 431, "header_too_large")
        self.assertEqual(exchange(self.standin.port, self.certs, self.signed_request()).status, 200)

    def test_two_host_fields_are_400(self):
        raw = self.signed_request([("Host", "evil.example")])
        self.refused(raw, 400, "bad_host")
        self.refused(self.signed_request().replace(b"Host: localhost\r\n", b""), 400, "bad_host")  # none

    def test_content_length_and_transfer_encoding_together_are_400(self):
        chunked = b"%x\r\n" % len(BODY) + BODY + b"\r\n0\r\n\r\n"
        raw = self.signed_request([("Transfer-Encoding", "chunked")], body=chunked)
        self.refused(raw, 400, "bad_request")

    def test_transfer_encoding_the_gateway_refuses_is_refused(self):
        # Probe round 50: an HTTP/1.0 chunked request and `identity, chunked` were served.
        chunked = b"%x\r\n" % len(BODY) + BODY + b"\r\n0\r\n\r\n"
        def raw_chunked():  # a new signature (and nonce) each time
            return self.signed_request([("Transfer-Encoding", "chunked")], body=chunked, content_length=False)

        self.assertEqual(exchange(self.standin.port, self.certs, raw_chunked()).status, 200)  # the control
        self.refused(raw_chunked().replace(b" HTTP/1.1\r\n", b" HTTP/1.0\r\n", 1), 400, "bad_request")
        for codings in ("identity, chunked", "chunked, chunked", "gzip, chunked"):
            with self.subTest(codings):
                raw = self.signed_request([("Transfer-Encoding", codings)], body=chunked, content_length=False)
                self.refused(raw, 501, "not_implemented")
        raw = self.signed_request([("Transfer-Encoding", "identity"), ("Transfer-Encoding", "chunked")], body=chunked,
                                  content_length=False)
        self.refused(raw, 501, "not_implemented")

    def test_body_shorter_than_its_content_length_is_408(self):
        raw = self.signed_request([("Content-Length", str(len(BODY) + 100))], content_length=False)
        self.refused(raw, 408, "request_timeout")


class KeyFormats(KeyedTest):
    """The published JWK works like the PEM; hmac-sha256 per cluster; bad keys stop the start."""

    def signed(self, key_args):
        headers = dict(GEO_TAGS)
        headers.update(sign_fields(key_args, GEO_TAGS, self.body_file))
        return headers

    def serve(self, extra):
        standin = start_standin(self.certs, extra)
        self.addCleanup(standin.stop)
        return standin

    def test_jwk_verification_key(self):
        standin = self.serve(["--verify-key", os.path.join(self.keys, "gateway.pub.jwk")])
        headers = self.signed(["--key", os.path.join(self.keys, "gateway.key")])
        response = exchange(standin.port, self.certs, request_bytes(body=BODY, headers=headers))
        self.assertEqual(response.status, 200, response.body)

    def test_jwk_set_verification_key(self):
        # Probe round 42: the set the gateway serves (after a rotation: the same key twice in merged
        # sets) was refused with 'kty must be "OKP"'; each of its keys is used by its kid.
        with open(os.path.join(self.keys, "gateway.pub.jwk")) as f:
            jwk = json.load(f)
        other_keys = os.path.join(self.tmp.path, "set-keys")
        make_keys(other_keys)
        with open(os.path.join(other_keys, "gateway.pub.jwk")) as f:
            other = json.load(f)
        key_set = os.path.join(self.tmp.path, "set.json")
        with open(key_set, "w") as f:
            json.dump({"keys": [other, jwk, jwk]}, f)
        standin = self.serve(["--verify-key", key_set])
        for key in (os.path.join(self.keys, "gateway.key"), os.path.join(other_keys, "gateway.key")):
            headers = self.signed(["--key", key])
            response = exchange(standin.port, self.certs, request_bytes(body=BODY, headers=headers))
            self.assertEqual(response.status, 200, response.body)

    def test_hmac_sha256_key(self):
        standin = self.serve(["--hmac-key", os.path.join(self.keys, "cluster.hmac")])
        headers = self.signed(["--hmac", os.path.join(self.keys, "cluster.hmac")])
        self.assertIn(';alg="hmac-sha256";', headers["Signature-Input"])
        response = exchange(standin.port, self.certs, request_bytes(body=BODY, headers=headers))
        self.assertEqual(response.status, 200, response.body)
        # An Ed25519-signed request is unknown to an hmac-only cluster.
        headers = self.signed(["--key", os.path.join(self.keys, "gateway.key")])
        response = exchange(standin.port, self.certs, request_bytes(body=BODY, headers=headers))
        self.assertEqual(response.status, 401)
        self.assertEqual(response.json()["error"]["code"], "unknown_key")

    def test_an_hmac_secret_made_by_sovgw_keys_hmac_new(self):
        path = os.path.join(self.tmp.path, "paris.hmac")
        made = subprocess.run([SOVGW, "keys", "hmac-new", path], capture_output=True, text=True)
        self.assertEqual(made.returncode, 0, made.stderr)
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        standin = self.serve(["--hmac-key", path])
        headers = self.signed(["--hmac", path])
        response = exchange(standin.port, self.certs, request_bytes(body=BODY, headers=headers))
        self.assertEqual(response.status, 200, response.body)
        # Never over an existing secret.
        again = subprocess.run([SOVGW, "keys", "hmac-new", path], capture_output=True, text=True)
        self.assertEqual(again.returncode, 3, again.stderr)

    def test_bad_keys_stop_the_start(self):
        private_jwk = os.path.join(self.tmp.path, "private.jwk")
        with open(private_jwk, "w") as f:
            f.write('{"kty":"OKP","crv":"Ed25519","x":"JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs",'
                    '"d":"n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU"}')
        lying_jwk = os.path.join(self.tmp.path, "lying.jwk")
        with open(os.path.join(self.keys, "gateway.pub.jwk")) as f, open(lying_jwk, "w") as out:
            json.dump(dict(json.load(f), kid="gw-1"), out)
        cluster_public_key = os.path.join(self.tmp.path, "cluster.pub.pem")
        subprocess.run(["openssl", "x509", "-in", os.path.join(self.certs, "cluster.pem"), "-pubkey", "-noout",
                        "-out", cluster_public_key], check=True)
        cases = [
            (["--require-signature"], "needs at least one --verify-key or --hmac-key"),
            (["--require-signature", "--verify-key", private_jwk], private_jwk + ": this holds a private key"),
            (["--require-signature", "--verify-key", os.path.join(self.certs, "cluster.pem")],
             "the PEM block is not a readable public key"),
            (["--require-signature", "--verify-key", cluster_public_key], "the PEM public key is not an Ed25519 key"),
            (["--require-signature", "--verify-key", os.path.join(self.tmp.path, "missing.pem")], "missing.pem"),
            (["--require-signature", "--hmac-key", os.path.join(self.keys, "gateway.key")], "gateway.key"),
            (["--verify-key", os.path.join(self.keys, "gateway.pub.pem")], "need --require-signature"),
            (["--cluster", "paris"], "need --require-signature"),
            (["--require-signature", "--verify-key", lying_jwk], lying_jwk + ": the JWK's kid 'gw-1' is not the key's "
             "RFC 7638 thumbprint"),
            (["--require-signature", "--verify-key", os.path.join(self.keys, "gateway.pub.pem"), "--cluster",
              "caf\u00e9"], "--cluster 'caf\u00e9': give the name as the gateway sends it in Sovereign-Cluster"),
        ]
        for extra, message in cases:
            with self.subTest(extra=extra):
                argv = [STANDIN, "--port", "0", "--plaintext"] + extra
                done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
                self.assertEqual(done.returncode, 2, done.stdout)
                self.assertIn(message, done.stderr)


@unittest.skipUnless(HAVE_CRYPTOGRAPHY, "python3-cryptography is not installed")
class PythonRecipe(KeyedTest):
    """examples/standin_cluster/verify_request.py, the recipe docs/signatures.md gives operators,
    agrees with the C++ verifier on the same signed and tampered requests."""

    @classmethod
    def setUpClass(cls):
        sys.path.insert(0, os.path.join(SOURCE, "examples", "standin_cluster"))
        import verify_request
        cls.recipe = verify_request
        cls.verify = staticmethod(verify_request.verify)
        super().setUpClass()
        with open(os.path.join(cls.keys, "gateway.pub.jwk")) as f:
            cls.jwk = f.read()

    def signed(self, created=None):
        fields = sign_fields(["--key", os.path.join(self.keys, "gateway.key")], GEO_TAGS, self.body_file,
                             authority="cluster.example:9443", created=created)
        return [("Host", "cluster.example:9443")] + list(GEO_TAGS.items()) + list(fields.items())

    def check(self, headers, body=BODY, method="POST", **kwargs):
        return self.verify(method, "cluster.example:9443", TARGET, headers, body, self.jwk, **kwargs)

    def test_recipe_accepts_and_refuses_like_the_standin(self):
        headers = self.signed()
        self.assertIsNone(self.check(headers))
        self.assertEqual(self.check(headers), "replayed_nonce")  # the process's cache, by default
        self.assertEqual(self.check(headers, body=BODY + b" "), "content_digest_mismatch")
        self.assertEqual(self.check([h for h in headers if h[0] != "Sovereign-Decision"]), "component_unavailable")
        self.assertEqual(self.check(headers + [("Sovereign-Data-Class", "public")]), "uncovered_field")
        self.assertEqual(self.check(headers + [("Sovereign_Client_Country", "RU")]), "uncovered_field")
        self.assertEqual(self.check(headers + [("Content_Digest", "sha-256=:AAAA:")]), "uncovered_field")
        # Probe round 45: a next hop removes what Connection names, after the check.
        self.assertEqual(self.check(headers + [("Connection", "Sovereign-Cluster, Content-Type")]), "uncovered_field")
        self.assertIsNone(self.check(self.signed() + [("Connection", "keep-alive")]))
        changed = [(n, "US" if n == "Sovereign-Client-Country" else v) for n, v in headers]
        self.assertEqual(self.check(changed), "bad_signature")
        self.assertEqual(self.check(self.signed(created=int(time.time()) - 3600)), "too_old")
        self.assertEqual(self.check(list(GEO_TAGS.items())), "missing_signature")

    def test_recipe_reads_the_key_file_sovgw_keys_http_public_writes(self):
        # Probe round 50: the rotation step's file (the JWK, then the PEM) raised JSONDecodeError.
        out = subprocess.run([SOVGW, "keys", "http-public", os.path.join(self.keys, "gateway.key")],
                             capture_output=True, text=True, check=True).stdout
        self.assertIn("-----BEGIN PUBLIC KEY-----", out)
        self.assertIsNone(self.verify("POST", "cluster.example:9443", TARGET, self.signed(), BODY, out))
        for bad, said in (("not json", "the key is not a JWK or a JWK Set"),
                          (self.jwk + "\ntrailing words", "the key file holds more than a JWK")):
            with self.subTest(bad):
                with self.assertRaises(ValueError) as e:
                    self.verify("POST", "cluster.example:9443", TARGET, self.signed(), BODY, bad)
                self.assertIn(said, str(e.exception))

    def test_recipe_answers_bad_input_with_a_reason_not_an_exception(self):
        headers = self.signed()
        for value, reason in (("sovgw=:AAA:", "malformed_signature"), ("sovgw=:A:", "malformed_signature"),
                              ("sovgw=:A=A=:", "malformed_signature"), ("sovgw=:" + "A" * 88 + ":", "malformed_signature")):
            with self.subTest(value):
                changed = [(n, value if n == "Signature" else v) for n, v in headers]
                self.assertEqual(self.check(changed), reason)
        # A covered value with a byte outside ASCII: WSGI hands it over as Latin-1 text, a server may
        # hand over bytes or surrogate escapes. The gateway never signs such a value.
        for odd in ("permit\u00ff", "permit\udcff", b"permit\xff"):
            with self.subTest(odd):
                changed = [(n, odd if n == "Sovereign-Decision" else v) for n, v in headers]
                self.assertEqual(self.check(changed), "component_unavailable")
        as_bytes = [(n.encode(), v.encode()) for n, v in headers]
        self.assertIsNone(self.check(as_bytes))
        # A Content-Digest that is not base64, signed as it is: malformed, as the stand-in says.
        tags = dict(GEO_TAGS, **{"Content-Digest": "sha-256=:A:"})
        fields = sign_fields(["--key", os.path.join(self.keys, "gateway.key")], tags, authority="cluster.example:9443")
        signed = [("Host", "cluster.example:9443")] + list(tags.items()) + list(fields.items())
        self.assertEqual(self.check(signed, method="GET"), "content_digest_malformed")
        # An algorithm given twice, the last one right: malformed, as the stand-in and the gateway
        # say (a Dictionary keeps the last member, a reader taking the first another body's).
        import base64
        import hashlib
        right = base64.b64encode(hashlib.sha256(BODY).digest()).decode()
        other = base64.b64encode(hashlib.sha256(BODY + b" ").digest()).decode()
        tags = dict(GEO_TAGS, **{"Content-Digest": f"sha-256=:{other}:, sha-256=:{right}:"})
        fields = sign_fields(["--key", os.path.join(self.keys, "gateway.key")], tags, authority="cluster.example:9443")
        signed = [("Host", "cluster.example:9443")] + list(tags.items()) + list(fields.items())
        self.assertEqual(self.check(signed, method="GET"), "content_digest_malformed")

    def test_recipe_answers_probe_round_28s_inputs_as_the_standin_does(self):
        # A String where an Integer belongs crashed the recipe (ValueError from int()): a reason now.
        headers = self.signed()
        for param in ("created", "expires"):
            with self.subTest(param):
                changed = [(n, re.sub(param + r"=[0-9]+", param + '="abc"', v) if n == "Signature-Input" else v)
                           for n, v in headers]
                self.assertEqual(self.check(changed), "malformed_signature_input")
        changed = [(n, re.sub(r'nonce="([^"]*)"', "nonce=123", v) if n == "Signature-Input" else v)
                   for n, v in headers]
        self.assertEqual(self.check(changed), "malformed_signature_input")
        # A covered field on two lines verifies as the value signed, but an application reading the
        # first line sees part of it.
        tags = dict(GEO_TAGS, **{"Sovereign-Data-Classes": 'declared=(), detected=("personal")'})
        fields = sign_fields(["--key", os.path.join(self.keys, "gateway.key")], tags, self.body_file,
                             authority="cluster.example:9443")
        split = [("Host", "cluster.example:9443")] + [(n, v) for n, v in tags.items() if n != "Sovereign-Data-Classes"]
        split += [("Sovereign-Data-Classes", "declared=()"), ("Sovereign-Data-Classes", 'detected=("personal")')]
        self.assertEqual(self.check(split + list(fields.items())), "repeated_field")
        # A field read as Content-Type on a request sent without one.
        get_tags = {n: v for n, v in GEO_TAGS.items() if n not in ("Content-Type", "Content-Digest")}
        get_fields = sign_fields(["--key", os.path.join(self.keys, "gateway.key")], get_tags, authority="cluster.example:9443")
        get = [("Host", "cluster.example:9443")] + list(get_tags.items()) + list(get_fields.items())
        self.assertIsNone(self.check(get, body=b"", method="GET"))
        self.assertEqual(self.check(get + [("Content_Type", "text/plain")], body=b"", method="GET"), "uncovered_field")
        # Keys: the published JWK Set works; a private JWK or another key type is refused.
        jwk = json.loads(self.jwk)
        self.assertIsNone(self.verify("POST", "cluster.example:9443", TARGET, self.signed(), BODY,
                                      json.dumps({"keys": [jwk]})))
        for bad, message in ((dict(jwk, d="AAAA"), "holds a private key"),
                             (dict(jwk, kty="EC", crv="P-256"), "not an Ed25519 public key")):
            with self.assertRaisesRegex(ValueError, message):
                self.verify("POST", "cluster.example:9443", TARGET, headers, BODY, json.dumps(bad))
        # hmac-sha256, as the gateway signs for a cluster listed in signing.cluster_hmac_keys.
        hmac_path = os.path.join(self.keys, "cluster.hmac")
        fields = sign_fields(["--hmac", hmac_path], GEO_TAGS, self.body_file, authority="cluster.example:9443")
        signed = [("Host", "cluster.example:9443")] + list(GEO_TAGS.items()) + list(fields.items())
        secret = self.recipe.read_hmac_secret(hmac_path)
        self.assertIsNone(self.verify("POST", "cluster.example:9443", TARGET, signed, BODY, None, hmac_secret=secret))
        self.assertEqual(self.check(signed), "unknown_key")  # the Ed25519 key alone does not know it
        self.assertEqual(self.verify("POST", "cluster.example:9443", TARGET, signed, BODY + b" ", None,
                                     hmac_secret=secret), "content_digest_mismatch")
        self.assertEqual(self.verify("POST", "cluster.example:9443", TARGET, signed, BODY, None,
                                     hmac_secret=secret), "replayed_nonce")

    def test_recipe_refuses_two_candidate_signatures_and_a_lying_kid(self):
        headers = self.signed()
        other = self.signed()
        for field in ("Signature-Input", "Signature"):
            with self.subTest(field):
                added = [(n, v) for n, v in other if n == field]
                self.assertEqual(self.check(headers + added), "ambiguous_signature")
        # Another label with the gateway's tag: the stand-in picks by tag, the recipe by label.
        tagged = [(n, v.replace("sovgw=", "other=")) for n, v in other if n in ("Signature-Input", "Signature")]
        self.assertEqual(self.check(headers + tagged), "ambiguous_signature")
        kid = json.loads(self.jwk)["kid"]
        with self.assertRaisesRegex(ValueError, f"the JWK's kid 'gw-1' is not its RFC 7638 thumbprint '{kid}'"):
            self.verify("POST", "cluster.example:9443", TARGET, headers, BODY,
                        json.dumps(dict(json.loads(self.jwk), kid="gw-1")))

    def test_recipe_is_as_strict_as_the_gateway_writes_the_signature(self):
        headers = self.signed()
        spaced = [(n, v.replace('("@method" "@authority"', '( "@method"  "@authority"') if n == "Signature-Input"
                   else v) for n, v in headers]
        self.assertEqual(self.check(spaced), "malformed_signature_input")
        token = [(n, "sovgw=abc" if n == "Signature" else v) for n, v in headers]
        self.assertEqual(self.check(token), "malformed_signature")

    def test_recipe_replay_cache_is_bounded_in_time_and_size(self):
        cache = self.recipe.NonceCache(window=100, capacity=3)
        self.assertIsNone(cache.check("k", "a", 1000, 1000))
        self.assertEqual(cache.check("k", "a", 1000, 1001), "replayed_nonce")
        self.assertIsNone(cache.check("other-key", "a", 1000, 1001))  # scoped by keyid
        self.assertIsNone(cache.check("k", "b", 1001, 1001))
        # Full: the oldest (created 1000) is forgotten and becomes the floor.
        self.assertIsNone(cache.check("k", "c", 1002, 1002))
        self.assertEqual(len(cache._created), 3)
        self.assertEqual(cache.check("k", "a", 1000, 1002), "nonce_unverifiable")  # could be a replay
        self.assertEqual(cache.check("k", "b", 1001, 1002), "replayed_nonce")
        self.assertEqual(cache.check("k", "e", 1002 - 101, 1002), "nonce_unverifiable")  # older than the window
        self.assertIsNone(cache.check("k", "f", 1200, 1200))  # time passes: the window is emptied
        self.assertEqual(len(cache._created), 1)
        # A cache given to verify() is the one used: a request it accepted is a replay to it only.
        headers = self.signed()
        mine, theirs = self.recipe.NonceCache(), self.recipe.NonceCache()
        self.assertIsNone(self.check(headers, nonces=mine))
        self.assertEqual(self.check(headers, nonces=mine), "replayed_nonce")
        self.assertIsNone(self.check(headers, nonces=theirs))  # "once" is once per cache

    def test_recipe_refuses_a_request_signed_for_another_cluster(self):
        def signed_for(name):
            tags = dict(GEO_TAGS, **({"Sovereign-Cluster": name} if name is not None else {}))
            fields = sign_fields(["--key", os.path.join(self.keys, "gateway.key")], tags, self.body_file,
                                 authority="cluster.example:9443")
            return [("Host", "cluster.example:9443")] + list(tags.items()) + list(fields.items())

        self.assertIsNone(self.check(signed_for('"paris"'), cluster="paris"))
        self.assertEqual(self.check(signed_for('"berlin"'), cluster="paris"), "wrong_cluster")
        self.assertEqual(self.check(signed_for("paris"), cluster="paris"), "wrong_cluster")
        self.assertEqual(self.check(signed_for('"pa\\"ris"'), cluster='pa"ris'), None)
        self.assertEqual(self.check(signed_for(None), cluster="paris"), "missing_required_component")
        self.assertIsNone(self.check(signed_for('"berlin"')))  # not told its name: any cluster


if __name__ == "__main__":
    unittest.main()
