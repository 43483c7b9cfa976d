"""Name servers: with dns_resolvers the gateway's own DNS client (a name server on IPv6, a truncated
answer asked again over TCP), and a name server that never answers, through the gateway's client and
through the system resolver (getaddrinfo). Re-resolution runs on a thread of its own: while it waits
for a silent server, a SIGHUP still reloads the policy at once and SIGTERM still stops the gateway.
The name servers are dns_responder.py on loopback, or a UDP socket that never reads."""

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import unittest

from support import (SOVGW, Gateway, Process, StandinTest, chat_request, cluster_yaml, exchange,
                     gateway_yaml, wait_until)

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


def reload_then_stop_while_dns_waits(test, gateway, policy):
    """With a round waiting for a silent name server: SIGHUP reloads the policy at once (a request
    is denied by the new one), SIGTERM stops the gateway at once; the round is abandoned."""
    with open(policy, "w") as f:
        f.write(DENY_ALL)
    gateway.signal(signal.SIGHUP)
    gateway.wait_for_json(lambda o: o.get("msg") == "policy reloaded", timeout=10)
    resp = exchange(gateway.port, test.certs, chat_request(LLAMA))
    test.assertEqual(resp.status, 403, resp.body)
    test.assertEqual(resp.json()["error"]["code"], "policy_denied")
    gateway.signal(signal.SIGTERM)
    gateway.proc.wait(timeout=10)
    test.assertEqual(gateway.proc.returncode, 0)
    gateway.wait_for_json(lambda o: o.get("msg") == "endpoint re-resolution abandoned: the gateway is stopping")
    gateway.wait_for_json(lambda o: o.get("msg") == "stopped")


class DnsServersTest(StandinTest):
    def setUp(self):
        super().setUp()
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
        reload_then_stop_while_dns_waits(self, gateway, policy)

    def test_sighups_during_a_round_queue_one_more(self):
        # Five names on a silent server keep the round in flight 20 s, time for three SIGHUPs: they
        # merge into one round after it, which runs once the server answers again.
        names = [f"gpu{i}.sovgw.test" for i in range(5)]
        self.set_zone(names)
        dns, port = self.start_dns("127.0.0.1")
        gateway = self.start_gateway(names, f"127.0.0.1:{port}")
        self.set_zone(names, silent=True)
        dns.wait_for_json(lambda o: o.get("msg") == "dropped")
        asked = lambda: [o for o in gateway.logs() if o.get("msg") == "endpoint re-resolution asked for"]
        for n in range(1, 4):  # one at a time: the kernel merges a signal into one still pending
            gateway.signal(signal.SIGHUP)
            self.assertTrue(wait_until(lambda: len(asked()) == n))
        self.assertEqual([(o["trigger"], o["queued"]) for o in asked()], [("sighup", True)] * 3)
        rounds_before = len([o for o in gateway.logs() if o.get("msg") == "endpoints re-resolved"])

        self.set_zone(names)
        gateway.wait_for_json(lambda o: o.get("msg") == "endpoints re-resolved" and o["refreshes"] == rounds_before + 3,
                              timeout=60)
        rounds = [o["trigger"] for o in gateway.logs() if o.get("msg") == "endpoints re-resolved"][rounds_before:]
        self.assertEqual(rounds[:3], ["dns_refresh", "sighup", "dns_refresh"])


def can_unshare():
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-m", "--propagation", "private", "true"], capture_output=True).returncode == 0


@unittest.skipUnless(can_unshare(), "needs unshare -m (a mount namespace of the gateway's own)")
class SilentSystemResolverTest(StandinTest):
    """Without dns_resolvers names go through getaddrinfo. The gateway runs in a mount namespace of its
    own where /etc/hosts and /etc/resolv.conf are the test's files (nothing outside changes): the name
    is in the hosts file at start, then taken out, so the next lookup asks resolv.conf's name server, a
    socket that never answers, each try waiting 30 s."""

    def setUp(self):
        super().setUp()
        self.silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(self.silent.close)
        server = f"127.0.53.{os.getpid() % 250 + 1}"  # resolv.conf name servers are on port 53
        self.silent.bind((server, 53))
        self.hosts = os.path.join(self.tmp.path, "hosts")
        self.set_hosts("127.0.0.1 gpu.sovgw.test\n")
        self.resolv = os.path.join(self.tmp.path, "resolv.conf")
        with open(self.resolv, "w") as f:
            f.write(f"nameserver {server}\noptions timeout:30 attempts:1\n")

    def set_hosts(self, extra):
        with open(self.hosts, "w") as f:  # in place: the gateway's /etc/hosts is bound to this file
            f.write("127.0.0.1 localhost\n" + extra)

    def start_gateway(self, config_text):
        config = os.path.join(self.tmp.path, "gateway.yaml")
        with open(config, "w") as f:
            f.write(config_text)
        script = 'mount --bind "$1" /etc/hosts && mount --bind "$2" /etc/resolv.conf && exec "$3" serve --config "$4"'
        gateway = Process(["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", self.hosts,
                           self.resolv, SOVGW, config])
        self.addCleanup(gateway.stop)
        ready = gateway.wait_for_json(lambda o: o.get("msg") == "listening")
        gateway.port = ready["port"]
        return gateway

    def test_a_silent_system_name_server_holds_up_neither_a_reload_nor_the_shutdown(self):
        policy = os.path.join(self.tmp.path, "policy.yaml")
        with open(policy, "w") as f:
            f.write(PERMIT_POST)
        clusters = cluster_yaml("paris", f"gpu.sovgw.test:{self.standin.port}", self.certs)
        gateway = self.start_gateway(gateway_yaml(self.certs, clusters, extra=f"dns_refresh: 1s\npolicy: {policy}\n"))
        self.assertEqual(exchange(gateway.port, self.certs, chat_request(LLAMA)).status, 200)

        self.set_hosts("")
        readable, _, _ = select.select([self.silent], [], [], 20)
        self.assertTrue(readable, "the gateway never asked the name server")  # a round is waiting for it now
        reload_then_stop_while_dns_waits(self, gateway, policy)


if __name__ == "__main__":
    unittest.main()
