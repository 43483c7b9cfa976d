"""SIGHUP reloads of the geo database and what /readyz says of a reload that failed
(docs/configuration.md, the SIGHUP paragraphs).

The geo database (`geo_database`) is re-read on SIGHUP: a client address that moves from DE to RU in
a rewritten MMDB is judged RU after it; a corrupt MMDB keeps the last good one (logged, counted,
named by /readyz, which stays 200). A policy reload that fails is named by /readyz until one
succeeds. A policy linked to a device is refused for its type, a dangling link names its target.
Every wait is for a log line: the reload job's last step asks for an endpoint re-resolution, which is
logged (`endpoint re-resolution asked for`, trigger sighup)."""

import hashlib
import os
import re
import signal
import socket
import subprocess
import unittest

from support import (BUILD, Gateway, Reader, StandinTest, admin_get, client_context, cluster_yaml, gateway_yaml,
                     metric, request_bytes, wait_until)
from test_client_country import BODY, POLICY  # only clients in Germany may call

WRITE_MMDB = os.path.join(BUILD, "tests", "unit", "policy", "write_mmdb")

CLIENT = "8.8.8.8"  # the client a trusted proxy (loopback) forwards


class ReloadTest(StandinTest):
    def setUp(self):
        super().setUp()
        self.mmdb = os.path.join(self.tmp.path, "geo.mmdb")
        self.write_mmdb("8.8.8.0/24=DE")
        self.policy = os.path.join(self.tmp.path, "policy.yaml")
        with open(self.policy, "w") as f:
            f.write(POLICY)
        self.gateway = self.start_gateway(self.policy)

    def start_gateway(self, policy, more_clusters=""):
        clusters = cluster_yaml("paris", f"127.0.0.1:{self.standin.port}", self.certs) + more_clusters
        gateway = Gateway(gateway_yaml(self.certs, clusters, extra=(f"policy: {policy}\ngeo_database: {self.mmdb}\n"
                                                                    "trusted_proxies: [127.0.0.0/8]\n")),
                          self.tmp.path)
        self.addCleanup(gateway.stop)
        return gateway

    def write_mmdb(self, *entries):
        # As geoipupdate does: a new file renamed over the old one.
        fresh = self.mmdb + ".new"
        subprocess.run([WRITE_MMDB, fresh, "4", *entries], check=True)
        os.replace(fresh, self.mmdb)

    def reload(self, gateway=None):
        """SIGHUP, and wait for the reload job to finish (its last step is logged)."""
        gateway = gateway or self.gateway

        def done():
            return sum(1 for o in gateway.logs()
                       if o.get("msg") == "endpoint re-resolution asked for" and o.get("trigger") == "sighup")
        before = done()
        gateway.signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: done() > before, timeout=60), "the reload did not finish")

    def lines(self, msg, gateway=None):
        return [o for o in (gateway or self.gateway).logs() if o.get("msg") == msg]

    def send(self):
        ctx = client_context(self.certs)
        raw = socket.create_connection(("127.0.0.1", self.gateway.port), timeout=10)
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(request_bytes(path="/debug/headers", body=BODY,
                                    headers={"Content-Type": "application/json", "X-Forwarded-For": CLIENT}))
            resp = Reader(s).read_response()
        log = self.gateway.wait_for_json(lambda o: o.get("msg") == "request" and
                                         o.get("request_id") == resp.header("x-request-id"))
        return resp, log

    def readyz(self):
        resp = admin_get(self.gateway, "/readyz")
        return resp.status, resp.body.decode()

    def test_a_rewritten_geo_database_is_in_force_after_sighup(self):
        resp, log = self.send()
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual((log["client_ip"], log["client_country"]), (CLIENT, "DE"))

        self.write_mmdb("8.8.8.0/24=RU")
        self.reload()
        resp, log = self.send()
        self.assertEqual(resp.status, 403, resp.body)
        self.assertEqual(resp.json()["error"]["code"], "policy_denied")  # the gateway's own answer
        self.assertEqual((log["client_ip"], log["client_country"]), (CLIENT, "RU"))
        [reloaded] = self.lines("geo database reloaded")
        self.assertIs(reloaded["unchanged"], False)
        self.assertEqual(reloaded["file"], self.mmdb)
        with open(self.mmdb, "rb") as f:
            self.assertIn(f"sha256 {hashlib.sha256(f.read()).hexdigest()}", reloaded["database"])
        self.assertEqual(metric(self.gateway, "sovgw_geo_database_reloads_total"), 1)
        self.assertEqual(metric(self.gateway, "sovgw_geo_database_in_force"), 1)

        # The same file again: said unchanged, not read into a new database.
        self.reload()
        self.assertIs(self.lines("geo database reloaded")[-1]["unchanged"], True)
        self.assertEqual(metric(self.gateway, "sovgw_geo_database_reloads_total"), 1)

    def test_the_endpoint_check_judges_with_the_reloaded_geo_database(self):
        # An endpoint at a public address (an IP literal, never connected to: no request is routed to
        # it), declared in France; the database moves its address to the US.
        self.write_mmdb("8.8.8.0/24=DE", "9.9.9.0/24=FR")
        remote = cluster_yaml("lyon", "9.9.9.9:443", self.certs).replace("    on_premises: true\n", "").replace(
            'models: ["*"]', 'models: ["lyon-only"]')
        gateway = self.start_gateway(self.policy, remote)
        ready = admin_get(gateway, "/readyz").body.decode()
        self.assertIn("endpoint 9.9.9.9:443 of cluster lyon: used; 9.9.9.9 FR matches", ready)

        def rounds():
            return sum(1 for o in gateway.logs() if o.get("msg") == "endpoints re-resolved" and
                       o.get("trigger") == "sighup")
        self.write_mmdb("8.8.8.0/24=DE", "9.9.9.0/24=US")
        self.reload(gateway)
        self.assertTrue(wait_until(lambda: rounds() == 1, timeout=60), "no re-resolution round after SIGHUP")
        ready = admin_get(gateway, "/readyz")
        self.assertEqual(ready.status, 200)
        self.assertIn("endpoint 9.9.9.9:443 of cluster lyon: NOT USED; 9.9.9.9 US refused", ready.body.decode())
        warn = [o for o in gateway.logs() if o.get("msg", "").startswith("endpoint address not used")]
        self.assertEqual([(w["cluster"], w.get("re_resolved")) for w in warn], [("lyon", True)])

    def test_a_corrupt_geo_database_keeps_the_last_good_one_and_readyz_says_so(self):
        with open(self.mmdb, "rb") as f:
            good = hashlib.sha256(f.read()).hexdigest()
        fresh = self.mmdb + ".new"
        with open(fresh, "wb") as f:
            f.write(b"this is no MaxMind DB\n" * 100)
        os.replace(fresh, self.mmdb)
        self.reload()
        [failed] = self.lines("geo database reload failed; keeping the current geo database")
        self.assertEqual(failed["file"], self.mmdb)
        self.assertIn(self.mmdb, failed["error"])
        self.assertIn(f"sha256 {good}", failed["database"])
        self.assertEqual(metric(self.gateway, "sovgw_geo_database_in_force"), 0)
        self.assertEqual(metric(self.gateway, "sovgw_geo_database_reload_failures_total"), 1)
        resp, log = self.send()
        self.assertEqual(resp.status, 200, resp.body)  # still the good database: DE
        self.assertEqual(log["client_country"], "DE")
        status, body = self.readyz()
        self.assertEqual(status, 200, body)  # the last good database serves
        self.assertTrue(body.startswith("ready\n"), body)
        self.assertRegex(body, re.compile(
            rf"^geo database: serving mmdb {re.escape(self.mmdb)}, sha256 {good}(, built \S+)?; {re.escape(self.mmdb)} "
            rf"failed to "
            rf"load at \d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ: {re.escape(self.mmdb)}: .+$", re.M))

        # A good file again: in force, and /readyz no longer names it.
        self.write_mmdb("8.8.8.0/24=RU")
        self.reload()
        self.assertEqual(metric(self.gateway, "sovgw_geo_database_in_force"), 1)
        status, body = self.readyz()
        self.assertEqual(status, 200, body)
        self.assertNotIn("geo database", body)
        resp, log = self.send()
        self.assertEqual((resp.status, log["client_country"]), (403, "RU"))

    def test_readyz_names_a_failed_policy_reload_until_one_succeeds(self):
        version = self.gateway.wait_for_json(lambda o: o.get("msg") == "listening")["policy_version"]
        self.assertEqual(self.readyz()[0], 200)
        self.assertNotIn("policy", self.readyz()[1])
        with open(self.policy, "w") as f:
            f.write(POLICY.replace("effect: permit", "effect: permitt"))
        self.reload()
        [failed] = self.lines("policy reload failed; keeping the current policy")
        first_error = failed["errors"].splitlines()[0]
        status, body = self.readyz()
        self.assertEqual(status, 200, body)
        self.assertRegex(body, re.compile(
            rf"^policy: serving version {version}; {re.escape(self.policy)} failed to load at "
            rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ: {re.escape(first_error)}$", re.M))
        self.assertIn("permitt", first_error)

        with open(self.policy, "w") as f:
            f.write(POLICY)
        self.reload()
        status, body = self.readyz()
        self.assertEqual(status, 200, body)
        self.assertNotIn("policy", body)

    def test_a_policy_linked_to_a_device_or_nowhere_is_refused_for_that(self):
        link = os.path.join(self.tmp.path, "linked-policy.yaml")
        os.symlink(self.policy, link)
        gateway = self.start_gateway(link)
        os.remove(link)
        os.symlink("/dev/zero", link)
        self.reload(gateway)
        [failed] = self.lines("policy reload failed; keeping the current policy", gateway)
        self.assertIn("is a character device, not a regular file", failed["errors"])
        self.assertNotIn("chmod", failed["errors"])

        missing = os.path.join(self.tmp.path, "moved-away.yaml")
        os.remove(link)
        os.symlink(missing, link)
        self.reload(gateway)
        failed = self.lines("policy reload failed; keeping the current policy", gateway)[-1]
        self.assertIn(f"{link} is a symbolic link to {missing}, which does not exist", failed["errors"])


if __name__ == "__main__":
    unittest.main()
