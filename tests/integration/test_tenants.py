"""Tenants: a bearer API key or a client certificate names the tenant; wrong keys are 401 from the
gateway, audited; the cluster never sees the client's key; the client certificate's identity is
read strictly (a NUL, a BMPString or a second CN cannot make one tenant look like another)."""

import datetime
import hashlib
import contextlib
import json
import os
import re
import signal
import subprocess
import time
import unittest

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from support import (SOVGW, Gateway, Reader, TempDir, admin_get, chat_request, cluster_yaml, gateway_yaml,
                     make_certs, metric, request_bytes, start_standin, tls_connect, wait_until)


def make_client_cert(certs, path, attributes, sans=()):
    """A client certificate signed by the dev CA, with exactly the subject attributes given (raw
    values and ASN.1 string types: NULs, BMPStrings and repeated CNs are possible)."""
    with open(os.path.join(certs, "ca.pem"), "rb") as f:
        ca = x509.load_pem_x509_certificate(f.read())
    with open(os.path.join(certs, "ca.key"), "rb") as f:
        ca_key = serialization.load_pem_private_key(f.read(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name(attributes))
               .issuer_name(ca.subject)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    with open(path + ".pem", "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(path + ".key", "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return path + ".pem", path + ".key"


def cn(value, kind=None):
    return x509.NameAttribute(NameOID.COMMON_NAME, value, _type=kind) if kind else \
        x509.NameAttribute(NameOID.COMMON_NAME, value)


def sovgw(*args):
    return subprocess.run([SOVGW, *args], capture_output=True, text=True, timeout=60)


def send(port, certs, raw, cert=None):
    with tls_connect(port, certs, cert=cert[0] if cert else None, key=cert[1] if cert else None) as s:
        s.sendall(raw)
        return Reader(s).read_response()


def access_line(gateway, resp):
    rid = resp.header("x-request-id")
    return gateway.wait_for_json(lambda o: o.get("msg") == "request" and o.get("request_id") == rid)


class ClientCertificateIdentityTest(unittest.TestCase):
    """Without a tenants file the tenant is the certificate's CN, read strictly."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.certs = make_certs(os.path.join(cls.tmp.path, "certs"))
        cls.standin = start_standin(cls.certs)
        cls.gateway = Gateway(gateway_yaml(cls.certs, cluster_yaml("paris", f"127.0.0.1:{cls.standin.port}", cls.certs),
                                           tls_extra=f"  client_ca: {os.path.join(cls.certs, 'ca.pem')}\n"),
                              cls.tmp.path)

    @classmethod
    def tearDownClass(cls):
        cls.gateway.stop()
        cls.standin.stop()
        cls.tmp.cleanup()

    def cert(self, name, attributes, sans=()):
        return make_client_cert(self.certs, os.path.join(self.tmp.path, name), attributes, sans)

    def assert_refused(self, cert):
        resp = send(self.gateway.port, self.certs, chat_request(), cert)
        self.assertEqual(resp.status, 401)
        self.assertEqual(resp.json()["error"]["code"], "invalid_client_certificate")  # the gateway's own answer
        log = access_line(self.gateway, resp)
        self.assertEqual(log["tenant"], "default")
        self.assertEqual(log["cluster"], "")
        return resp

    def test_a_nul_in_the_cn_does_not_truncate_it_into_another_tenant(self):
        self.assert_refused(self.cert("nul", [cn("acme\x00x")]))

    def test_a_cn_with_characters_a_reader_cannot_see_is_refused(self):
        # Probe round 29: a line separator, a C1 control, a bidi override or a zero-width space in
        # a CN became a tenant name that broke the access log into lines or looked like another.
        for n, value in enumerate(("a\u2028FAKE", "b\u0085FAKE", "c\u009b31mred", "acme\u202egnp.exe",
                                   "ac\u200bme", "a\nINJECTED", "\x1b[31mred")):
            with self.subTest(value=value):
                self.assert_refused(self.cert(f"hidden{n}", [cn(value)]))

    def test_a_cn_that_shows_as_another_tenant_is_refused(self):
        # Probe round 38: spaces around it, a no-break or wide space, a blank braille pattern, a
        # Hangul filler, a combining mark or a fullwidth letter made a tenant that logs, metrics and
        # the report show as "acme" (or as nothing), escaping the rules written for acme.
        for n, value in enumerate((" acme", "acme ", "acme\u00a0", "\u2800", "\u3164", "ac\u2003me",
                                   "acme\u0301", "\uff41cme", "\u0131acme")):
            with self.subTest(value=value):
                resp = self.assert_refused(self.cert(f"shown{n}", [cn(value)]))
                self.assertRegex(resp.json()["error"]["message"], "space|U\\+")
        # Nor may a certificate name the tenant of callers nobody identified.
        resp = self.assert_refused(self.cert("default", [cn("default")]))
        self.assertIn("nobody identified", resp.json()["error"]["message"])
        # In any case (probe round 39): Default is as hard to tell from default in a report.
        for value in ("Default", "DEFAULT"):
            resp = self.assert_refused(self.cert(f"default-{value}", [cn(value)]))
            self.assertIn("nobody identified", resp.json()["error"]["message"])

    def test_a_second_cn_is_refused(self):
        self.assert_refused(self.cert("two", [cn("acme"), cn("globex")]))

    def test_a_nul_in_a_san_is_refused(self):
        self.assert_refused(self.cert("san", [cn("acme")], [x509.DNSName("acme.example\x00.evil")]))

    def test_a_bmpstring_cn_is_read_as_text(self):
        resp = send(self.gateway.port, self.certs, chat_request(), self.cert("bmp", [cn("acme", _ASN1Type.BMPString)]))
        self.assertEqual(resp.status, 200)
        self.assertEqual(access_line(self.gateway, resp)["tenant"], "acme")

    def test_a_late_answer_a_cluster_sends_never_reaches_another_tenant(self):
        # Probe round 48: a cluster that answers, then (100 ms later) sends a response nobody asked
        # for. The check before a pooled connection's reuse sees such bytes only once they have
        # arrived: another tenant's request sent on it in between got them as its answer. Pooled
        # connections are kept to the tenant they served: beta's requests, sent at once on every
        # worker, get their own answers.
        alpha = self.cert("late-alpha", [cn("alpha")])
        beta = self.cert("late-beta", [cn("beta")])
        betas = [tls_connect(self.gateway.port, self.certs, cert=beta[0], key=beta[1]) for _ in range(4)]
        try:
            first = send(self.gateway.port, self.certs,
                         chat_request(extra_headers={"x-standin-fault": "late-extra-response"}), alpha)
            self.assertEqual((first.status, first.json()), (200, {"fault": "late-extra-response"}))
            for s in betas:
                s.sendall(chat_request())
            for s in betas:
                resp = Reader(s).read_response()
                self.assertEqual(resp.status, 200, resp.body)
                self.assertNotIn(b"smuggled", resp.body)
                self.assertEqual(resp.json()["object"], "chat.completion")
        finally:
            for s in betas:
                s.close()
        # Alpha's own next request: the late bytes are on its idle connection by now, which is not
        # reused (the check before reuse).
        time.sleep(0.3)
        resp = send(self.gateway.port, self.certs, chat_request(), alpha)
        self.assertEqual(resp.status, 200, resp.body)
        self.assertNotIn(b"smuggled", resp.body)

    def test_a_plain_cn_is_the_tenant(self):
        resp = send(self.gateway.port, self.certs, chat_request(), self.cert("plain", [cn("acme-é")]))
        self.assertEqual(resp.status, 200)
        self.assertEqual(access_line(self.gateway, resp)["tenant"], "acme-é")


TENANTS = """# who may call
tenants:
  - name: acme
    certificates:
      - cn: acme-app
  - name: globex
    certificates:
      - dns: app.globex.example
"""


class TenantKeysTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()
        self.addCleanup(self.tmp.cleanup)
        self.certs = make_certs(os.path.join(self.tmp.path, "certs"))
        self.tenants = os.path.join(self.tmp.path, "tenants.yaml")
        with open(self.tenants, "w") as f:
            f.write(TENANTS)
        self.standin = start_standin(self.certs)
        self.addCleanup(self.standin.stop)
        self.keys = os.path.join(self.tmp.path, "keys")
        self.db = os.path.join(self.tmp.path, "db")
        self.assertEqual(sovgw("keys", "init", self.keys).returncode, 0)
        self.acme_key = self.create_key("acme")
        self.gateway = Gateway(
            gateway_yaml(self.certs, cluster_yaml("paris", f"127.0.0.1:{self.standin.port}", self.certs),
                         tls_extra=f"  client_ca: {os.path.join(self.certs, 'ca.pem')}\n",
                         extra=f"tenants: {self.tenants}\naudit:\n  db: {self.db}\n  keys: {self.keys}\n"),
            self.tmp.path)
        self.addCleanup(self.gateway.stop)

    def create_key(self, tenant, *extra):
        r = sovgw("tenants", "key", "create", tenant, "--file", self.tenants, *extra)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.strip()

    def call(self, key=None, raw=None, cert=None):
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return send(self.gateway.port, self.certs, raw or chat_request(extra_headers=headers), cert)

    def reload(self, expect="tenants reloaded"):
        before = len([o for o in self.gateway.logs() if o.get("msg") == expect])
        self.gateway.signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: len([o for o in self.gateway.logs() if o.get("msg") == expect]) > before))

    def assert_invalid_key(self, resp):
        self.assertEqual(resp.status, 401)
        err = resp.json()["error"]
        self.assertEqual((err["type"], err["code"]), ("invalid_request_error", "invalid_api_key"))
        log = access_line(self.gateway, resp)
        self.assertEqual(log["error"], "invalid_api_key")
        self.assertEqual(log["cluster"], "")
        return log

    def test_a_request_cut_mid_body_is_recorded_with_its_tenant(self):
        # Probe round 28: a valid key's request whose body never came whole was recorded as tenant
        # `default` (which means no key identified it) with no key id.
        body = b'{"model": "mistral-small", "messages": []}'
        raw = request_bytes("POST", "/v1/chat/completions", body,
                            {"Content-Type": "application/json", "Authorization": f"Bearer {self.acme_key}"})
        with tls_connect(self.gateway.port, self.certs) as s:
            s.sendall(raw[:-10])  # the head and most of the body
        line = self.gateway.wait_for_json(lambda o: o.get("msg") == "request" and o.get("error") == "client_disconnected")
        self.assertEqual((line["tenant"], line["key_id"]), ("acme", self.acme_key[:17]))

    def test_a_body_over_the_limit_is_recorded_with_its_tenant_and_a_bad_key_is_refused_first(self):
        # Probe round 45: a Content-Length over limits.max_body_bytes was refused before the key was
        # read, so a tenant's 413 was recorded as `default` (a chunked one was attributed), and the
        # 413 did not say the limit.
        big = 11 * 1024 * 1024  # the default limit is 10 MiB
        for key, status in ((self.acme_key, 413), (None, 401), ("sk-sovgw-" + "Zq3" * 14 + "Z", 401)):
            headers = {"Content-Type": "application/json", "Content-Length": str(big)}
            if key:
                headers["Authorization"] = f"Bearer {key}"
            with self.subTest(key=key), tls_connect(self.gateway.port, self.certs) as s:
                s.sendall(request_bytes(headers=headers) + b"x" * 1024)
                resp = Reader(s).read_response()
                self.assertEqual(resp.status, status, resp.body)
                log = access_line(self.gateway, resp)
                if status == 413:
                    self.assertEqual(resp.json()["error"]["code"], "request_too_large")
                    self.assertIn(f"at most {10 * 1024 * 1024} bytes (limits.max_body_bytes)",
                                  resp.json()["error"]["message"])
                    self.assertEqual((log["tenant"], log["key_id"]), ("acme", self.acme_key[:17]))
                else:
                    self.assertEqual(resp.json()["error"]["code"], "invalid_api_key")
                self.assertLess(log["request_bytes"], big // 10)

    def test_a_request_refused_by_its_head_has_its_body_neither_invited_nor_read(self):
        # Probe round 37: no key, a wrong or a revoked key still got `100 Continue` and had its whole
        # body (up to limits.max_body_bytes) read and buffered before the 401: any client could make
        # the gateway hold ~16 MB per connection.
        big = 8 * 1024 * 1024
        for key in (None, "sk-sovgw-" + "Zq3" * 14 + "Z"):
            headers = {"Content-Type": "application/json", "Content-Length": str(big), "Expect": "100-continue"}
            if key:
                headers["Authorization"] = f"Bearer {key}"
            with self.subTest(key=key), tls_connect(self.gateway.port, self.certs) as s:
                s.sendall(request_bytes(headers=headers))
                reader = Reader(s)
                head = reader.read_until(b"\r\n\r\n").decode("latin-1")
                self.assertTrue(head.startswith("HTTP/1.1 401 "), head)  # no 100 Continue before it
                self.assertIn("connection: close", head.lower())
                length = re.search(r"(?i)\r\ncontent-length: *(\d+)", head)
                self.assertIn("invalid_api_key", reader.read_exact(int(length.group(1))).decode())
                self.assertTrue(reader.closed_by_peer(timeout=10))
            # Without Expect, a body already on its way is not read either: the answer comes
            # before the client has sent a tenth of it, and the connection closes.
            del headers["Expect"]
            with self.subTest(key=key, expect=False), tls_connect(self.gateway.port, self.certs) as s:
                s.sendall(request_bytes(headers=headers) + b"x" * 65536)
                resp = Reader(s).read_response()
                self.assertEqual(resp.status, 401, resp.body)
                self.assertEqual(resp.json()["error"]["code"], "invalid_api_key")
                log = access_line(self.gateway, resp)
                self.assertEqual(log["error"], "invalid_api_key")
                self.assertLess(log["request_bytes"], big // 10)
        # A small body of a refused request is read and the connection kept (an SDK's pool).
        with tls_connect(self.gateway.port, self.certs) as s:
            reader = Reader(s)
            s.sendall(chat_request())
            self.assertEqual(reader.read_response().status, 401)
            s.sendall(chat_request(extra_headers={"Authorization": f"Bearer {self.acme_key}"}))
            self.assertEqual(reader.read_response().status, 200)

    def test_a_key_names_its_tenant_and_never_reaches_the_cluster(self):
        resp = self.call(self.acme_key)
        self.assertEqual(resp.status, 200)
        log = access_line(self.gateway, resp)
        self.assertEqual(log["tenant"], "acme")
        self.assertEqual(log["key_id"], self.acme_key[:17])
        self.assertNotIn(self.acme_key, "".join(self.gateway.lines))
        with open(self.tenants) as f:
            self.assertNotIn(self.acme_key, f.read())  # only the hash is stored
        seen = self.call(raw=request_bytes("POST", "/debug/headers", b"{}", {
            "Content-Type": "application/json", "Authorization": f"Bearer {self.acme_key}"}))
        self.assertEqual(seen.status, 200)
        self.assertNotIn("authorization", seen.json()["headers"])
        # As the Anthropic SDK (X-Api-Key) and the Azure OpenAI SDK (Api-Key) send it; with the
        # bearer field too when both name the same key.
        for headers in ({"X-Api-Key": self.acme_key}, {"api-key": self.acme_key},
                        {"X-Api-Key": self.acme_key, "Authorization": f"Bearer {self.acme_key}"}):
            with self.subTest(headers=list(headers)):
                seen = self.call(raw=request_bytes("POST", "/debug/headers", b"{}",
                                                   {"Content-Type": "application/json", **headers}))
                self.assertEqual(seen.status, 200, seen.body)
                self.assertEqual(access_line(self.gateway, seen)["tenant"], "acme")
                self.assertFalse({"x-api-key", "api-key", "authorization"} & set(seen.json()["headers"]))
        # Two fields naming two keys: which one was checked would be a guess.
        globex = self.create_key("globex")
        self.reload()
        self.assert_invalid_key(self.call(raw=chat_request(extra_headers={
            "Authorization": f"Bearer {self.acme_key}", "X-Api-Key": globex})))
        # An empty one beside a key is refused whichever comes first (probe round 26: empty first
        # was passed over).
        for fields in ((("X-Api-Key", ""), ("Authorization", f"Bearer {self.acme_key}")),
                       (("Authorization", f"Bearer {self.acme_key}"), ("X-Api-Key", ""))):
            with self.subTest(fields=fields):
                raw = chat_request().replace(b"\r\n\r\n", b"".join(
                    b"\r\n" + n.encode() + b": " + v.encode() for n, v in fields) + b"\r\n\r\n", 1)
                self.assert_invalid_key(self.call(raw=raw))
        # The refusal says what was wrong (probe round 26: a Basic credential was told to send the
        # key "once").
        for extra, why in (({"Authorization": "Basic YWxpY2U6c2VjcmV0"},
                            "its Authorization field uses the scheme 'Basic', not 'Bearer <API key>'"),
                           ({"Authorization": f"Token {self.acme_key}"}, "uses the scheme 'Token'"),
                           ({"Authorization": f"Bearer {self.acme_key}", "X-Api-Key": globex},
                            "do not all name the same key")):
            with self.subTest(extra=list(extra)):
                resp = self.call(raw=chat_request(extra_headers=extra))
                self.assert_invalid_key(resp)
                self.assertIn(why, resp.json()["error"]["message"])

    def test_an_idempotency_key_is_scoped_to_its_tenant(self):
        # Probe round 37: every tenant reaches a cluster with the gateway's one credential, so a
        # cluster deduplicating by Idempotency-Key (OpenAI scopes it per API key) would hand one
        # tenant the answer to another's request with the same key.
        globex_key = self.create_key("globex")
        self.reload()

        def seen(key, idem):
            resp = self.call(raw=request_bytes("POST", "/debug/headers", b"{}", {
                "Content-Type": "application/json", "Authorization": f"Bearer {key}", "Idempotency-Key": idem}))
            self.assertEqual(resp.status, 200, resp.body)
            return resp.json()["headers"]["idempotency-key"]

        acme, globex = seen(self.acme_key, "shared-123"), seen(globex_key, "shared-123")
        self.assertNotEqual(acme, globex)
        self.assertTrue(acme.endswith(".shared-123") and globex.endswith(".shared-123"), (acme, globex))
        self.assertNotIn("acme", acme)  # the cluster is not told the tenant's name
        # One tenant's retries keep one key (the point of it), under another of its keys too.
        second = self.create_key("acme")
        self.reload()
        self.assertEqual(seen(second, "shared-123"), acme)
        self.assertNotEqual(seen(self.acme_key, "other"), acme)

    def test_an_idempotency_key_is_scoped_whole_or_refused(self):
        # Probe round 42: the draft's sf-string ("abc") was forwarded as <scope>."abc", no longer a
        # string; a list's second member reached the cluster unscoped; an empty key became a key all
        # the tenant's requests shared.
        def send_key(*values):
            head = "".join(f"Idempotency-Key: {v}\r\n" for v in values)
            raw = (f"POST /debug/headers HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                   f"Authorization: Bearer {self.acme_key}\r\n{head}Content-Length: 2\r\n\r\n{{}}").encode()
            return self.call(raw=raw)

        bare = send_key("8e03978e-40d5")
        self.assertEqual(bare.status, 200, bare.body)
        scope = bare.json()["headers"]["idempotency-key"][:-len(".8e03978e-40d5")]
        self.assertRegex(scope, r"^[0-9a-f]{16}$")
        quoted = send_key('"8e03978e-40d5"')
        self.assertEqual(quoted.status, 200, quoted.body)
        self.assertEqual(quoted.json()["headers"]["idempotency-key"], f'"{scope}.8e03978e-40d5"')
        for values, why in ((("",), "it is empty"), (('""',), "it is empty"),
                            (("abc, def",), "more than one key"), (('"abc", "def"',), "more than one key"),
                            (("abc", "def"), "more than one key"),
                            (('"abc";p=1',), "neither a string"), (('"abc',), "neither a string")):
            with self.subTest(values=values):
                resp = send_key(*values)
                self.assertEqual(resp.status, 400, resp.body)
                err = resp.json()["error"]
                self.assertEqual((err["type"], err["code"]), ("invalid_request_error", "invalid_idempotency_key"))
                self.assertIn(why, err["message"])
                log = access_line(self.gateway, resp)
                self.assertEqual((log["error"], log["tenant"], log["cluster"]), ("invalid_idempotency_key", "acme", ""))

    def test_a_key_where_it_would_reach_the_cluster_is_refused(self):
        # In the query or a field the gateway forwards the key would reach the cluster as sent:
        # refused, whoever's it is.
        for path, extra in (("/debug/headers?api-key=" + self.acme_key, {}),
                            ("/debug/headers", {"User-Agent": self.acme_key}),
                            ("/debug/headers", {"Referer": "old key sk-sovgw-abcdefgh"}),
                            ("/debug/headers", {"Idempotency-Key": "k " + self.acme_key}),
                            # Percent-encoded or in another case, as a server decodes a query.
                            ("/debug/headers?k=sk%2Dsovgw%2D" + self.acme_key[9:], {}),
                            ("/debug/headers?k=%73k-sovgw-" + self.acme_key[9:], {}),
                            ("/debug/headers?k=SK-SOVGW-" + self.acme_key[9:], {}),
                            # And in a header field or the body, in any case or encoding a reader decodes.
                            ("/debug/headers", {"Baggage": "SK-SOVGW-" + self.acme_key[9:]}),
                            ("/debug/headers", {"Tracestate": "sk%2Dsovgw%2D" + self.acme_key[9:]}),
                            ("/debug/headers", {"body": '{"user":"' + self.acme_key + '"}'}),
                            ("/debug/headers", {"body": '{"user":"sk\\u002dsovgw\\u002d' + self.acme_key[9:] + '"}'})):
            with self.subTest(path=path, extra=extra):
                body = extra.pop("body", "{}").encode()
                resp = self.call(raw=request_bytes("POST", path, body, {
                    "Content-Type": "application/json", "Authorization": f"Bearer {self.acme_key}", **extra}))
                self.assertEqual(resp.status, 400, resp.body)
                self.assertIn("send it only as 'Authorization: Bearer", resp.json()["error"]["message"])
                self.assertNotIn(self.acme_key, resp.body.decode())
        # Text that only looks like the scheme is no key: a word ending in it, a question about it.
        for body in ('{"note":"ask-sovgw-team channel"}', '{"note":"what does sk-sovgw- mean?"}'):
            seen = self.call(raw=request_bytes("POST", "/debug/headers", body.encode(), {
                "Content-Type": "application/json", "Authorization": f"Bearer {self.acme_key}"}))
            self.assertEqual(seen.status, 200, seen.body)
        # Fields the gateway never forwards may carry it (Azure-style SDKs send api-key too; a field
        # on no list is dropped).
        seen = self.call(raw=request_bytes("POST", "/debug/headers", b"{}", {
            "Content-Type": "application/json", "Authorization": f"Bearer {self.acme_key}", "api-key": self.acme_key,
            "X-Note": self.acme_key}))
        self.assertEqual(seen.status, 200, seen.body)
        self.assertNotIn(self.acme_key, seen.body.decode())

    def test_a_bad_forwarded_for_is_recorded_with_the_tenant_its_key_names(self):
        # Probe round 38: a tenant's requests with a malformed X-Forwarded-For were recorded as
        # tenant `default`, among the callers nobody identified.
        behind = Gateway(
            gateway_yaml(self.certs, cluster_yaml("paris", f"127.0.0.1:{self.standin.port}", self.certs),
                         extra=f"tenants: {self.tenants}\ntrusted_proxies: [127.0.0.0/8]\n"), self.tmp.path)
        self.addCleanup(behind.stop)
        resp = send(behind.port, self.certs, chat_request(extra_headers={
            "Authorization": f"Bearer {self.acme_key}", "X-Forwarded-For": "unknown"}))
        self.assertEqual(resp.status, 400, resp.body)
        self.assertIn("holds 'unknown' where the client's address should be", resp.json()["error"]["message"])
        log = access_line(behind, resp)
        self.assertEqual((log["error"], log["tenant"], log["key_id"]), ("bad_forwarded_for", "acme", self.acme_key[:17]))

    def test_a_refused_key_is_recorded_with_the_client_behind_a_trusted_proxy(self):
        # Not with the proxy's address: failed attempts must be traceable to whoever made them.
        behind = Gateway(
            gateway_yaml(self.certs, cluster_yaml("paris", f"127.0.0.1:{self.standin.port}", self.certs),
                         extra=f"tenants: {self.tenants}\ntrusted_proxies: [127.0.0.0/8]\n"), self.tmp.path)
        self.addCleanup(behind.stop)
        resp = send(behind.port, self.certs, chat_request(extra_headers={
            "Authorization": "Bearer sk-sovgw-" + "Zq3" * 14 + "Z", "X-Forwarded-For": "192.0.2.44"}))
        self.assertEqual(resp.status, 401, resp.body)
        self.assertEqual(access_line(behind, resp)["client_ip"], "192.0.2.44")

    def test_wrong_missing_revoked_and_expired_keys_are_401_and_audited(self):
        other = self.acme_key[:-1] + ("A" if self.acme_key[-1] != "A" else "B")
        self.assert_invalid_key(self.call(other))
        # A well-formed key the file does not know is traced by its id like any other.
        stranger = "sk-sovgw-" + "Zq3" * 14 + "Z"
        self.assertEqual(self.assert_invalid_key(self.call(stranger))["key_id"], stranger[:17])
        self.assert_invalid_key(self.call("not-a-key"))
        self.assert_invalid_key(self.call())
        self.assert_invalid_key(self.call(raw=chat_request(extra_headers={"Authorization": f"Basic {self.acme_key}"})))
        expired = self.create_key("acme", "--expires", "1m")
        r = sovgw("tenants", "key", "revoke", self.acme_key[:17], "--file", self.tenants)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.call(self.acme_key).status, 200)  # not yet loaded
        self.reload()
        log = self.assert_invalid_key(self.call(self.acme_key))
        self.assertEqual(log["key_id"], self.acme_key[:17])
        self.assertIn("revoked", self.call(self.acme_key).json()["error"]["message"])
        self.assertEqual(self.call(expired).status, 200)
        # The 401s are on the audit log like any request.
        self.gateway.signal(signal.SIGTERM)
        self.gateway.proc.wait(timeout=20)
        q = sovgw("audit", "query", "--db", self.db, "--format", "jsonl")
        self.assertEqual(q.returncode, 0, q.stderr)
        self.assertGreaterEqual(q.stdout.count('"invalid_api_key"'), 6)
        # Each record names the key presented (its id, never the key): a revoked key's uses can be traced.
        rows = [json.loads(line) for line in q.stdout.splitlines()]
        revoked = [r for r in rows if r["key_id"] == self.acme_key[:17]]
        # `other` is the key with its last character changed: the same id, refused; then the key's
        # uses before and after it was revoked.
        self.assertEqual([r["status"] for r in revoked], [401, 200, 401, 401])
        self.assertNotIn(self.acme_key, q.stdout)
        proof = os.path.join(self.tmp.path, "revoked.proof")
        with open(proof, "w") as f:
            r = subprocess.run([SOVGW, "audit", "prove", "--db", self.db, "--request-id", revoked[-1]["request_id"]],
                               stdout=f, stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        shown = sovgw("audit", "verify-proof", proof, "--pubkey", os.path.join(self.keys, "signing.pub"))
        self.assertIn(f"tenant default (API key {self.acme_key[:17]}...)", shown.stdout)

    def test_a_key_whose_entry_names_another_id_is_refused_and_its_line_logged(self):
        # Probe round 39: an entry whose id: is another key's (a copy-paste) served its key under
        # that id: access line, metrics, audit and the shared store's counts. Refused instead, the
        # access line says the presented key's own id, and a warning names the entry's line.
        with open(self.tenants) as f:
            text = f.read()
        with open(self.tenants, "w") as f:
            f.write(text.replace(f"id: {self.acme_key[:17]},", "id: sk-sovgw-Wrong1d0,"))
        line = text[:text.index(self.acme_key[:17])].count("\n") + 1
        self.reload()
        for _ in range(2):  # every time, not only the first
            log = self.assert_invalid_key(self.call(self.acme_key))
            self.assertEqual(log["key_id"], self.acme_key[:17])
            self.assertEqual(log["tenant"], "default")
        self.assertIn("its entry in the tenants file names another id", self.call(self.acme_key).json()["error"]["message"])
        warning = self.gateway.wait_for_json(lambda o: o.get("msg", "").startswith("an API key's entry in the tenants file"))
        self.assertEqual((warning["entry_id"], warning["key_id"]), ("sk-sovgw-Wrong1d0", self.acme_key[:17]))
        self.assertEqual(warning["at"], f"{self.tenants}:{line}")

    def test_one_connection_many_requests_each_key_checked(self):
        # An SDK keeps its connections, and a front proxy may pool several clients' requests on one:
        # every request is identified by the key it carries, and a revocation reaches open connections.
        globex_key = self.create_key("globex")
        self.reload()
        keys = [self.acme_key, globex_key, self.acme_key, self.acme_key, self.acme_key[:-1] + "!", None,
                globex_key, self.acme_key[:-1] + ("A" if self.acme_key[-1] != "A" else "B"), self.acme_key]
        expected = [(200, "acme"), (200, "globex"), (200, "acme"), (200, "acme"), (401, "default"),
                    (401, "default"), (200, "globex"), (401, "default"), (200, "acme")]
        with tls_connect(self.gateway.port, self.certs) as s:
            reader = Reader(s)
            for key, want in zip(keys, expected):
                headers = {"Authorization": f"Bearer {key}"} if key else {}
                s.sendall(chat_request(extra_headers=headers))
                resp = reader.read_response()
                self.assertEqual((resp.status, access_line(self.gateway, resp)["tenant"]), want, key)
            # The last key's entry removed from the file: globex's key takes its place in the table.
            with open(self.tenants) as f:
                lines = f.readlines()
            with open(self.tenants, "w") as f:
                f.writelines(line for line in lines if self.acme_key[:17] not in line)
            self.reload()
            s.sendall(chat_request(extra_headers={"Authorization": f"Bearer {self.acme_key}"}))
            resp = reader.read_response()
            self.assertEqual(resp.status, 401, resp.body)
            self.assertEqual(resp.json()["error"]["message"], "incorrect API key provided")
            # A key revoked while its connection is open.
            s.sendall(chat_request(extra_headers={"Authorization": f"Bearer {globex_key}"}))
            self.assertEqual(reader.read_response().status, 200)
            r = sovgw("tenants", "key", "revoke", globex_key[:17], "--file", self.tenants)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.reload()
            s.sendall(chat_request(extra_headers={"Authorization": f"Bearer {globex_key}"}))
            resp = reader.read_response()
            self.assertEqual(resp.status, 401, resp.body)
            self.assertIn("revoked", resp.json()["error"]["message"])

    def test_client_certificate_subjects_map_to_tenants(self):
        acme = make_client_cert(self.certs, os.path.join(self.tmp.path, "acme"), [cn("acme-app")])
        globex = make_client_cert(self.certs, os.path.join(self.tmp.path, "globex"), [cn("someone")],
                                  [x509.DNSName("app.globex.example")])
        stranger = make_client_cert(self.certs, os.path.join(self.tmp.path, "stranger"), [cn("acme")])
        both = make_client_cert(self.certs, os.path.join(self.tmp.path, "both"), [cn("acme-app")],
                                [x509.DNSName("app.globex.example")])
        resp = self.call(cert=acme)
        self.assertEqual(resp.status, 200)
        self.assertEqual(access_line(self.gateway, resp)["tenant"], "acme")
        resp = self.call(cert=globex)
        self.assertEqual(access_line(self.gateway, resp)["tenant"], "globex")
        self.assert_invalid_key(self.call(cert=stranger))  # a CN the tenants file does not name
        ambiguous = self.call(cert=both)
        self.assertEqual((ambiguous.status, ambiguous.json()["error"]["code"]), (401, "invalid_client_certificate"))
        # A key and a certificate must name the same tenant.
        self.assertEqual(self.call(self.acme_key, cert=acme).status, 200)
        self.assert_invalid_key(self.call(self.acme_key, cert=globex))

    def test_a_broken_tenants_file_keeps_the_last_good_one(self):
        with open(self.tenants, "a") as f:
            f.write("  - {tenant: nobody, id: sk-sovgw-abcdefgh, hash: x}\n")
        self.reload("tenants reload failed; keeping the current tenants")
        failed = [o for o in self.gateway.logs() if o.get("msg", "").startswith("tenants reload failed")][-1]
        self.assertIn(f"{self.tenants}:", failed["errors"])
        self.assertEqual(metric(self.gateway, "sovgw_tenants_reload_failures_total"), 1)
        self.assertEqual(self.call(self.acme_key).status, 200)

    def test_a_broken_tenants_file_still_removes_the_certificates_it_removes(self):
        # Probe round 42: a leaked client certificate removed from its tenant (or moved to another)
        # and an unrelated typo: SIGHUP kept the old table and the certificate still identified acme.
        acme = make_client_cert(self.certs, os.path.join(self.tmp.path, "acme"), [cn("acme-app")])
        globex = make_client_cert(self.certs, os.path.join(self.tmp.path, "globex"), [cn("someone")],
                                  [x509.DNSName("app.globex.example")])
        self.assertEqual(access_line(self.gateway, self.call(cert=acme))["tenant"], "acme")
        with open(self.tenants) as f:
            text = f.read()
        broken = text.replace("      - cn: acme-app\n", "      - cn: other-app\n", 1).replace(
            "  - name: globex\n", "  - name: globex\n    bogus_key: 1\n", 1)
        with open(self.tenants, "w") as f:
            f.write(broken)
        self.reload("tenants reload failed; keeping the current tenants")
        failed = [o for o in self.gateway.logs() if o.get("msg", "").startswith("tenants reload failed")][-1]
        self.assertIn("bogus_key", failed["errors"])
        self.assertEqual((failed["certificates_removed_anyway"], failed["certificates_read"]), (1, "yes"))
        self.assert_invalid_key(self.call(cert=acme))
        self.assertEqual(self.call(self.acme_key).status, 200)  # nothing else changed
        self.assertEqual(access_line(self.gateway, self.call(cert=globex))["tenant"], "globex")
        self.assert_invalid_key(self.call(cert=make_client_cert(  # and nothing is granted
            self.certs, os.path.join(self.tmp.path, "other"), [cn("other-app")])))
        # Moved to another tenant: taken from the first, not given to the second until a file loads.
        with open(self.tenants, "w") as f:
            f.write(text)
        self.reload()
        self.assertEqual(access_line(self.gateway, self.call(cert=acme))["tenant"], "acme")
        moved = text.replace("      - cn: acme-app\n", "      - cn: other-app\n", 1).replace(
            "      - dns: app.globex.example\n", "      - dns: app.globex.example\n      - cn: acme-app\n", 1)
        with open(self.tenants, "w") as f:
            f.write(moved + "bogus: 1\n")
        self.reload("tenants reload failed; keeping the current tenants")
        failed = [o for o in self.gateway.logs() if o.get("msg", "").startswith("tenants reload failed")][-1]
        self.assertEqual(failed["certificates_removed_anyway"], 1)
        self.assert_invalid_key(self.call(cert=acme))

    def test_a_key_moved_in_a_broken_tenants_file_acts_for_neither_tenant(self):
        # Probe round 44: a key moved to another tenant in a file with an unrelated error kept
        # serving as its old tenant (its rules, limits and audit data key), unlike a certificate.
        moving = self.create_key("acme")
        self.reload()
        self.assertEqual(access_line(self.gateway, self.call(moving))["tenant"], "acme")
        with open(self.tenants) as f:
            lines = f.read().splitlines(keepends=True)
        moved = [line.replace("tenant: acme", "tenant: globex") if moving[:17] in line else line for line in lines]
        self.assertNotEqual(moved, lines)
        with open(self.tenants, "w") as f:
            f.write("".join(moved) + "bogus: 1\n")
        self.reload("tenants reload failed; keeping the current tenants")
        failed = [o for o in self.gateway.logs() if o.get("msg", "").startswith("tenants reload failed")][-1]
        self.assertEqual(failed["keys_revoked_anyway"], 1)
        self.assert_invalid_key(self.call(moving))
        self.assertEqual(self.call(self.acme_key).status, 200)  # nothing else changed
        # A file that loads places it under its new tenant.
        with open(self.tenants, "w") as f:
            f.write("".join(moved))
        self.reload()
        self.assertEqual(access_line(self.gateway, self.call(moving))["tenant"], "globex")

    def test_a_broken_tenants_file_still_revokes_what_it_revokes(self):
        # Probe round 20: a key revoked, then another line of the file broken (a tenant declared
        # twice, the file left group-writable): SIGHUP kept the old table and the leaked key worked.
        spare, other = self.create_key("acme"), self.create_key("acme")
        self.reload()
        self.assertEqual(self.call(spare).status, 200)
        self.assertEqual(sovgw("tenants", "key", "revoke", spare[:17], "--file", self.tenants).returncode, 0)
        with open(self.tenants) as f:
            text = f.read()
        with open(self.tenants, "w") as f:
            f.write(text.replace("tenants:\n", "tenants:\n  - name: acme\n", 1))
        self.reload("tenants reload failed; keeping the current tenants")
        failed = [o for o in self.gateway.logs() if o.get("msg", "").startswith("tenants reload failed")][-1]
        self.assert_invalid_key(self.call(spare))
        self.assertIn("declared twice", failed["errors"])
        self.assertEqual((failed["keys_revoked_anyway"], failed["keys_read"]), (1, "yes"))
        self.assertEqual(self.call(self.acme_key).status, 200)  # nothing else changed
        # A file refused for who may change it revokes all the same (it only takes access away).
        with open(self.tenants, "w") as f:
            f.write(text)
        self.assertEqual(sovgw("tenants", "key", "revoke", other[:17], "--file", self.tenants).returncode, 0)
        os.chmod(self.tenants, 0o664)
        self.reload("tenants reload failed; keeping the current tenants")
        failed = [o for o in self.gateway.logs() if o.get("msg", "").startswith("tenants reload failed")][-1]
        self.assertIn("chmod go-w", failed["errors"])
        self.assertEqual(failed["keys_revoked_anyway"], 1)
        self.assert_invalid_key(self.call(other))
        # A revocation whose time does not read is a revocation; a typo in another key's hash or id
        # does not revoke that key (probe round 21: the first left the key usable, the second revoked
        # a key nobody meant to).
        os.chmod(self.tenants, 0o644)
        third, fourth = self.create_key("acme"), self.create_key("acme")
        self.reload()
        with open(self.tenants) as f:
            lines = f.read().splitlines(keepends=True)
        for i, line in enumerate(lines):
            if third[:17] in line:
                lines[i] = line.replace("}", ", revoked: yes}")
            elif self.acme_key[:17] in line:
                lines[i] = line.replace("hash: \"blake2b-256:", "hash: \"blake2b-265:")
            elif fourth[:17] in line:
                lines[i] = line.replace(fourth[:17], fourth[:16] + ("Z" if fourth[16] != "Z" else "Y"))
        with open(self.tenants, "w") as f:
            f.write("".join(lines))
        self.reload("tenants reload failed; keeping the current tenants")
        self.assert_invalid_key(self.call(third))
        self.assertEqual(self.call(self.acme_key).status, 200)
        self.assertEqual(self.call(fourth).status, 200)
        with open(self.tenants, "w") as f:
            f.write(text)
        # Not YAML at all: nothing can be read, and the log says no revocation in it is in force.
        os.chmod(self.tenants, 0o644)
        with open(self.tenants, "w") as f:
            f.write("tenants: [\n")
        self.reload("tenants reload failed; keeping the current tenants")
        failed = [o for o in self.gateway.logs() if o.get("msg", "").startswith("tenants reload failed")][-1]
        self.assertTrue(failed["keys_read"].startswith("no:"), failed)
        self.assertEqual(self.call(self.acme_key).status, 200)

    def test_a_revocation_is_in_force_before_the_policy_is_proved_and_a_new_tenant_waits_for_it(self):
        # Probe round 22: a new tenants file went live only after the policy file had been compiled
        # and its invariants proved again (8-9 s for the example policy on this machine), though the
        # policy had not changed: a revoked key kept working all that time. What a file takes away is
        # in force at once; an unchanged policy file is not proved again.
        policy = os.path.join(self.tmp.path, "policy.yaml")
        rules = ("version: 1\nrules:\n  - id: permit-all\n    effect: permit\n    reason: Everyone.\n"
                 "  - id: forbid-globex\n    effect: forbid\n    when:\n      tenant: [globex]\n"
                 "    reason: This tenant is suspended.\n")
        with open(policy, "w") as f:
            f.write(rules)
        spare = self.create_key("acme")
        g = Gateway(gateway_yaml(self.certs, cluster_yaml("paris", f"127.0.0.1:{self.standin.port}", self.certs),
                                 extra=f"tenants: {self.tenants}\npolicy: {policy}\n"), self.tmp.path)
        self.addCleanup(g.stop)

        def call(key):
            return send(g.port, self.certs, chat_request(extra_headers={"Authorization": f"Bearer {key}"}))

        def sighup(until):
            before = len(g.logs())
            g.signal(signal.SIGHUP)
            self.assertTrue(wait_until(lambda: any(o.get("msg") == until for o in g.logs()[before:])))
            return [o for o in g.logs()[before:] if o.get("msg") in (
                "keys revoked at once", "policy reload started", "tenants reloaded", "policy reloaded",
                "tenants reload failed; keeping the current tenants",
                "policy reload: checking the policy file against the tenants in force",
                "policy reload failed; keeping the current policy")]

        self.assertEqual(call(spare).status, 200)
        self.assertEqual(sovgw("tenants", "key", "revoke", spare[:17], "--file", self.tenants).returncode, 0)
        fresh = self.create_key("acme")
        logged = sighup("policy reloaded")
        self.assertEqual([o["msg"] for o in logged], ["keys revoked at once", "policy reload started",
                                                      "tenants reloaded", "policy reloaded"])
        self.assertTrue(logged[-1]["unchanged"], logged[-1])  # the policy file did not change: not proved again
        self.assertEqual(call(spare).status, 401)
        self.assertEqual(call(fresh).status, 200)
        # Probe round 24: a tenant added together with the rule that confines it was served under the
        # old policy, unconfined, while the new one was proved, and for good when it had an error. A
        # tenants file goes live only with the policy file as it now is.
        with open(self.tenants) as f:
            text = f.read()
        with open(self.tenants, "w") as f:
            f.write(text.replace("tenants:\n", "tenants:\n  - name: newco\n", 1))
        newco = self.create_key("newco")
        with open(policy, "w") as f:
            f.write(rules.replace("tenant: [globex]", "tenant: [globex, newco]") + "  - id: broken\n")
        logged = sighup("policy reload failed; keeping the current policy")
        # One start, then the second check against the tenants that stay, said as such (probe round
        # 25: "policy reload started" twice for one SIGHUP).
        self.assertEqual([o["msg"] for o in logged],
                         ["policy reload started", "tenants reload failed; keeping the current tenants",
                          "policy reload: checking the policy file against the tenants in force",
                          "policy reload failed; keeping the current policy"])
        (failed,) = [o for o in logged if o["msg"].startswith("tenants reload failed")]
        self.assertIn("the policy file changed and does not load, and the new tenants file adds tenant newco",
                      failed["errors"])
        self.assertEqual(call(newco).status, 401)  # not served under the old policy
        self.assertEqual(call(fresh).status, 200)
        # Monitoring sees both files kept out and which policy is in force (probe round 35: only
        # failure counters, which a fixed file does not bring back down).
        live_version = [o for o in logged if o["msg"].startswith("policy reload failed")][-1]["version"]
        self.assertNotIn("\n", failed["errors"][-1:])
        self.assertEqual((metric(g, "sovgw_policy_file_in_force"), metric(g, "sovgw_tenants_file_in_force")), (0, 0))
        info = [line for line in admin_get(g, "/metrics").body.decode().splitlines()
                if line.startswith("sovgw_policy_info{")]
        self.assertEqual(info, [f'sovgw_policy_info{{version="{live_version}"}} 1'])
        reloads = (metric(g, "sovgw_policy_reloads_total"), metric(g, "sovgw_tenants_reloads_total"))
        with open(policy, "w") as f:
            f.write(rules.replace("tenant: [globex]", "tenant: [globex, newco]"))
        sighup("policy reloaded")  # after "tenants reloaded"
        self.assertEqual((metric(g, "sovgw_policy_file_in_force"), metric(g, "sovgw_tenants_file_in_force")), (1, 1))
        self.assertEqual((metric(g, "sovgw_policy_reloads_total"), metric(g, "sovgw_tenants_reloads_total")),
                         (reloads[0] + 1, reloads[1] + 1))
        resp = call(newco)
        self.assertEqual(resp.status, 403, resp.body)
        self.assertIn("forbid-globex", resp.json()["error"]["message"])

    def test_a_tenants_file_the_policy_does_not_hold_with_is_not_loaded(self):
        # Probe round 18: a tenant renamed in the tenants file but not in the policy went live on
        # SIGHUP (the policy reload failed and kept the old policy, which then named nobody), so the
        # renamed tenant escaped the rule written for it. `serve` refuses that pair; SIGHUP must too.
        policy = os.path.join(self.tmp.path, "policy.yaml")
        rules = """version: 1
rules:
  - id: permit-all
    effect: permit
    reason: Everyone else.
  - id: forbid-{t}
    effect: forbid
    when:
      tenant: [{t}]
    reason: This tenant is suspended.
"""
        with open(policy, "w") as f:
            f.write(rules.format(t="acme"))
        spare = self.create_key("globex")
        g = Gateway(gateway_yaml(self.certs, cluster_yaml("paris", f"127.0.0.1:{self.standin.port}", self.certs),
                                 extra=f"tenants: {self.tenants}\npolicy: {policy}\n"), self.tmp.path)
        self.addCleanup(g.stop)
        self.assertEqual(send(g.port, self.certs, chat_request(extra_headers={
            "Authorization": f"Bearer {self.acme_key}"})).status, 403)

        def sighup(expect):
            before = len([o for o in g.logs() if o.get("msg") == expect])
            g.signal(signal.SIGHUP)
            self.assertTrue(wait_until(lambda: len([o for o in g.logs() if o.get("msg") == expect]) > before))
            return [o for o in g.logs() if o.get("msg") == expect][-1]

        with open(self.tenants) as f:
            renamed = f.read().replace("name: acme\n", "name: acme-corp\n").replace("tenant: acme,", "tenant: acme-corp,")
        with open(self.tenants, "w") as f:
            f.write(renamed)
        failed = sighup("tenants reload failed; keeping the current tenants")
        self.assertIn("names tenant 'acme'", failed["errors"])
        # Its keys moved to acme-corp in a file that does not load: they act for neither tenant
        # (probe round 44: a moved key went on acting as its old tenant), as its certificates.
        self.assertEqual(failed["keys_revoked_anyway"], 1)
        resp = send(g.port, self.certs, chat_request(extra_headers={"Authorization": f"Bearer {self.acme_key}"}))
        self.assertEqual(resp.status, 401, resp.body)
        # What the refused file takes away applies all the same: a key it revokes is revoked.
        r = sovgw("tenants", "key", "revoke", spare[:17], "--file", self.tenants)
        self.assertEqual(r.returncode, 0, r.stderr)
        failed = sighup("tenants reload failed; keeping the current tenants")
        self.assertEqual(failed["keys_revoked_anyway"], 1)
        self.assertEqual(send(g.port, self.certs, chat_request(extra_headers={
            "Authorization": f"Bearer {spare}"})).status, 401)
        # Renamed in both: the pair goes live.
        with open(policy, "w") as f:
            f.write(rules.format(t="acme-corp"))
        sighup("tenants reloaded")
        resp = send(g.port, self.certs, chat_request(extra_headers={"Authorization": f"Bearer {self.acme_key}"}))
        self.assertEqual(resp.status, 403, resp.body)
        self.assertIn("forbid-acme-corp", resp.json()["error"]["message"])

    def test_a_broken_tenants_file_refuses_the_start(self):
        broken = os.path.join(self.tmp.path, "broken.yaml")
        with open(broken, "w") as f:
            f.write(TENANTS + "    colour: red\n")
        config = os.path.join(self.tmp.path, "bad.yaml")
        with open(config, "w") as f:
            f.write(gateway_yaml(self.certs, cluster_yaml("paris", "127.0.0.1:1", self.certs),
                                 extra=f"tenants: {broken}\n"))
        for command in (["serve", "--config", config], ["config", "check", config]):
            r = subprocess.run([SOVGW, *command], capture_output=True, text=True, timeout=30)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(f"{broken}:9:5: error: unknown key 'colour' in a tenant", r.stderr)


if __name__ == "__main__":
    unittest.main()


class ClusterCredentialsTest(unittest.TestCase):
    """Each cluster gets the gateway's credential for it, from a permission-checked file re-read on
    SIGHUP; whatever the client sent in its place never reaches the cluster."""

    def setUp(self):
        self.tmp = TempDir()
        self.addCleanup(self.tmp.cleanup)
        self.certs = make_certs(os.path.join(self.tmp.path, "certs"))
        self.standin = start_standin(self.certs)
        self.addCleanup(self.standin.stop)
        self.bearer = self.secret("bearer.txt", "cluster-secret-1\n")
        self.token = self.secret("token.txt", "token-A")
        endpoint = f"127.0.0.1:{self.standin.port}"
        self.clusters = (cluster_yaml("bearer", endpoint, self.certs,
                                      extra=f"    auth: {{bearer_file: {self.bearer}}}").replace('["*"]', '["a-*"]') +
                         cluster_yaml("header", endpoint, self.certs,
                                      extra=f"    auth: {{header: X-Cluster-Token, file: {self.token}}}"))

    def secret(self, name, text, mode=0o600):
        path = os.path.join(self.tmp.path, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def start(self):
        g = Gateway(gateway_yaml(self.certs, self.clusters), self.tmp.path)
        self.addCleanup(g.stop)
        return g

    def seen(self, g, model, headers, digests=False):
        body = ('{"model":"%s"}' % model).encode()
        resp = send(g.port, self.certs, request_bytes("POST", "/debug/headers", body,
                                                      {"Content-Type": "application/json", **headers}))
        self.assertEqual(resp.status, 200)
        return (resp.json()["headers"], resp.json()["header_sha256"]) if digests else resp.json()["headers"]

    def test_the_cluster_gets_the_gateways_credential_never_the_clients(self):
        g = self.start()
        h, digests = self.seen(g, "a-1", {"Authorization": "Bearer sk-client-key", "X-Cluster-Token": "forged"},
                               digests=True)
        self.assertEqual(digests["authorization"], hashlib.sha256(b"Bearer cluster-secret-1").hexdigest())
        # The cluster echoed it: the client gets it masked (probe round 46), the answer's length kept.
        self.assertEqual(h["authorization"], "Bearer " + "*" * len("cluster-secret-1"))
        self.assertNotIn("x-cluster-token", h)  # a client's token-like field never passes, whatever its name
        h = self.seen(g, "b-1", {"Authorization": "Bearer sk-client-key", "X-Cluster-Token": "forged"})
        self.assertEqual(h["x-cluster-token"], "token-A")
        self.assertNotIn("authorization", h)
        # Re-read on SIGHUP; a file others can read is refused and the current credential stays.
        self.secret("token.txt", "token-B\n")
        g.signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: self.seen(g, "b-1", {})["x-cluster-token"] == "token-B"))
        self.secret("token.txt", "token-C\n", 0o644)
        g.signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: metric(g, "sovgw_cluster_credential_reload_failures_total") == 1))
        self.assertEqual(self.seen(g, "b-1", {})["x-cluster-token"], "token-B")
        failed = g.wait_for_json(lambda o: o.get("msg", "").startswith("cluster credentials reload failed"))
        self.assertIn(f"{self.token}: the credential file is accessible by group or others", failed["errors"])
        self.assertNotIn("token-C", "".join(g.lines))
        # Probe round 40: a rotation that went live said nothing and no gauge told a failed one from a
        # fixed one; a credential file named through a symbolic link was refused as "Too many levels
        # of symbolic links" (a loop that was not there).
        self.assertEqual(metric(g, "sovgw_cluster_credentials_in_force"), 0)
        target = os.path.join(self.tmp.path, "token-D.txt")
        with open(target, "w") as f:
            f.write("token-D\n")
        os.chmod(target, 0o600)
        os.remove(self.token)
        os.symlink(target, self.token)
        g.signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: self.seen(g, "b-1", {})["x-cluster-token"] == "token-D"))
        self.assertTrue(wait_until(lambda: metric(g, "sovgw_cluster_credentials_in_force") == 1))
        g.wait_for_json(lambda o: o.get("msg") == "cluster credentials reloaded")

    def test_bad_credential_files_and_auth_sections_refuse_the_start(self):
        os.chmod(self.bearer, 0o640)
        config = os.path.join(self.tmp.path, "gw.yaml")
        with open(config, "w") as f:
            f.write(gateway_yaml(self.certs, self.clusters))
        for command in (["serve", "--config", config], ["config", "check", config]):
            r = subprocess.run([SOVGW, *command], capture_output=True, text=True, timeout=30)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(f"cluster 'bearer': {self.bearer}: the credential file is accessible by group or others "
                          f"(mode 0640); run `chmod 600", r.stderr)
        with open(config, "w") as f:
            f.write(gateway_yaml(self.certs, cluster_yaml("x", "127.0.0.1:1", self.certs,
                                                          extra="    auth: {bearer_file: a, header: X-A}")))
        r = subprocess.run([SOVGW, "config", "check", config], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"gw\.yaml:\d+:11: auth takes either bearer_file, or header and file")
        with open(config, "w") as f:
            f.write(gateway_yaml(self.certs, cluster_yaml("x", "127.0.0.1:1", self.certs,
                                                          extra="    auth: {header: Host, file: a}")))
        r = subprocess.run([SOVGW, "config", "check", config], capture_output=True, text=True, timeout=30)
        self.assertIn("auth.header 'Host' is not a field name the gateway may set", r.stderr)
        # A bearer token with a space (probe round 38: taken, though the docs say visible ASCII).
        self.secret("bearer.txt", "tok two\n")
        os.chmod(self.bearer, 0o600)
        with open(config, "w") as f:
            f.write(gateway_yaml(self.certs, self.clusters))
        r = subprocess.run([SOVGW, "config", "check", config], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(f"{self.bearer}: a bearer token holds no space", r.stderr)


MODELS_POLICY = """version: 1
rules:
  - id: acme-mistral
    effect: permit
    when:
      tenant: [acme]
      model: ["mistral-*"]
    reason: acme uses Mistral models
  - id: globex-all
    effect: permit
    when:
      tenant: [globex]
    reason: globex may use every model
  - id: globex-in-france
    effect: restrict
    when:
      tenant: [globex]
    route:
      cluster.country: [FR]
    reason: globex's requests stay in France
"""


class ModelsTest(unittest.TestCase):
    """GET /v1/models is the gateway's answer: what the policy lets this tenant use, and where."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.certs = make_certs(os.path.join(cls.tmp.path, "certs"))
        cls.standin = start_standin(cls.certs)
        cls.tenants = os.path.join(cls.tmp.path, "tenants.yaml")
        with open(cls.tenants, "w") as f:
            f.write(TENANTS)
        cls.keys = {}
        for tenant in ("acme", "globex"):
            r = sovgw("tenants", "key", "create", tenant, "--file", cls.tenants)
            cls.keys[tenant] = r.stdout.strip()
        policy = os.path.join(cls.tmp.path, "policy.yaml")
        with open(policy, "w") as f:
            f.write(MODELS_POLICY)
        endpoint = f"127.0.0.1:{cls.standin.port}"
        paris = cluster_yaml("paris", endpoint, cls.certs).replace('["*"]', '["mistral-small", "llama-3"]')
        berlin = cluster_yaml("berlin", endpoint, cls.certs).replace("country: FR", "country: DE").replace(
            '["*"]', '["mistral-small", "mistral-large", "gpt-*"]')
        cls.gateway = Gateway(gateway_yaml(cls.certs, paris + berlin,
                                           extra=f"tenants: {cls.tenants}\npolicy: {policy}\n"), cls.tmp.path)

    @classmethod
    def tearDownClass(cls):
        cls.gateway.stop()
        cls.standin.stop()
        cls.tmp.cleanup()

    def get(self, tenant, path):
        resp = send(self.gateway.port, self.certs,
                    request_bytes("GET", path, headers={"Authorization": f"Bearer {self.keys[tenant]}"}))
        log = access_line(self.gateway, resp)
        self.assertEqual(log["cluster"], "")  # answered by the gateway, never forwarded
        self.assertEqual(log["tenant"], tenant)
        return resp

    def test_each_tenant_sees_what_the_policy_permits_it_and_where(self):
        acme = self.get("acme", "/v1/models")
        self.assertEqual(acme.status, 200)
        body = acme.json()
        self.assertEqual(body["object"], "list")
        self.assertEqual([(m["id"], m["countries"]) for m in body["data"]],
                         [("mistral-large", ["DE"]), ("mistral-small", ["DE", "FR"])])
        self.assertEqual(body["data"][0]["object"], "model")
        globex = self.get("globex", "/v1/models").json()
        self.assertEqual([(m["id"], m["countries"]) for m in globex["data"]],
                         [("llama-3", ["FR"]), ("mistral-small", ["FR"])])

    def test_one_model(self):
        one = self.get("acme", "/v1/models/mistral-large")
        self.assertEqual(one.status, 200)
        self.assertEqual(one.json(), {"id": "mistral-large", "object": "model", "created": 0, "owned_by": "sovgw",
                                      "countries": ["DE"]})
        # A trailing slash is the same model, as a router folding it reads it.
        self.assertEqual(self.get("acme", "/v1/models/mistral-large/").json()["id"], "mistral-large")
        # A model a cluster serves that the policy keeps from the tenant is denied, as a request for
        # it would be (the record a denial, not a model that does not exist).
        denied = self.get("acme", "/v1/models/llama-3")
        self.assertEqual((denied.status, denied.json()["error"]["code"]), (403, "policy_denied"))
        # A glob of a cluster matches an id the list cannot name; the policy still decides.
        self.assertEqual(self.get("acme", "/v1/models/gpt-4o").status, 403)
        self.assertEqual(self.get("globex", "/v1/models/gpt-4o").status, 403)  # only in Germany
        missing = self.get("acme", "/v1/models/no-such-model")
        self.assertEqual((missing.status, missing.json()["error"]["code"]), (404, "model_not_found"))

    def test_no_key_no_models(self):
        resp = send(self.gateway.port, self.certs, request_bytes("GET", "/v1/models"))
        self.assertEqual(resp.status, 401)

    def test_a_body_on_the_model_list_is_refused_as_on_any_get(self):
        # Probe round 38: GET and HEAD /v1/models with a body were answered 200, though a body on
        # GET or HEAD is 400 everywhere else (docs/http.md).
        for method in ("GET", "HEAD"):
            with self.subTest(method=method):
                raw = request_bytes(method, "/v1/models", b'{"model":"x"}',
                                    {"Authorization": f"Bearer {self.keys['acme']}"})
                with tls_connect(self.gateway.port, self.certs) as s:
                    s.sendall(raw)
                    resp = Reader(s).read_response(head_only=method == "HEAD")
                self.assertEqual(resp.status, 400)
                self.assertEqual(access_line(self.gateway, resp)["error"], "invalid_body")


class UsageTest(unittest.TestCase):
    """Tokens from JSON answers and streams reach the access line, the audit record and the metrics;
    a stream whose client did not ask for usage is counted all the same, and looks as it asked."""

    def setUp(self):
        cls = self
        cls.tmp = TempDir()
        cls.certs = make_certs(os.path.join(cls.tmp.path, "certs"))
        cls.standin = start_standin(cls.certs, chunks=5, delay_ms=5)
        cls.tenants = os.path.join(cls.tmp.path, "tenants.yaml")
        with open(cls.tenants, "w") as f:
            f.write(TENANTS)
        cls.key = sovgw("tenants", "key", "create", "acme", "--file", cls.tenants).stdout.strip()
        cls.keys = os.path.join(cls.tmp.path, "keys")
        cls.db = os.path.join(cls.tmp.path, "db")
        sovgw("keys", "init", cls.keys)
        cls.gateway = Gateway(gateway_yaml(cls.certs, cluster_yaml("paris", f"127.0.0.1:{cls.standin.port}", cls.certs),
                                           extra=f"tenants: {cls.tenants}\naudit:\n  db: {cls.db}\n  keys: {cls.keys}\n"),
                              cls.tmp.path)

    def tearDown(self):
        self.gateway.stop()
        self.standin.stop()
        self.tmp.cleanup()

    def call(self, path, body, extra_headers=None):
        raw = request_bytes("POST", path, json.dumps(body).encode(),
                            {"Content-Type": "application/json", "Authorization": f"Bearer {self.key}",
                             **(extra_headers or {})})
        resp = send(self.gateway.port, self.certs, raw)
        self.assertEqual(resp.status, 200)
        return resp, access_line(self.gateway, resp)

    @staticmethod
    def events(resp):
        return [e[6:] for e in resp.body.decode().split("\n\n") if e.startswith("data: ")]

    def test_json_answers(self):
        resp, log = self.call("/v1/chat/completions", {"model": "m", "messages": []})
        self.assertEqual(resp.json()["usage"]["completion_tokens"], 5)
        self.assertEqual((log["prompt_tokens"], log["completion_tokens"]), (12, 5))
        _, log = self.call("/v1/embeddings", {"model": "e", "input": "x"})
        self.assertEqual((log["prompt_tokens"], log["completion_tokens"]), (4, 0))

    def test_a_stream_without_include_usage_is_counted_and_unchanged(self):
        resp, log = self.call("/v1/chat/completions", {"model": "m", "stream": True, "messages": []})
        events = self.events(resp)
        self.assertEqual(len(events), 6)  # 5 chunks and [DONE]: no usage event, as the client asked
        self.assertFalse(any('"usage"' in e for e in events))
        self.assertEqual((log["prompt_tokens"], log["completion_tokens"]), (12, 5))

    def test_a_stream_sent_with_a_content_length_is_unchanged_too(self):
        # Probe round 17: a cluster that sends the whole stream with a Content-Length had its
        # usage-only event (the gateway's) passed to a client that did not ask for it, or asked for
        # false. The client now gets the stream re-framed (chunked), without that event.
        for options in ({}, {"stream_options": {"include_usage": False}}):
            with self.subTest(options):
                resp, log = self.call("/v1/chat/completions", {"model": "m", "stream": True, "messages": [],
                                                               **options}, {"x-standin-stream-length": "1"})
                events = self.events(resp)
                self.assertEqual(len(events), 6, events)
                self.assertFalse(any('"usage"' in e for e in events))
                self.assertEqual(resp.header("transfer-encoding"), "chunked")
                self.assertIsNone(resp.header("content-length"))
                self.assertEqual((log["prompt_tokens"], log["completion_tokens"]), (12, 5))
        # Asked for, it is the client's, and the stream keeps its length.
        resp, log = self.call("/v1/chat/completions", {"model": "m", "stream": True, "messages": [],
                                                       "stream_options": {"include_usage": True}},
                              {"x-standin-stream-length": "1"})
        self.assertEqual(len(self.events(resp)), 7)
        self.assertIsNotNone(resp.header("content-length"))

    def test_a_stream_with_include_usage_keeps_its_usage_event(self):
        resp, log = self.call("/v1/chat/completions", {"model": "m", "stream": True, "messages": [],
                                                       "stream_options": {"include_usage": True}})
        events = self.events(resp)
        self.assertEqual(len(events), 7)
        self.assertEqual(json.loads(events[-2])["usage"]["completion_tokens"], 5)
        self.assertEqual((log["prompt_tokens"], log["completion_tokens"]), (12, 5))

    def test_the_responses_api_usage_is_read_json_and_streamed(self):
        # The Responses API reports input_tokens/output_tokens (in response.completed when
        # streamed, with no [DONE]): read as the cluster reported them, not estimated.
        resp, log = self.call("/v1/responses", {"model": "m", "input": "hello"})
        self.assertEqual(resp.json()["usage"]["output_tokens"], 5)
        self.assertEqual((log["prompt_tokens"], log["completion_tokens"]), (12, 5))
        self.assertFalse(log.get("usage_estimated", False))
        resp, log = self.call("/v1/responses", {"model": "m", "input": "hello", "stream": True})
        events = [line[6:] for e in resp.body.decode().split("\n\n") for line in e.split("\n")
                  if line.startswith("data: ")]
        # created, in_progress, output_item.added, content_part.added, 5 deltas, output_text.done,
        # content_part.done, output_item.done, completed: unchanged
        self.assertEqual(len(events), 13)
        self.assertEqual(json.loads(events[-1])["type"], "response.completed")
        self.assertNotIn("stream_options", resp.body.decode())
        self.assertEqual((log["prompt_tokens"], log["completion_tokens"]), (12, 5))
        self.assertFalse(log.get("usage_estimated", False))

    def test_an_answer_without_usage_is_estimated_whatever_the_path_case(self):
        # A JSON answer that reports no usage (the stand-in echoes the request): a generating
        # endpoint is charged its answer's bytes, however the client cased the path (a
        # case-insensitive router serves /V1/Chat/Completions too); an embedding's is not text.
        body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hello there"}]}).encode()
        # Whatever the answer's media type: Ollama streams NDJSON, a server may answer text or
        # name no type at all; none of them is free.
        for path, generates, answer_type in (("/v1/chat/completions", True, None),
                                             ("/V1/Chat/Completions", True, None),
                                             ("/v1/embeddings", False, None),
                                             ("/api/chat", True, "application/x-ndjson"),
                                             ("/v1/chat/completions", True, "text/plain"),
                                             ("/v1/chat/completions", True, ""),
                                             # Generating endpoints the gateway has no name for
                                             # are text too (probe round 44: charged 0 under /v1/).
                                             ("/v1/complete", True, None),
                                             ("/v1/models/m:predict", True, None),
                                             ("/v1/summarize", True, "text/plain"),
                                             ("/v1/moderations", False, None),
                                             ("/v1/vector_stores", False, None)):
            with self.subTest(path=path, answer_type=answer_type):
                fields = {"Content-Type": "application/json", "Authorization": f"Bearer {self.key}",
                          "x-standin-echo-body": "1"}
                if answer_type is not None:
                    fields["x-standin-content-type"] = answer_type
                raw = request_bytes("POST", path, body, fields)
                resp = send(self.gateway.port, self.certs, raw)
                self.assertEqual(resp.status, 200, resp.body)
                log = access_line(self.gateway, resp)
                self.assertTrue(log["usage_estimated"])
                self.assertEqual(log["completion_tokens"],
                                 (log["response_bytes"] + 3) // 4 if generates else 0)
        # A stream on any spelling of the endpoint (case, trailing slash, prefix) is asked for its
        # usage like any other (what the cluster received, echoed).
        for path in ("/V1/Chat/Completions", "/v1/chat/completions/", "/chat/completions",
                     "/openai/deployments/m/chat/completions", "/api/v1/completions"):
            with self.subTest(path=path):
                raw = request_bytes("POST", path, json.dumps({"model": "m", "stream": True, "messages": []}).encode(),
                                    {"Content-Type": "application/json", "Authorization": f"Bearer {self.key}",
                                     "x-standin-echo-body": "1"})
                resp = send(self.gateway.port, self.certs, raw)
                self.assertEqual(resp.status, 200, resp.body)
                self.assertEqual(json.loads(resp.body)["stream_options"], {"include_usage": True})

    def test_a_client_that_leaves_before_the_answer_is_charged_its_prompt(self):
        # ...and the completion admission reserved: the cluster may have generated all along.
        body = json.dumps({"model": "early-leaver", "max_tokens": 50,
                           "messages": [{"role": "user", "content": "x" * 400}]}).encode()
        s = tls_connect(self.gateway.port, self.certs)
        s.sendall(request_bytes("POST", "/v1/chat/completions", body,
                                {"Content-Type": "application/json", "Authorization": f"Bearer {self.key}",
                                 "x-standin-fault": "slow-headers", "x-standin-head-delay-ms": "3000"}))
        time.sleep(0.5)  # the request is at the cluster
        s.close()
        log = self.gateway.wait_for_json(lambda o: o.get("msg") == "request" and o.get("model") == "early-leaver")
        self.assertEqual(log["status"], 499)
        self.assertTrue(log["usage_estimated"])
        self.assertEqual((log["prompt_tokens"], log["completion_tokens"]), ((len(body) + 3) // 4, 50))

    def test_a_request_the_cluster_never_answers_is_not_free(self):
        # A cluster that closes, resets or answers garbage after it had the request (or a generation
        # that outlives upstream_response): the request is charged what admission reserved for it.
        # A closed connection may be the network's or a stale pooled one's: the prompt only.
        for fault, model, completion in (("close-before-response", "closer", 0), ("bad-response", "garbler", 70)):
            with self.subTest(fault=fault):
                body = json.dumps({"model": model, "max_tokens": 70,
                                   "messages": [{"role": "user", "content": "y" * 200}]}).encode()
                resp = send(self.gateway.port, self.certs, request_bytes(
                    "POST", "/v1/chat/completions", body,
                    {"Content-Type": "application/json", "Authorization": f"Bearer {self.key}", "x-standin-fault": fault}))
                self.assertEqual(resp.status, 502, resp.body)
                log = access_line(self.gateway, resp)
                self.assertTrue(log["usage_estimated"])
                self.assertEqual((log["prompt_tokens"], log["completion_tokens"]), ((len(body) + 3) // 4, completion))
        # Without max_tokens, the first estimate of an unbounded completion (256), as for a tenant
        # with limits, whose reservation starts there (probe round 46: a tenant without limits,
        # like acme here, was charged the prompt only).
        for n, completion in ((1, 256), (2, 512)):
            with self.subTest(unbounded=n):
                body = json.dumps({"model": "garbler", "n": n,
                                   "messages": [{"role": "user", "content": "y" * 200}]}).encode()
                resp = send(self.gateway.port, self.certs, request_bytes(
                    "POST", "/v1/chat/completions", body,
                    {"Content-Type": "application/json", "Authorization": f"Bearer {self.key}",
                     "x-standin-fault": "bad-response"}))
                self.assertEqual(resp.status, 502, resp.body)
                log = access_line(self.gateway, resp)
                self.assertEqual((log["prompt_tokens"], log["completion_tokens"]), ((len(body) + 3) // 4, completion))

    def test_usage_is_read_only_from_an_answer_that_is_json(self):
        # In a text answer, a `usage` object is whatever the model wrote (and a prompt steers that):
        # charged by its size instead.
        # (The stand-in echoes the request: its `usage` is the answer's.)
        body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "z" * 4000}],
                           "usage": {"prompt_tokens": 1, "completion_tokens": 1}}).encode()
        for answer_type, believed in (("text/plain", False), ("", False), ("application/json", True),
                                      ("Application/JSON; charset=utf-8", True), ("application/vnd.x+json", True)):
            with self.subTest(answer_type=answer_type):
                resp = send(self.gateway.port, self.certs, request_bytes(
                    "POST", "/v1/chat/completions", body,
                    {"Content-Type": "application/json", "Authorization": f"Bearer {self.key}",
                     "x-standin-echo-body": "1", "x-standin-content-type": answer_type}))
                self.assertEqual(resp.status, 200, resp.body)
                log = access_line(self.gateway, resp)
                if believed:
                    self.assertEqual((log["prompt_tokens"], log["completion_tokens"]), (1, 1))
                else:
                    self.assertTrue(log["usage_estimated"])
                    self.assertGreater(log["completion_tokens"], 500)

    def test_answers_off_v1_are_metered(self):
        # Clusters serve models off /v1/ too (TGI's /generate, /invocations): an answer there is
        # charged its usage or an estimate, never nothing; one that answers with vectors is charged
        # its prompt only. (The stand-in echoes the body: no usage in it.)
        for path, generates in (("/generate", True), ("/invocations", True), ("/embed", False)):
            with self.subTest(path):
                raw = request_bytes("POST", path, json.dumps({"model": "tgi-model", "inputs": "hello there"}).encode(),
                                    {"Content-Type": "application/json", "Authorization": f"Bearer {self.key}",
                                     "x-standin-echo-body": "1"})
                resp = send(self.gateway.port, self.certs, raw)
                self.assertEqual(resp.status, 200, resp.body)
                log = access_line(self.gateway, resp)
                self.assertTrue(log["usage_estimated"])
                self.assertEqual(log["prompt_tokens"], (log["request_bytes"] + 3) // 4)
                self.assertEqual(log["completion_tokens"], (log["response_bytes"] + 3) // 4 if generates else 0)

    def test_a_stream_the_client_leaves_is_still_charged(self):
        # The client reads the first events and leaves before the cluster's usage: had the request
        # been charged nothing, a tenant could spend any budget by hanging up just before the end.
        body = json.dumps({"model": "left-model", "stream": True, "messages": []}).encode()
        s = tls_connect(self.gateway.port, self.certs)
        s.sendall(request_bytes("POST", "/v1/chat/completions", body,
                                {"Content-Type": "application/json", "Authorization": f"Bearer {self.key}",
                                 "x-standin-chunks": "200", "x-standin-delay-ms": "20"}))
        reader = Reader(s)
        head = reader.read_response(head_only=True)
        self.assertEqual(head.status, 200)
        reader.read_until(b"data: ")
        reader.read_until(b"data: ")
        s.close()
        log = access_line(self.gateway, head)
        self.assertTrue(log["usage_estimated"])
        # One per 4 bytes of the request as forwarded (with the include_usage the gateway added).
        self.assertGreater(log["request_bytes"], len(body))
        self.assertEqual(log["prompt_tokens"], (log["request_bytes"] + 3) // 4)
        self.assertGreaterEqual(log["completion_tokens"], 2)  # one per event relayed
        self.assertLess(log["completion_tokens"], 200)
        # A stream that ends with the cluster's usage is not an estimate.
        _, log = self.call("/v1/chat/completions", {"model": "m", "stream": True, "messages": []})
        self.assertFalse(log["usage_estimated"])
        # The auditor sees the estimate as one.
        self.gateway.signal(signal.SIGTERM)
        self.gateway.proc.wait(timeout=20)
        table = sovgw("audit", "query", "--db", self.db, "--tenant", "acme", "--model", "left-model")
        self.assertEqual(table.returncode, 0, table.stderr)
        self.assertRegex(table.stdout, r" ~\d+\+\d+ ")
        q = sovgw("audit", "query", "--db", self.db, "--model", "left-model", "--format", "jsonl")
        self.assertIn("tokens estimated", json.loads(q.stdout.splitlines()[0])["note"])

    def test_metrics_and_audit_query_show_tokens(self):
        self.call("/v1/chat/completions", {"model": "tok-model", "messages": []})
        self.call("/v1/chat/completions", {"model": "tok-model", "stream": True, "messages": []})
        text = admin_get(self.gateway, "/metrics").body.decode()
        self.assertIn('sovgw_tokens_total{tenant="acme",model="tok-model",cluster="paris",type="prompt"} 24', text)
        self.assertIn('sovgw_tokens_total{tenant="acme",model="tok-model",cluster="paris",type="completion"} 10',
                      text)
        self.assertRegex(text, r'sovgw_tenant_requests_total\{tenant="acme"\} \d+')

    def test_audit_query_shows_tokens(self):
        self.call("/v1/chat/completions", {"model": "audit-model", "messages": []})
        self.call("/v1/chat/completions", {"model": "audit-model", "stream": True, "messages": []})
        # The gateway holds the audit database; an auditor reads it after the gateway stopped.
        self.gateway.signal(signal.SIGTERM)
        self.gateway.proc.wait(timeout=20)
        q = sovgw("audit", "query", "--db", self.db, "--tenant", "acme", "--model", "audit-model", "--format", "jsonl")
        self.assertEqual(q.returncode, 0, q.stderr)
        rows = [json.loads(line) for line in q.stdout.splitlines()]
        self.assertEqual([(r["prompt_tokens"], r["completion_tokens"]) for r in rows], [(12, 5), (12, 5)])
        table = sovgw("audit", "query", "--db", self.db, "--tenant", "acme", "--model", "audit-model")
        self.assertEqual(table.returncode, 0, table.stderr)
        self.assertIn("tokens (in+out)", table.stdout)
        self.assertEqual(table.stdout.count(" 12+5 "), 2)


LIMITED_TENANTS = """tenants:
  - name: slow
    limits: {requests_per_minute: 2}
  - name: budget
    limits: {tokens_per_month: 20}
  - name: streamer
    limits: {tokens_per_month: 10}
  - name: burst
    limits: {tokens_per_month: 25}
  - name: bounded
    limits: {tokens_per_month: 1000}
  - name: ignored
    limits: {tokens_per_month: 1000}
  - name: batch
    limits: {tokens_per_month: 1000}
"""


class LimitedGateway(unittest.TestCase):
    """A gateway with the tenants file TENANTS and the keys KEYS ({name: (tenant, *create options)})
    in self.keys, in front of a stand-in cluster that reports 17 tokens per answer."""

    TENANTS = ""
    KEYS = {}

    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.certs = make_certs(os.path.join(cls.tmp.path, "certs"))
        cls.standin = start_standin(cls.certs, chunks=5, delay_ms=5)
        cls.tenants = os.path.join(cls.tmp.path, "tenants.yaml")
        with open(cls.tenants, "w") as f:
            f.write(cls.TENANTS)
        cls.keys = {}
        for name, (tenant, *options) in cls.KEYS.items():
            r = sovgw("tenants", "key", "create", tenant, "--file", cls.tenants, *options)
            assert r.returncode == 0, r.stderr
            cls.keys[name] = r.stdout.strip()
        cls.gateway = Gateway(gateway_yaml(cls.certs, cluster_yaml("paris", f"127.0.0.1:{cls.standin.port}", cls.certs),
                                           extra=f"tenants: {cls.tenants}\n"), cls.tmp.path)

    @classmethod
    def tearDownClass(cls):
        cls.gateway.stop()
        cls.standin.stop()
        cls.tmp.cleanup()

    def post(self, key, model="m", stream=False):
        body = {"model": model, "messages": [], "stream": stream}
        raw = request_bytes("POST", "/v1/chat/completions", json.dumps(body).encode(),
                            {"Content-Type": "application/json", "Authorization": f"Bearer {self.keys[key]}"})
        return send(self.gateway.port, self.certs, raw)

    def assert_429(self, resp, code, message=None):
        self.assertEqual(resp.status, 429)
        err = resp.json()["error"]
        self.assertEqual(err["code"], code)
        if message is not None:
            self.assertRegex(err["message"], message)
        self.assertGreaterEqual(int(resp.header("retry-after")), 1)
        # An SDK retries a 429 unless told not to: a monthly budget is not back in a minute.
        self.assertEqual(resp.header("x-should-retry"), "false" if code == "insufficient_quota" else None)
        log = access_line(self.gateway, resp)
        self.assertEqual((log["error"], log["cluster"]), (code, ""))


class LimitsTest(LimitedGateway):
    """Over a limit: 429 from the gateway with Retry-After and the OpenAI code; nothing forwarded."""

    TENANTS = LIMITED_TENANTS
    KEYS = {t: (t,) for t in ("slow", "budget", "streamer", "burst", "bounded", "ignored", "batch")}

    def call(self, tenant, stream=False):
        return self.post(tenant, stream=stream)

    def test_requests_per_minute(self):
        self.assertEqual(self.call("slow").status, 200)
        self.assertEqual(self.call("slow").status, 200)
        refused = self.call("slow")
        self.assert_429(refused, "rate_limit_exceeded")
        self.assertLessEqual(int(refused.header("retry-after")), 30)
        # An empty bucket refuses whatever the body holds: told from the head, as a spent month is
        # (probe round 38: `100 Continue`, then the whole body read for a request refused anyway).
        self.assert_refused_before_body("slow", "reached its requests per minute")

    def assert_refused_before_body(self, tenant, message):
        with tls_connect(self.gateway.port, self.certs) as s:
            s.sendall(request_bytes(headers={"Content-Type": "application/json", "Content-Length": str(8 << 20),
                                             "Expect": "100-continue", "Authorization": f"Bearer {self.keys[tenant]}"}))
            reader = Reader(s)
            head = reader.read_until(b"\r\n\r\n").decode("latin-1")
            self.assertTrue(head.startswith("HTTP/1.1 429 "), head)  # no 100 Continue before it
            length = int(re.search(r"(?i)\r\ncontent-length: *(\d+)", head).group(1))
            self.assertIn(message, reader.read_exact(length).decode())

    def wait_charged(self, tenant, left):
        """A request is charged just after its response's last byte: wait for the budget gauge."""
        line = f'sovgw_tenant_budget_remaining_tokens{{tenant="{tenant}"}} {left}\n'
        self.assertTrue(wait_until(lambda: line in admin_get(self.gateway, "/metrics").body.decode()))

    def test_monthly_budget_the_crossing_request_completes_the_next_is_refused(self):
        self.assertEqual(self.call("budget").status, 200)  # 17 tokens
        self.wait_charged("budget", 3)
        self.assertEqual(self.call("budget").status, 200)  # 34: crosses 20, completes
        self.wait_charged("budget", 0)
        self.assert_429(self.call("budget"), "insufficient_quota")
        # A spent budget is told before the body is sent (probe round 37: `100 Continue`, and the
        # whole body read and buffered, for a request refused whatever it held).
        self.assert_refused_before_body("budget", "used its monthly token budget")
        text = admin_get(self.gateway, "/metrics").body.decode()
        self.assertIn('sovgw_tenant_budget_remaining_tokens{tenant="budget"} 0\n', text)
        self.assertNotIn('sovgw_tenant_budget_remaining_tokens{tenant="slow"}', text)  # no monthly budget

    def test_a_stream_is_charged_when_it_ends(self):
        resp = self.call("streamer", stream=True)  # 17 tokens, counted though the client did not ask
        self.assertEqual(resp.status, 200)
        self.assertTrue(resp.body.decode().endswith("data: [DONE]\n\n"))
        self.wait_charged("streamer", 0)
        self.assert_429(self.call("streamer", stream=True), "insufficient_quota")


    def test_requests_sent_together_cannot_all_pass_on_the_last_tokens(self):
        self.assertEqual(self.call("burst").status, 200)  # 17 tokens: 8 left
        self.wait_charged("burst", 8)
        # A slow stream is admitted (the budget is not reached) and reserves its estimate while in
        # flight; a request sent meanwhile waits for it rather than pass on the same 8 tokens.
        body = json.dumps({"model": "m", "messages": [], "stream": True}).encode()
        with tls_connect(self.gateway.port, self.certs) as s:
            s.sendall(request_bytes("POST", "/v1/chat/completions", body,
                                    {"Content-Type": "application/json", "Authorization": f"Bearer {self.keys['burst']}",
                                     "x-standin-chunks": "40", "x-standin-delay-ms": "25"}))
            reader = Reader(s)
            self.assertEqual(reader.read_response(head_only=True).status, 200)
            refused = self.call("burst")
            self.assert_429(refused, "rate_limit_exceeded", "in flight")
            self.assertEqual(refused.header("retry-after"), "1")
            reader.read_until(b"data: [DONE]")
        self.wait_charged("burst", 0)  # the stream crossed the budget and completed
        self.assert_429(self.call("burst"), "insufficient_quota")

    @staticmethod
    def reserving(body, bound_key, per_bound, total):
        """`body` with `bound_key` set so that its reservation (one token per 4 bytes, and the bound
        times `per_bound`) is `total` exactly: a request whose bound is more than the budget has left
        is refused outright; one that holds all of it shows what it holds (trailing spaces adjust)."""
        for pad in range(4 * per_bound):
            body[bound_key] = 100
            text = json.dumps(body) + " " * pad
            rest = total - (len(text) + 3) // 4
            if rest % per_bound == 0:
                body[bound_key] = rest // per_bound
                return (json.dumps(body) + " " * pad).encode()
        raise AssertionError("no padding fits")

    def assert_in_flight_refuses(self, tenant, path, body):
        """While a slow stream of `tenant` with `body` runs, its next request is refused: in flight."""
        with tls_connect(self.gateway.port, self.certs) as s:
            s.sendall(request_bytes("POST", path, body if isinstance(body, bytes) else json.dumps(body).encode(),
                                    {"Content-Type": "application/json",
                                     "Authorization": f"Bearer {self.keys[tenant]}",
                                     "x-standin-chunks": "40", "x-standin-delay-ms": "25"}))
            reader = Reader(s)
            self.assertEqual(reader.read_response(head_only=True).status, 200)
            self.assert_429(self.call(tenant), "rate_limit_exceeded", "in flight")
            reader.read_until(b"data: [DONE]")

    def test_a_request_in_flight_reserves_the_completion_it_may_generate(self):
        # max_tokens times n (as OpenAI counts it against a rate limit): a stream that may generate
        # 2 x ~490 tokens holds them while it runs, so parallel requests cannot each pass on the
        # 1000-token budget and overshoot it many times over (one request's worth at most).
        # (A bound of 2 x 600 is more than the budget holds: refused outright, KeyShareTest.)
        body = self.reserving({"model": "m", "messages": [], "stream": True, "n": 2}, "max_tokens", 2, 1000)
        self.assert_in_flight_refuses("bounded", "/v1/chat/completions", body)
        self.wait_charged("bounded", 1000 - 52)  # charged what it used (12 + 40); the reservation is released
        self.assertEqual(self.call("bounded").status, 200)

    def test_a_batch_of_prompts_reserves_a_completion_for_each(self):
        # vLLM and the legacy completions API complete each prompt of a batch: 4 prompts of up to 300
        # tokens may generate 1200, more than the 1000-token budget, so nothing else passes meanwhile
        # (reserving one completion's 300 let six such batches through on a 5000-token budget).
        body = self.reserving({"model": "m", "prompt": ["a", "b", "c", "d"], "stream": True}, "max_tokens", 4, 1000)
        self.assert_in_flight_refuses("batch", "/v1/completions", body)

    def test_a_bound_the_endpoint_ignores_reserves_nothing_less(self):
        # max_output_tokens is the Responses API's: chat completions ignore it and generate unbounded.
        # Were it taken as the bound, each stream would reserve one token and any number would run at
        # once over the 1000-token budget; as unbounded ones, each reserves the 256-token estimate,
        # so once four are in flight (over 1000 reserved) the fifth is refused.
        body = json.dumps({"model": "m", "messages": [], "stream": True, "max_output_tokens": 1}).encode()
        statuses = []
        with contextlib.ExitStack() as held:
            for _ in range(6):
                s = held.enter_context(tls_connect(self.gateway.port, self.certs))
                s.sendall(request_bytes("POST", "/v1/chat/completions", body,
                                        {"Content-Type": "application/json",
                                         "Authorization": f"Bearer {self.keys['ignored']}",
                                         "x-standin-chunks": "40", "x-standin-delay-ms": "25"}))
                statuses.append(Reader(s).read_response(head_only=True).status)
        self.assertEqual(statuses[:5], [200, 200, 200, 200, 429], statuses)


SCOPED_TENANTS = """tenants:
  - name: team
    limits: {requests_per_minute: 1000}
    model_limits:
      "gpt-4o*": {tokens_per_month: 20}
      small-model: {requests_per_minute: 1}
"""


class ScopedLimitsTest(LimitedGateway):
    """Limits of a key and of a tenant's models, on top of the tenant's: a request must pass every
    scope; the 429 names the one that refused it and nothing is forwarded."""

    TENANTS = SCOPED_TENANTS
    KEYS = {"capped": ("team", "--requests-per-minute", "1"), "free": ("team",),
            "monthly": ("team", "--tokens-per-month", "30")}

    def call(self, key, model):
        resp = self.post(key, model)
        access_line(self.gateway, resp)  # logged after its tokens were charged
        return resp

    def test_a_key_with_limits_of_its_own(self):
        self.assertEqual(self.call("capped", "other").status, 200)
        self.assert_429(self.call("capped", "other"), "rate_limit_exceeded",
                        rf"^API key {self.keys['capped'][:17]}\.\.\. reached its requests per minute; retry in \d+ s$")
        self.assertEqual(self.call("free", "other").status, 200)  # the tenant's other key

    def test_a_model_rule_s_monthly_budget(self):
        self.assertEqual(self.call("free", "gpt-4o-mini").status, 200)  # 17 tokens
        self.assertEqual(self.call("free", "gpt-4o").status, 200)  # 34: crosses 20, completes
        for model in ("gpt-4o-mini", "gpt-4o"):  # one budget for every model the glob names
            self.assert_429(self.call("free", model), "insufficient_quota",
                            r"^tenant 'team' for models 'gpt-4o\*' used its monthly token budget$")
        self.assertEqual(self.call("free", "o3-mini").status, 200)

    def test_budget_gauges_of_keys_and_model_rules(self):
        self.assertEqual(self.call("monthly", "other").status, 200)  # 17 of the key's 30 tokens
        key_id = self.keys["monthly"][:17]
        text = admin_get(self.gateway, "/metrics").body.decode()
        self.assertIn(f'sovgw_key_budget_remaining_tokens{{tenant="team",key="{key_id}"}} 13\n', text)
        self.assertNotIn(self.keys["free"][:17], text)  # no budget of its own: no gauge
        self.assertRegex(text, r'\nsovgw_model_budget_remaining_tokens\{tenant="team",models="gpt-4o\*"\} \d+\n')
        self.assertNotIn('models="small-model"', text)  # a rule without a monthly budget

    def test_a_model_rule_s_requests_per_minute(self):
        self.assertEqual(self.call("free", "small-model").status, 200)
        self.assert_429(self.call("free", "small-model"), "rate_limit_exceeded",
                        r"^tenant 'team' for models 'small-model' reached its requests per minute; retry in \d+ s$")
        self.assertEqual(self.call("free", "small-model-2").status, 200)  # exact name: not this one


KEY_SHARE_TENANTS = """tenants:
  - name: wayne
    limits: {tokens_per_month: 2000}
  - name: stark
    limits: {tokens_per_month: 2000}
  - name: oscorp
    limits: {tokens_per_month: 10000}
  - name: lexcorp
    limits: {tokens_per_month: 10000}
"""


class KeyShareTest(LimitedGateway):
    """A key's share of its tenant's monthly budget holds against one request: a request whose own
    bound is more than a scope has left is refused, and an estimate of an unbounded request whose
    client left is charged no more than the tightest scope had left (probe round 37: a key limited to
    400 tokens spent its tenant's 2000 with one request of max_tokens 100000 it hung up on)."""

    TENANTS = KEY_SHARE_TENANTS
    KEYS = {"small": ("wayne", "--tokens-per-month", "400"), "leaver": ("stark", "--tokens-per-month", "400"),
            "poller": ("oscorp",), "streamer": ("lexcorp",)}

    def gauges(self, tenant, key):
        text = admin_get(self.gateway, "/metrics").body.decode()
        key_id = self.keys[key][:17]

        def value(line_start):
            line = next(l for l in text.splitlines() if l.startswith(line_start))
            return int(line.rsplit(" ", 1)[1])
        return (value(f'sovgw_tenant_budget_remaining_tokens{{tenant="{tenant}"}}'),
                value(f'sovgw_key_budget_remaining_tokens{{tenant="{tenant}",key="{key_id}"}}'))

    def test_a_request_whose_bound_is_more_than_its_key_has_left_is_refused(self):
        body = json.dumps({"model": "m", "max_tokens": 100000,
                           "messages": [{"role": "user", "content": "Bonjour"}]}).encode()
        raw = request_bytes("POST", "/v1/chat/completions", body,
                            {"Content-Type": "application/json", "Authorization": f"Bearer {self.keys['small']}"})
        refused = send(self.gateway.port, self.certs, raw)
        prompt = (len(body) + 3) // 4
        self.assert_429(refused, "insufficient_quota",
                        rf"^this request may use up to {100000 + prompt} tokens \(its prompt's estimate {prompt} "
                        rf"and max_tokens 100000\); API key {self.keys['small'][:17]}\.\.\. has 400 left this "
                        r"month: lower max_tokens$")
        self.assertEqual(self.gauges("wayne", "small"), (2000, 400))  # nothing taken
        # n completions count: 3 x 200 is more than 400, 3 x 100 is not.
        body = json.dumps({"model": "m", "max_tokens": 200, "n": 3, "messages": []}).encode()
        raw = request_bytes("POST", "/v1/chat/completions", body,
                            {"Content-Type": "application/json", "Authorization": f"Bearer {self.keys['small']}"})
        self.assert_429(send(self.gateway.port, self.certs, raw), "insufficient_quota",
                        r"and max_tokens 200 x 3 completions\); API key .* has 400 left this month: "
                        r"lower max_tokens or n$")  # n named too (probe round 39)
        body = json.dumps({"model": "m", "max_tokens": 100, "n": 3, "messages": []}).encode()
        raw = request_bytes("POST", "/v1/chat/completions", body,
                            {"Content-Type": "application/json", "Authorization": f"Bearer {self.keys['small']}"})
        resp = send(self.gateway.port, self.certs, raw)
        self.assertEqual(resp.status, 200, resp.body)
        access_line(self.gateway, resp)  # logged after its tokens were charged
        self.assertEqual(self.gauges("wayne", "small"), (2000 - 17, 400 - 17))

    def test_an_estimate_after_a_hang_up_is_charged_no_more_than_was_left(self):
        # No max_tokens: admitted on the key's 400 tokens (the crossing request completes), reserving
        # its prompt (~1000 tokens) and an unbounded completion; its client leaves before the answer.
        body = json.dumps({"model": "hang-up-model",
                           "messages": [{"role": "user", "content": "x" * 4000}]}).encode()
        s = tls_connect(self.gateway.port, self.certs)
        s.sendall(request_bytes("POST", "/v1/chat/completions", body,
                                {"Content-Type": "application/json", "Authorization": f"Bearer {self.keys['leaver']}",
                                 "x-standin-fault": "slow-headers", "x-standin-head-delay-ms": "3000"}))
        time.sleep(0.5)  # the request is at the cluster
        s.close()
        log = self.gateway.wait_for_json(lambda o: o.get("msg") == "request" and o.get("model") == "hang-up-model")
        self.assertEqual(log["status"], 499)
        self.assertTrue(log["usage_estimated"])
        self.assertEqual(log["prompt_tokens"] + log["completion_tokens"], 400)  # the key's remainder
        self.assertEqual(self.gauges("stark", "leaver"), (1600, 0))  # not the tenant's whole month

    def test_a_background_response_is_charged_once_and_reading_it_back_charges_nothing(self):
        # The POST is answered `queued` (usage null): charged its bound, not the size of that object.
        # Each GET of the stored response carries its usage (500 + 1500): recorded as reported, and
        # charged to no budget (probe round 37: three reads charged the generation three times more).
        auth = {"Authorization": f"Bearer {self.keys['poller']}"}
        body = json.dumps({"model": "m", "input": "write a long essay", "background": True,
                           "max_output_tokens": 1500}).encode()
        resp = send(self.gateway.port, self.certs, request_bytes(
            "POST", "/v1/responses", body, {"Content-Type": "application/json", **auth}))
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(resp.json()["status"], "queued")
        log = access_line(self.gateway, resp)
        self.assertTrue(log["usage_estimated"])
        self.assertEqual(log["completion_tokens"], 1500)
        charged = log["prompt_tokens"] + 1500
        for _ in range(3):
            read = send(self.gateway.port, self.certs, request_bytes("GET", "/v1/responses/resp_bg1", b"", auth))
            self.assertEqual(read.status, 200, read.body)
            log = access_line(self.gateway, read)
            self.assertEqual((log["prompt_tokens"], log["completion_tokens"]), (500, 1500))
            self.assertFalse(log["usage_estimated"])
        text = admin_get(self.gateway, "/metrics").body.decode()
        self.assertIn(f'sovgw_tenant_budget_remaining_tokens{{tenant="oscorp"}} {10000 - charged}\n', text)

    def test_a_background_response_needs_a_bound_and_a_stream_left_early_is_charged_it(self):
        # Probe round 50: a background stream left at its first event went on generating at the
        # cluster (55,000 tokens read back) and was charged the ~21 tokens of the events relayed.
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.keys['streamer']}"}
        for background in (True, "true", 1):
            with self.subTest(background=background):
                body = json.dumps({"model": "m", "input": "write a long essay", "background": background,
                                   "stream": True}).encode()
                resp = send(self.gateway.port, self.certs, request_bytes("POST", "/v1/responses", body, headers))
                self.assertEqual(resp.status, 400, resp.body)
                self.assertIn('give \\"max_output_tokens\\", which it is charged in full', resp.body.decode())
        body = json.dumps({"model": "bg-left", "input": "write a long essay", "background": True, "stream": True,
                           "max_output_tokens": 1200}).encode()
        s = tls_connect(self.gateway.port, self.certs)
        s.sendall(request_bytes("POST", "/v1/responses", body, {**headers, "x-standin-delay-ms": "400"}))
        self.assertIn(b"200", s.recv(4096))  # the head, then the client leaves
        s.close()
        log = self.gateway.wait_for_json(lambda o: o.get("msg") == "request" and o.get("model") == "bg-left")
        self.assertTrue(log["usage_estimated"], log)
        self.assertEqual(log["completion_tokens"], 1200)
        # Not a background one: charged what was relayed, as before.
        body = json.dumps({"model": "fg-left", "input": "write a long essay", "stream": True,
                           "max_output_tokens": 1200}).encode()
        s = tls_connect(self.gateway.port, self.certs)
        s.sendall(request_bytes("POST", "/v1/responses", body, {**headers, "x-standin-delay-ms": "400"}))
        self.assertIn(b"200", s.recv(4096))
        s.close()
        log = self.gateway.wait_for_json(lambda o: o.get("msg") == "request" and o.get("model") == "fg-left")
        self.assertLess(log["completion_tokens"], 1200)


WORK_AFTER_THE_ANSWER_TENANTS = """tenants:
  - name: acme
    limits: {tokens_per_month: 100000}
  - name: globex
    limits: {tokens_per_month: 100000}
  - name: initech
    limits: {tokens_per_month: 100000}
"""


class WorkAfterTheAnswerTest(LimitedGateway):
    """Work whose answer says nothing of what it generates — an Assistants run (answered `queued`,
    its prompt the stored thread) and images (their bytes) — reserves a completion as a background
    response does, and is charged that reservation when the cluster reports no usage (probe round 40:
    a run was charged its body's size, ten images one image's). The stand-in echoes the body: an
    answer without usage."""

    TENANTS = WORK_AFTER_THE_ANSWER_TENANTS
    KEYS = {"runner": ("acme",), "painter": ("globex",), "bounded": ("initech",)}

    def charged(self, key, path, body):
        raw = request_bytes("POST", path, json.dumps(body).encode(),
                            {"Content-Type": "application/json", "Authorization": f"Bearer {self.keys[key]}",
                             "x-standin-echo-body": "1"})
        resp = send(self.gateway.port, self.certs, raw)
        self.assertEqual(resp.status, 200, resp.body)
        log = access_line(self.gateway, resp)
        self.assertTrue(log["usage_estimated"])
        return log["prompt_tokens"], log["completion_tokens"]

    def remaining(self, tenant):
        return metric(self.gateway, f'sovgw_tenant_budget_remaining_tokens{{tenant="{tenant}"}}')

    def test_an_assistants_run_is_charged_an_unbounded_completion(self):
        body = {"assistant_id": "asst_1", "model": "m", "additional_instructions": "write 10000 words"}
        for path in ("/v1/threads/thread_1/runs", "/v1/threads/runs"):
            with self.subTest(path=path):
                before = self.remaining("acme")
                prompt, completion = self.charged("runner", path, body)
                self.assertEqual(prompt, (len(json.dumps(body)) + 3) // 4)
                self.assertEqual(completion, 256)  # the first estimate of an unbounded completion
                self.assertEqual(self.remaining("acme"), before - prompt - 256)

    def test_a_run_is_charged_its_max_prompt_and_max_completion_tokens(self):
        # Its prompt is the stored thread, bound by max_prompt_tokens; its turns' completions by
        # max_completion_tokens.
        body = {"assistant_id": "asst_1", "model": "m", "max_prompt_tokens": 3000, "max_completion_tokens": 700}
        self.assertEqual(self.charged("bounded", "/v1/threads/thread_1/runs", body), (3000, 700))
        self.assertEqual(self.remaining("initech"), 100000 - 3700)

    def test_each_image_asked_for_is_charged(self):
        one = {"model": "m", "prompt": "a cat", "size": "1024x1024"}
        ten = dict(one, n=10)
        self.assertEqual(self.charged("painter", "/v1/images/generations", one)[1], 256)
        self.assertEqual(self.charged("painter", "/v1/images/generations", ten)[1], 2560)
        self.assertEqual(self.charged("painter", "/v1/images/edits", dict(ten, images=[{"file_id": "file_1"}]))[1],
                         2560)
