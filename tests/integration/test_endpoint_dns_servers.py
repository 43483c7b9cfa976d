"""The gateway's own DNS client (dns_resolvers): a name server on IPv6, a truncated answer asked again
over TCP, and a name server that never answers. Re-resolution runs on a thread of its own: while it
waits for a silent server, a SIGHUP still reloads the policy at once and SIGTERM still stops the
gateway. The name servers are dns_responder.py on loopback."""

import json
import os
import signal
import sys
import unittest

from support import (Gateway, Process, TempDir, chat_request, cluster_yaml, exchange, gateway_yaml, make_certs,
                     start_standin)

HERE = os.path.dirname(os.path.abspath(__file__))
LLAMA = json.dumps({"model": "llama-3", "messages": [{"role": "user", "content": "x"}]}).encode()
PERMIT_POST = """version: 1
rules:
  - id: permit-post
    effect: permit
    when:
      method: [POST]
    reason: every POST is allowed
"""
DENY_ALL = "version: 1\nrules: []\n"  # no permit: every request is denied


class DnsServersTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()
        self.addCleanup(self.tmp.cleanup)
        self.certs = make_certs(os.path.join(self.tmp.path, "certs"))
        self.standin = start_standin(self.certs, chunks=1, delay_ms=1)
        self.addCleanup(self.standin.stop)
        self.zone_path = os.path.join(self.tmp.path, "zone.json")

    def set_zone(self, names, **entry):
        with open(self.zone_path + ".new", "w") as f:
            json.dump({name: {"a": ["127.0.0.1"], "ttl": 1, **entry} for name in names}, f)
        os.replace(self.zone_path + ".new", self.zone_path)

    def start_dns(self, bind):
        dns = Process([sys.executable, os.path.join(HERE, "dns_responder.py"), "--zone", self.zone_path, "--bind", bind])
        self.addCleanup(dns.stop)
        return dns, dns.wait_for_json(lambda o: o.get("msg") == "listening")["port"]

    def start_gateway(self, names, resolver, extra=""):
        endpoints = '", "'.join(f"{name}:{self.standin.port}" for name in names)
        clusters = cluster_yaml("paris", endpoints, self.certs)
        gateway = Gateway(gateway_yaml(self.certs, clusters, extra=f"dns_refresh: 1h\ndns_resolvers: [\"{resolver}\"]\n"
                                                                    + extra), self.tmp.path)
        self.addCleanup(gateway.stop)
        return gateway

    def llama(self, gateway):
        return exchange(gateway.port, self.certs, chat_request(LLAMA))

    def test_an_ipv6_name_server(self):
        self.set_zone(["gpu.sovgw.test"])
        dns, port = self.start_dns("::1")
        gateway = self.start_gateway(["gpu.sovgw.test"], f"[::1]:{port}")
        self.assertEqual(self.llama(gateway).status, 200)
        # Asked at start, and again when the answer's one-second TTL runs out.
        gateway.wait_for_json(lambda o: o.get("msg") == "endpoints re-resolved" and o.get("trigger") == "dns_refresh")
        asked = [o for o in dns.logs() if o.get("msg") == "query" and o.get("name") == "gpu.sovgw.test"]
        self.assertGreaterEqual(len([o for o in asked if o["type"] == "A"]), 2)
        self.assertFalse(any(o.get("msg", "").startswith("endpoint re-resolution failed") for o in gateway.logs()))

    def test_a_truncated_answer_is_asked_again_over_tcp(self):
        self.set_zone(["gpu.sovgw.test"], truncate=True)
        dns, port = self.start_dns("127.0.0.1")
        gateway = self.start_gateway(["gpu.sovgw.test"], f"127.0.0.1:{port}")
        self.assertEqual(self.llama(gateway).status, 200)
        asked = [(o["type"], o["transport"]) for o in dns.logs() if o.get("msg") == "query"]
        self.assertIn(("A", "udp"), asked)
        self.assertIn(("A", "tcp"), asked)

    def test_a_silent_name_server_holds_up_neither_a_reload_nor_the_shutdown(self):
        # Five names on a silent server keep a round waiting for 5 x 4 s (2 s a try, two tries), and
        # the server stays silent: a round never completes while this test runs.
        names = [f"gpu{i}.sovgw.test" for i in range(5)]
        self.set_zone(names)
        dns, port = self.start_dns("127.0.0.1")
        policy = os.path.join(self.tmp.path, "policy.yaml")
        with open(policy, "w") as f:
            f.write(PERMIT_POST)
        gateway = self.start_gateway(names, f"127.0.0.1:{port}", extra=f"policy: {policy}\n")
        self.assertEqual(self.llama(gateway).status, 200)

        self.set_zone(names, silent=True)
        dns.wait_for_json(lambda o: o.get("msg") == "dropped")  # a round is waiting for the server now
        with open(policy, "w") as f:
            f.write(DENY_ALL)
        gateway.signal(signal.SIGHUP)
        gateway.wait_for_json(lambda o: o.get("msg") == "policy reloaded", timeout=10)
        resp = self.llama(gateway)
        self.assertEqual(resp.status, 403, resp.body)
        self.assertEqual(resp.json()["error"]["code"], "policy_denied")

        gateway.signal(signal.SIGTERM)
        gateway.proc.wait(timeout=10)
        self.assertEqual(gateway.proc.returncode, 0)
        gateway.wait_for_json(lambda o: o.get("msg") == "endpoint re-resolution abandoned: the gateway is stopping")
        gateway.wait_for_json(lambda o: o.get("msg") == "stopped")


if __name__ == "__main__":
    unittest.main()
