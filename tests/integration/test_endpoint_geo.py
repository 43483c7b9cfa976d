"""Endpoint geo verification: a cluster's endpoint addresses are checked against the geo database at
start. A loopback or private address serves only an on-premises cluster; an address that geolocates
outside the cluster's declared country is never used (unless the cluster is exempt, with a reason);
a request only such an endpoint could serve is answered 503 cluster_unavailable with the reason."""

import json
import os
import subprocess
import unittest

from support import (BUILD, SOVGW, Gateway, TempDir, admin_get, chat_request, cluster_yaml, exchange, gateway_yaml,
                     make_certs, request_bytes, start_standin)

WRITE_MMDB = os.path.join(BUILD, "tests", "unit", "policy", "write_mmdb")


class EndpointGeoTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.certs = make_certs(os.path.join(cls.tmp.path, "certs"))
        cls.standin = start_standin(cls.certs, chunks=2, delay_ms=1)
        # "rogue" declares FR but its endpoint is loopback and it does not say it is on-premises; it is
        # listed first and is the only cluster serving llama-*.
        rogue = cluster_yaml("rogue", f"127.0.0.1:{cls.standin.port}", cls.certs).replace(
            "    on_premises: true\n", "").replace('models: ["*"]', 'models: ["mistral-*", "llama-*"]')
        paris = cluster_yaml("paris", f"127.0.0.1:{cls.standin.port}", cls.certs).replace(
            'models: ["*"]', 'models: ["mistral-*"]')
        cls.config_text = gateway_yaml(cls.certs, rogue + paris)
        cls.gateway = Gateway(cls.config_text, cls.tmp.path)

    @classmethod
    def tearDownClass(cls):
        cls.gateway.stop()
        cls.standin.stop()
        cls.tmp.cleanup()

    def test_refused_endpoint_is_never_used(self):
        for _ in range(4):
            resp = exchange(self.gateway.port, self.certs, chat_request())
            self.assertEqual(resp.status, 200, resp.body)
            log = self.gateway.wait_for_json(
                lambda o: o.get("msg") == "request" and o.get("request_id") == resp.header("x-request-id"))
            self.assertEqual(log["cluster"], "paris")

    def test_request_only_a_refused_endpoint_could_serve_is_503_with_the_reason(self):
        body = json.dumps({"model": "llama-3", "messages": [{"role": "user", "content": "x"}]}).encode()
        resp = exchange(self.gateway.port, self.certs, chat_request(body))
        self.assertEqual(resp.status, 503, resp.body)
        error = resp.json()["error"]
        self.assertEqual(error["code"], "cluster_unavailable")
        self.assertIn("cluster 'rogue' has no endpoint it may use: 127.0.0.1 is a loopback or private address and "
                      "cluster 'rogue' is not on_premises", error["message"])
        self.assertIsNone(resp.header("x-standin-cluster"))  # the gateway answered

    def test_start_log_and_readyz_name_the_refused_endpoint(self):
        warn = self.gateway.wait_for_json(lambda o: o.get("msg", "").startswith("endpoint address not used"))
        self.assertEqual(warn["cluster"], "rogue")
        ready = admin_get(self.gateway, "/readyz")
        self.assertEqual(ready.status, 200)
        text = ready.body.decode()
        self.assertIn(f"endpoint 127.0.0.1:{self.standin.port} of cluster rogue: NOT USED; 127.0.0.1 private refused",
                      text)
        self.assertIn(f"endpoint 127.0.0.1:{self.standin.port} of cluster paris: used; 127.0.0.1 private on-premises",
                      text)
        metrics = admin_get(self.gateway, "/metrics").body.decode()
        for cluster, refused, usable in (("rogue", 1, 0), ("paris", 0, 1)):
            labels = f'cluster="{cluster}",endpoint="127.0.0.1:{self.standin.port}"'
            self.assertIn(f"sovgw_endpoint_geo_refused_addresses{{{labels}}} {refused}\n", metrics)
            self.assertIn(f"sovgw_endpoint_geo_usable{{{labels}}} {usable}\n", metrics)

    def test_config_check_reports_it(self):
        path = os.path.join(self.tmp.path, "check.yaml")
        with open(path, "w") as f:
            f.write(self.config_text)
        r = subprocess.run([SOVGW, "config", "check", path], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("of cluster rogue: NOT USED", r.stdout)
        self.assertIn("cluster 'rogue' has no endpoint it may use", r.stderr)

    def test_config_check_with_a_geo_database(self):
        """Public addresses (IP literals: nothing is connected) judged with an MMDB fixture."""
        mmdb = os.path.join(self.tmp.path, "geo.mmdb")
        subprocess.run([WRITE_MMDB, mmdb, "4", "8.8.8.0/24=US", "9.9.9.0/24=FR"], check=True)

        def check(endpoint, extra=""):
            clusters = cluster_yaml("paris", endpoint, self.certs).replace("    on_premises: true\n", extra)
            path = os.path.join(self.tmp.path, "geo-check.yaml")
            with open(path, "w") as f:
                f.write(gateway_yaml(self.certs, clusters, extra=f"geo_database: {mmdb}\n"))
            return subprocess.run([SOVGW, "config", "check", path], capture_output=True, text=True)

        r = check("9.9.9.9:443")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("endpoint 9.9.9.9:443 of cluster paris: used; 9.9.9.9 FR matches", r.stdout)
        r = check("8.8.8.8:443")
        self.assertEqual(r.returncode, 1)
        self.assertIn("8.8.8.8 geolocates to US, not FR as cluster 'paris' declares", r.stderr)
        r = check("8.8.8.8:443", "    endpoint_geo_exempt: anycast front door; GPUs in Paris per contract\n")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("8.8.8.8 US exempt (anycast front door; GPUs in Paris per contract)", r.stdout)
        # The exemption switches a check off: a flag, a blank or a second line is no written reason
        # (`false` would read as "off"; a line break would forge a line of the report).
        for value in ("false", "no", '"   "', '"\\u200b"', '"ok"', '"anycast front\\nendpoint 8.8.8.8:443 of cluster paris: used"'):
            r = check("8.8.8.8:443", f"    endpoint_geo_exempt: {value}\n")
            self.assertEqual(r.returncode, 1, value + r.stdout + r.stderr)
            self.assertIn("endpoint_geo_exempt turns the endpoint country check off and must say why", r.stderr)


if __name__ == "__main__":
    unittest.main()
