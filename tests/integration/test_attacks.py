"""An adversarial client against a gateway running the example EU policy: every request the policy
refuses in one spelling is refused in every other spelling; what the gateway sees is what the
cluster sees, or the request is refused. Real TLS on loopback, the real stand-in cluster."""

import os
import unittest

from support import (Gateway, TempDir, chat_request, cluster_yaml, exchange, gateway_yaml, make_certs, request_bytes,
                     start_standin)

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

    def test_canonical_paths_still_work(self):
        resp = self.send(chat_request())
        self.assertEqual(resp.status, 200)
        resp = self.send(request_bytes("GET", "/v1/models/mistral-small?x=%61/../"))
        self.assertNotEqual(resp.status, 400)


if __name__ == "__main__":
    unittest.main()
