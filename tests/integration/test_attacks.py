"""An adversarial client against a gateway running the example EU policy: every request the policy
refuses in one spelling is refused in every other spelling; what the gateway sees is what the
cluster sees, or the request is refused. Real TLS on loopback, the real stand-in cluster."""

import os
import socket
import ssl
import struct
import unittest

from support import (Gateway, Reader, TempDir, chat_request, client_context, cluster_yaml, exchange, gateway_yaml,
                     make_certs, metric, request_bytes, start_standin, wait_until)

SOURCE = os.environ.get("SOVGW_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
EU_POLICY = os.path.join(SOURCE, "examples", "policies", "eu_policy.yaml")


class AttackTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.certs = make_certs(os.path.join(cls.tmp.path, "certs"))
        cls.standin = start_standin(cls.certs)
        endpoint = f"127.0.0.1:{cls.standin.port}"
        # A US-operated cluster first: only the policy keeps data off it.
        us = cluster_yaml("us-east-1", endpoint, cls.certs).replace("country: FR", "country: US").replace(
            "operator_jurisdiction: EU", "operator_jurisdiction: US")
        fr = cluster_yaml("fr-par-1", endpoint, cls.certs)
        cls.gateway = Gateway(gateway_yaml(cls.certs, us + fr, extra=f"policy: {EU_POLICY}\n"), cls.tmp.path)

    @classmethod
    def tearDownClass(cls):
        cls.gateway.stop()
        cls.standin.stop()
        cls.tmp.cleanup()

    def send(self, raw):
        return exchange(self.gateway.port, self.certs, raw)

    def forwarded_ids(self):
        return {o["request_id"] for o in self.gateway.logs() if o.get("msg") == "request" and o.get("cluster")}

    def test_admin_api_is_refused_in_every_spelling(self):
        plain = self.send(request_bytes("POST", "/admin/x", b"{}", {"Content-Type": "application/json"}))
        self.assertEqual(plain.status, 403)
        self.assertIn("forbid-admin-api", plain.json()["error"]["message"])
        for path in ("/%61dmin/x", "//admin/x", "/./admin/x", "/v1/../admin/x", "/admin%2Fx", "/%2e/admin/x",
                     "/admin;v=1/x", "/v1/%2e%2e/admin/x", "/ADMIN%5cx"):
            with self.subTest(path=path):
                resp = self.send(request_bytes("POST", path, b"{}", {"Content-Type": "application/json"}))
                self.assertEqual(resp.status, 400)
                err = resp.json()["error"]
                self.assertEqual(err["code"], "non_canonical_target")  # the gateway's answer, not a cluster's
                self.assertNotIn(resp.header("x-request-id"), self.forwarded_ids())

    def test_a_client_cannot_choose_its_own_address(self):
        # No trusted proxies: X-Forwarded-For from a client is its own claim, never believed nor forwarded.
        resp = self.send(request_bytes("POST", "/debug/headers", b"{}", {"Content-Type": "application/json",
                                                                      "X-Forwarded-For": "10.0.0.1",
                                                                      "X-Real-IP": "10.0.0.1"}))
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.json()["headers"]["x-forwarded-for"], "127.0.0.1")
        spoofed = self.send(chat_request(extra_headers={"X-Forwarded-For": "5.255.255.5"}))
        log = self.gateway.wait_for_json(lambda o: o.get("request_id") == spoofed.header("x-request-id"))
        self.assertEqual(log["client_ip"], "127.0.0.1")
        self.assertEqual(log["client_country"], "private")

    def test_canonical_paths_still_work(self):
        resp = self.send(chat_request())
        self.assertEqual(resp.status, 200)
        resp = self.send(request_bytes("GET", "/v1/models/mistral-small?x=%61/../"))
        self.assertNotEqual(resp.status, 400)


def proxy_v2_header(source_ip, source_port=40000, local=False):
    body = b"" if local else socket.inet_aton(source_ip) + socket.inet_aton("127.0.0.1") + struct.pack(
        "!HH", source_port, 443)
    return (b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x20 if local else 0x21, 0x00 if local else 0x11]) +
            struct.pack("!H", len(body)) + body)


class TrustedProxyTest(unittest.TestCase):
    """Loopback is a trusted front proxy: its word on the client address is taken, and only its."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.certs = make_certs(os.path.join(cls.tmp.path, "certs"))
        cls.standin = start_standin(cls.certs)
        clusters = cluster_yaml("fr-par-1", f"127.0.0.1:{cls.standin.port}", cls.certs)
        extra = f"policy: {EU_POLICY}\ntrusted_proxies: [127.0.0.0/8]\n"
        cls.xff = Gateway(gateway_yaml(cls.certs, clusters, extra=extra), cls.tmp.path)
        cls.proxied = Gateway(gateway_yaml(cls.certs, clusters, extra=extra).replace(
            "  port: 0\ntls:", "  port: 0\n  proxy_protocol: true\ntls:", 1), cls.tmp.path)

    @classmethod
    def tearDownClass(cls):
        cls.xff.stop()
        cls.proxied.stop()
        cls.standin.stop()
        cls.tmp.cleanup()

    def test_right_most_untrusted_forwarded_for_entry_is_the_client(self):
        # A client in Russia behind the trusted proxy, which appended the address it saw.
        resp = exchange(self.xff.port, self.certs, chat_request(extra_headers={
            "X-Forwarded-For": "1.1.1.1, 5.255.255.5"}))
        self.assertEqual(resp.status, 403)
        self.assertIn("forbid-sanctioned-origins", resp.json()["error"]["message"])
        log = self.xff.wait_for_json(lambda o: o.get("request_id") == resp.header("x-request-id"))
        self.assertEqual(log["client_ip"], "5.255.255.5")
        self.assertEqual(log["client_country"], "RU")

    def test_garbage_where_the_client_address_should_be_is_refused(self):
        resp = exchange(self.xff.port, self.certs, chat_request(extra_headers={"X-Forwarded-For": "unknown"}))
        self.assertEqual(resp.status, 400)
        self.assertEqual(resp.json()["error"]["code"], "bad_forwarded_for")

    def test_proxy_protocol_header_names_the_client(self):
        raw = socket.create_connection(("127.0.0.1", self.proxied.port), timeout=10)
        raw.sendall(proxy_v2_header("5.255.255.5"))
        with client_context(self.certs).wrap_socket(raw, server_hostname="localhost") as s:
            # The client's own X-Forwarded-For is its claim: the PROXY header wins.
            s.sendall(chat_request(extra_headers={"X-Forwarded-For": "10.0.0.1"}))
            resp = Reader(s).read_response()
        self.assertEqual(resp.status, 403)
        self.assertIn("forbid-sanctioned-origins", resp.json()["error"]["message"])
        raw = socket.create_connection(("127.0.0.1", self.proxied.port), timeout=10)
        raw.sendall(proxy_v2_header("", local=True))  # a health check: the socket address stands
        with client_context(self.certs).wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(chat_request())
            self.assertEqual(Reader(s).read_response().status, 200)

    def test_trusted_peer_without_proxy_header_is_cut(self):
        before = metric(self.proxied, "sovgw_proxy_protocol_errors_total")
        with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
            with client_context(self.certs).wrap_socket(
                    socket.create_connection(("127.0.0.1", self.proxied.port), timeout=10),
                    server_hostname="localhost") as s:
                s.sendall(chat_request())
                Reader(s).read_response()
        self.assertTrue(wait_until(lambda: metric(self.proxied, "sovgw_proxy_protocol_errors_total") == before + 1))


if __name__ == "__main__":
    unittest.main()
