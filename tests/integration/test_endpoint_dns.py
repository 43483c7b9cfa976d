"""Endpoint re-resolution: on SIGHUP (and every dns_refresh) endpoint names are resolved again, the new
addresses judged by the endpoint geo rules before use and swapped in; a name that fails to resolve
keeps its last good addresses; an address newly refused is logged and counted; /readyz shows the
current verdicts.

The endpoint is named by a host name the test writes into /etc/hosts (glibc reads the file on every
lookup, so no DNS server is involved); the test's own lines are removed in a finally block, whatever
happens, and nothing else in the file is touched. With dns_resolvers (DnsTtlTest) the gateway asks a
DNS server itself: dns_responder.py on loopback, whose answers and TTLs the test sets."""

import json
import os
import signal
import subprocess
import sys
import unittest

from support import (BUILD, SOVGW, Gateway, Process, StandinTest, TempDir, admin_get, chat_request, cluster_yaml, exchange,
                     gateway_yaml, make_certs, start_standin)
from test_endpoint_distance import DELAY_KM, DELAY_MS, samples, start_relay

HERE = os.path.dirname(os.path.abspath(__file__))
WRITE_MMDB = os.path.join(BUILD, "tests", "unit", "policy", "write_mmdb")
HOSTS = "/etc/hosts"
MARK = "# sovgw test_endpoint_dns"
NAME = f"sovgw-dns-test-{os.getpid()}.test"
LLAMA = json.dumps({"model": "llama-3", "messages": [{"role": "user", "content": "x"}]}).encode()


def set_hosts(address):
    """Points NAME at `address`, or at each of a list of addresses (None: NAME resolves to nothing).
    Writes in place: /etc/hosts may be a bind mount that cannot be replaced by a rename."""
    with open(HOSTS) as f:
        lines = [line for line in f.read().splitlines(keepends=True) if not line.rstrip().endswith(MARK)]
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    for each in [address] if isinstance(address, str) else address or []:
        lines.append(f"{each} {NAME} {MARK}\n")
    with open(HOSTS, "w") as f:
        f.write("".join(lines))


@unittest.skipUnless(os.access(HOSTS, os.W_OK), "needs a writable /etc/hosts")
class EndpointReResolutionTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()
        self.addCleanup(self.tmp.cleanup)
        self.addCleanup(set_hosts, None)  # runs even when setUp fails half way
        self.certs = make_certs(os.path.join(self.tmp.path, "certs"))
        self.standin = start_standin(self.certs, chunks=2, delay_ms=1)
        self.addCleanup(self.standin.stop)
        mmdb = os.path.join(self.tmp.path, "geo.mmdb")
        subprocess.run([WRITE_MMDB, mmdb, "4", "8.8.8.0/24=US"], check=True)
        # "moving" declares FR and is on-premises: 127.0.0.1 may serve it, 8.8.8.8 (US) may not.
        moving = cluster_yaml("moving", f"{NAME}:{self.standin.port}", self.certs).replace(
            'models: ["*"]', 'models: ["llama-*"]')
        paris = cluster_yaml("paris", f"127.0.0.1:{self.standin.port}", self.certs).replace(
            'models: ["*"]', 'models: ["mistral-*"]')
        self.config_text = gateway_yaml(self.certs, moving + paris,
                                        extra=f"geo_database: {mmdb}\ndns_refresh: off\n")
        self.endpoint = f"{NAME}:{self.standin.port}"
        self.labels = f'cluster="moving",endpoint="{self.endpoint}"'

    def start(self):
        gateway = Gateway(self.config_text, self.tmp.path)
        self.addCleanup(gateway.stop)
        return gateway

    def reresolve(self, gateway, refreshes):
        gateway.signal(signal.SIGHUP)
        gateway.wait_for_json(lambda o: o.get("msg") == "endpoints re-resolved" and o.get("refreshes") == refreshes)

    def llama(self, gateway):
        return exchange(gateway.port, self.certs, chat_request(LLAMA))

    def test_the_address_connected_to_is_named(self):
        """A name with several addresses: the access line names the one the connection went to (and
        where it alone geolocates), not only the name (test_geo_tags checks the audit record)."""
        set_hosts(["127.0.0.2", "127.0.0.1"])  # nothing listens on 127.0.0.2: refused, the next is tried
        gateway = self.start()
        resp = self.llama(gateway)
        self.assertEqual(resp.status, 200, resp.body)
        request_id = resp.header("x-request-id")
        line = gateway.wait_for_json(lambda o: o.get("msg") == "request" and o.get("request_id") == request_id)
        self.assertEqual((line["endpoint"], line["endpoint_address"]), (self.endpoint, "127.0.0.1"))
        self.assertIn(f"endpoint {self.endpoint} of cluster moving: used;", admin_get(gateway, "/readyz").body.decode())

    def test_sighup_swaps_in_judged_addresses_and_keeps_the_last_good_ones(self):
        set_hosts("8.8.8.8")
        gateway = self.start()
        resp = self.llama(gateway)
        self.assertEqual(resp.status, 503, resp.body)  # 8.8.8.8 is in the US: never connected to
        self.assertIn(f"endpoint {self.endpoint} of cluster moving: NOT USED; 8.8.8.8 US refused",
                      admin_get(gateway, "/readyz").body.decode())

        set_hosts("127.0.0.1")
        self.reresolve(gateway, 1)
        changed = gateway.wait_for_json(lambda o: o.get("msg") == "endpoint addresses changed")
        self.assertEqual((changed["endpoint"], changed["addresses"], changed["used"]),
                         (self.endpoint, "127.0.0.1", True))
        resp = self.llama(gateway)
        self.assertEqual(resp.status, 200, resp.body)
        self.assertIn(f"endpoint {self.endpoint} of cluster moving: used; 127.0.0.1 private on-premises",
                      admin_get(gateway, "/readyz").body.decode())

        set_hosts(None)  # the name no longer resolves: the last good addresses stay in use
        self.reresolve(gateway, 2)
        failed = gateway.wait_for_json(lambda o: o.get("msg", "").startswith("endpoint re-resolution failed"))
        self.assertEqual(failed["endpoint"], self.endpoint)
        self.assertEqual(self.llama(gateway).status, 200)
        ready = admin_get(gateway, "/readyz").body.decode()
        self.assertIn(f"endpoint {self.endpoint} of cluster moving: used; re-resolution failed, last good "
                      f"addresses kept (cluster 'moving': cannot resolve endpoint {self.endpoint}", ready)
        self.assertIn("127.0.0.1 private on-premises", ready)
        metrics = admin_get(gateway, "/metrics").body.decode()
        self.assertIn(f"sovgw_endpoint_resolve_failures_total{{{self.labels}}} 1\n", metrics)
        self.assertIn(f"sovgw_endpoint_geo_newly_refused_total{{{self.labels}}} 0\n", metrics)

        # Back to the US, another address: refused, and the idle connection to 127.0.0.1 not reused.
        set_hosts("8.8.8.9")
        self.reresolve(gateway, 3)
        warn = gateway.wait_for_json(lambda o: o.get("msg", "").startswith("endpoint address not used")
                                     and o.get("re_resolved") is True)
        self.assertEqual(warn["detail"], "8.8.8.9 geolocates to US, not FR as cluster 'moving' declares")
        resp = self.llama(gateway)
        self.assertEqual(resp.status, 503, resp.body)
        self.assertEqual(resp.json()["error"]["code"], "cluster_unavailable")
        self.assertIn("8.8.8.9", resp.json()["error"]["message"])  # today's reason, not the start's
        self.assertIsNone(resp.header("x-standin-cluster"))  # the gateway answered
        self.assertIn(f"endpoint {self.endpoint} of cluster moving: NOT USED; 8.8.8.9 US refused",
                      admin_get(gateway, "/readyz").body.decode())
        metrics = admin_get(gateway, "/metrics").body.decode()
        self.assertIn(f"sovgw_endpoint_geo_newly_refused_total{{{self.labels}}} 1\n", metrics)
        self.assertIn(f"sovgw_endpoint_geo_usable{{{self.labels}}} 0\n", metrics)
        self.assertIn("sovgw_endpoint_refreshes_total 3\n", metrics)

    def test_a_changed_address_does_not_inherit_the_old_addresses_round_trip(self):
        # 127.0.0.2 is a relay DELAY_MS away each way (on the stand-in's port, so the endpoint's port holds):
        # a handshake through it takes >= 2 x DELAY_MS, so its bound is >= DELAY_KM, however fast the machine.
        relay = start_relay(self.standin.port, listen=f"127.0.0.2:{self.standin.port}")
        self.addCleanup(relay.stop)
        set_hosts("127.0.0.1")
        gateway = self.start()
        self.assertEqual(self.llama(gateway).status, 200)
        self.assertIn("moving", samples(gateway, "sovgw_endpoint_min_rtt_seconds"))  # measured to 127.0.0.1

        set_hosts("127.0.0.2")
        self.reresolve(gateway, 1)
        self.assertNotIn("moving", samples(gateway, "sovgw_endpoint_min_rtt_seconds"))
        self.assertNotIn("moving", samples(gateway, "sovgw_endpoint_distance_bound_km"))
        self.assertIn(f"distance of endpoint {self.endpoint} of cluster moving: not measured yet",
                      admin_get(gateway, "/readyz").body.decode())
        resp = self.llama(gateway)
        self.assertEqual(resp.status, 200, resp.body)
        self.assertGreaterEqual(samples(gateway, "sovgw_endpoint_min_rtt_seconds")["moving"], 2 * DELAY_MS / 1000)
        bound = samples(gateway, "sovgw_endpoint_distance_bound_km")["moving"]
        self.assertGreaterEqual(bound, DELAY_KM)

        # The same address resolved again keeps what was measured to it.
        self.reresolve(gateway, 2)
        self.assertEqual(samples(gateway, "sovgw_endpoint_distance_bound_km")["moving"], bound)

    def test_dns_refresh_resolves_again_without_a_signal(self):
        self.config_text = self.config_text.replace("dns_refresh: off\n", "dns_refresh: 1s\n")
        set_hosts("8.8.8.8")
        gateway = self.start()
        self.assertEqual(self.llama(gateway).status, 503)
        set_hosts("127.0.0.1")
        gateway.wait_for_json(lambda o: o.get("msg") == "endpoint addresses changed", timeout=30)
        self.assertEqual(self.llama(gateway).status, 200)


class DnsTtlTest(StandinTest):
    """With dns_resolvers the gateway asks the name servers itself (dns_responder.py here, no /etc/hosts) and
    resolves a name again when its answer's TTL runs out, however long dns_refresh is."""

    def setUp(self):
        super().setUp()
        self.zone = os.path.join(self.tmp.path, "zone.json")
        self.set_zone("127.0.0.1", ttl=1)
        self.dns = Process([sys.executable, os.path.join(HERE, "dns_responder.py"), "--zone", self.zone])
        self.addCleanup(self.dns.stop)
        port = self.dns.wait_for_json(lambda o: o.get("msg") == "listening")["port"]
        mmdb = os.path.join(self.tmp.path, "geo.mmdb")
        subprocess.run([WRITE_MMDB, mmdb, "4", "8.8.8.0/24=US"], check=True)
        moving = cluster_yaml("moving", f"gpu.sovgw.test:{self.standin.port}", self.certs)
        self.config_text = gateway_yaml(self.certs, moving, extra=(f"geo_database: {mmdb}\ndns_refresh: 1h\n"
                                                                  f"dns_resolvers: [127.0.0.1:{port}]\n"))

    def set_zone(self, address, ttl):
        with open(self.zone + ".new", "w") as f:
            json.dump({"gpu.sovgw.test": {"a": [address], "ttl": ttl}}, f)
        os.replace(self.zone + ".new", self.zone)

    def test_the_answers_ttl_sets_when_the_name_is_resolved_again(self):
        gateway = Gateway(self.config_text, self.tmp.path)
        self.addCleanup(gateway.stop)
        self.assertEqual(exchange(gateway.port, self.certs, chat_request(LLAMA)).status, 200)
        self.set_zone("8.8.8.8", ttl=1)  # now in the US: refused once resolved again, with no signal
        changed = gateway.wait_for_json(lambda o: o.get("msg") == "endpoint addresses changed", timeout=30)
        self.assertEqual((changed["addresses"], changed["used"]), ("", False))
        resp = exchange(gateway.port, self.certs, chat_request(LLAMA))
        self.assertEqual(resp.status, 503, resp.body)
        self.assertIn("8.8.8.8 geolocates to US", resp.json()["error"]["message"])
        self.assertGreaterEqual(len([o for o in self.dns.logs() if o.get("type") == "A"]), 2)

    def test_a_name_the_servers_do_not_know_refuses_the_start(self):
        path = os.path.join(self.tmp.path, "unknown.yaml")
        with open(path, "w") as f:
            f.write(self.config_text.replace("gpu.sovgw.test", "other.sovgw.test"))
        r = subprocess.run([SOVGW, "config", "check", path], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(f"cluster 'moving': cannot resolve endpoint other.sovgw.test:{self.standin.port}: no such name "
                      f"(NXDOMAIN)", r.stderr)


if __name__ == "__main__":
    unittest.main()
