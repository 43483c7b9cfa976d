"""Physical evidence (docs/evidence.md): the gateway measures the TLS handshake's round trip to each
endpoint, bounds the endpoint's distance with it (rtt/2 x 200 km/ms), records the bound with every
request and flags (and does not use) an endpoint whose bound exceeds the cluster's max_distance_km
or contradicts its declared location.

A relay (delay_relay.py) between the gateway and the stand-in cluster delays each direction by a
known time, so a handshake through it takes at least 2 x DELAY however fast the machine is: the
assertions are all "bound >= the distance the delay implies", never an upper limit on time. The one
exception is the contradiction test, which needs one loopback handshake (of up to 20 tries) faster
than 132 ms: a declared location on the far side of the Earth."""

import json
import os
import re
import signal
import subprocess
import sys
import unittest

from support import (SOVGW, Gateway, Process, TempDir, admin_get, audit_record_and_proof, chat_request, cluster_yaml,
                     exchange, gateway_yaml, make_certs, start_standin)

HERE = os.path.dirname(os.path.abspath(__file__))
DELAY_MS = 25
# Through the relay a handshake takes >= 2 x DELAY_MS: the endpoint is bounded within >= this.
DELAY_KM = 2 * DELAY_MS * 100
GATEWAY_LOCATION = "gateway:\n  location: {country: FR, latitude: 48.8566, longitude: 2.3522}\n"  # Paris


def start_relay(target_port, delay_ms=DELAY_MS, listen="127.0.0.1:0"):
    p = Process([sys.executable, os.path.join(HERE, "delay_relay.py"), "--target", f"127.0.0.1:{target_port}",
                 "--delay-ms", str(delay_ms), "--listen", listen])
    p.port = p.wait_for_json(lambda o: o.get("msg") == "listening")["port"]
    return p


def model_request(model):
    return chat_request(json.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}]}).encode())


def samples(gateway, name):
    """{cluster: value} of a per-endpoint metric."""
    out = {}
    for line in admin_get(gateway, "/metrics").body.decode().splitlines():
        m = re.match(name + r'\{cluster="([^"]+)",endpoint="[^"]+"(,phase="handshake")?\} (\S+)$', line)
        if m and (m.group(2) or "phase=" not in line):
            out[m.group(1)] = float(m.group(3))
    return out


def cluster(name, port, certs, models, extra=""):
    return cluster_yaml(name, f"127.0.0.1:{port}", certs).replace('models: ["*"]', f'models: ["{models}"]') + extra


class EndpointDistanceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.certs = make_certs(os.path.join(cls.tmp.path, "certs"))
        cls.standin = start_standin(cls.certs, chunks=1, delay_ms=1)
        cls.relay = start_relay(cls.standin.port)
        # The antipodes of Paris, declared in New Zealand (no country disc there: the point is judged).
        antipodes = cluster("antipodes", cls.standin.port, cls.certs, "anti-*",
                            "    location: {latitude: -48.8566, longitude: -177.6478}\n"
                            "    failures_before_down: 1000\n").replace("country: FR", "country: NZ")
        clusters = (cluster("near", cls.standin.port, cls.certs, "near-*") +
                    cluster("far", cls.relay.port, cls.certs, "far-*") +
                    cluster("tight", cls.relay.port, cls.certs, "tight-*", "    max_distance_km: 1000\n") +
                    antipodes)
        cls.config_text = gateway_yaml(cls.certs, clusters, extra=GATEWAY_LOCATION)
        cls.gateway = Gateway(cls.config_text, cls.tmp.path)

    @classmethod
    def tearDownClass(cls):
        cls.gateway.stop()
        cls.relay.stop()
        cls.standin.stop()
        cls.tmp.cleanup()

    def request(self, model):
        resp = exchange(self.gateway.port, self.certs, model_request(model))
        log = self.gateway.wait_for_json(
            lambda o: o.get("msg") == "request" and o.get("request_id") == resp.header("x-request-id"))
        return resp, log

    def test_the_bound_grows_with_the_relay_delay(self):
        near, near_log = self.request("near-1")
        far, far_log = self.request("far-1")
        self.assertEqual((near.status, far.status), (200, 200), far.body)
        self.assertGreater(near_log["upstream_rtt_us"], 0)
        self.assertGreaterEqual(far_log["upstream_rtt_us"], 2 * DELAY_MS * 1000)
        bounds = samples(self.gateway, "sovgw_endpoint_distance_bound_km")
        self.assertGreaterEqual(bounds["far"], DELAY_KM)
        self.assertGreaterEqual(samples(self.gateway, "sovgw_endpoint_min_rtt_seconds")["far"], 2 * DELAY_MS / 1000)
        print(f"\nbound near {bounds['near']:.0f} km, through a {DELAY_MS} ms relay {bounds['far']:.0f} km",
              file=sys.stderr)
        self.assertEqual(samples(self.gateway, "sovgw_endpoint_distance_flagged")["far"], 0)  # no maximum set

    def test_a_tight_max_distance_flags_the_endpoint_and_nothing_is_sent_to_it(self):
        resp, _ = self.request("tight-1")
        self.assertEqual(resp.status, 503, resp.body)
        error = resp.json()["error"]
        self.assertEqual(error["code"], "cluster_unavailable")
        self.assertIn("more than max_distance_km 1000: not proved within range", error["message"])
        self.assertIsNone(resp.header("x-standin-cluster"))  # the gateway answered; the cluster saw nothing
        warn = self.gateway.wait_for_json(lambda o: o.get("msg") == "endpoint refused: distance" and
                                          o.get("cluster") == "tight")
        self.assertEqual(warn["verdict"], "beyond-max")
        self.assertGreaterEqual(warn["bound_km"], DELAY_KM)
        self.assertGreaterEqual(samples(self.gateway, "sovgw_endpoint_distance_refusals_total")["tight"], 1)
        self.assertEqual(samples(self.gateway, "sovgw_endpoint_distance_flagged")["tight"], 1)
        ready = admin_get(self.gateway, "/readyz").body.decode()
        self.assertRegex(ready, rf"distance of endpoint 127.0.0.1:{self.relay.port} of cluster tight: smallest round "
                                r"trip [0-9.]+ ms \(TLS handshake\), within \d+ km of the gateway; FLAGGED: .*"
                                r"more than max_distance_km 1000")

    def test_a_contradicted_declared_location_is_flagged_and_never_used(self):
        served = 0
        for _ in range(20):
            resp, _ = self.request("anti-1")
            self.assertEqual(resp.status, 503, resp.body)
            self.assertEqual(resp.json()["error"]["code"], "cluster_unavailable")
            served += resp.header("x-standin-cluster") is not None
            if samples(self.gateway, "sovgw_endpoint_distance_flagged").get("antipodes") == 1:
                break
        self.assertEqual(served, 0)
        warn = self.gateway.wait_for_json(lambda o: o.get("msg") == "endpoint refused: distance" and
                                          o.get("verdict") == "contradicted")
        self.assertEqual(warn["cluster"], "antipodes")
        self.assertIn("declared location is at least 200", warn["detail"])  # ~20,000 km
        ready = admin_get(self.gateway, "/readyz").body.decode()
        self.assertIn("of cluster antipodes", ready)
        self.assertRegex(ready, r"cluster antipodes: .*FLAGGED: .*declared location is at least")
        # From now on the endpoint is not even tried, and the 503 still says why.
        resp, _ = self.request("anti-2")
        self.assertEqual(resp.status, 503)
        self.assertIsNone(resp.header("x-standin-cluster"))
        self.assertRegex(resp.json()["error"]["message"],
                         r"declared location is at least 200\d\d km .*\(not used until the gateway restarts\)")

    def test_config_check_refuses_a_maximum_the_declared_location_cannot_meet(self):
        frankfurt = cluster("frankfurt", self.standin.port, self.certs, "*",
                            "    location: {latitude: 50.11, longitude: 8.68}\n    max_distance_km: 100\n"
                            ).replace("country: FR", "country: DE")
        path = os.path.join(self.tmp.path, "check.yaml")
        with open(path, "w") as f:
            f.write(gateway_yaml(self.certs, frankfurt, extra=GATEWAY_LOCATION))
        r = subprocess.run([SOVGW, "config", "check", path], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertRegex(r.stderr, rf"{re.escape(path)}:\d+:\d+: cluster 'frankfurt': its declared location is at "
                                   r"least 4\d\d km from the gateway, so no endpoint can be proved within "
                                   r"max_distance_km 100")


class DistanceInTheAuditRecordTest(unittest.TestCase):
    def test_the_record_carries_the_rtt_and_the_bound_and_the_proof_shows_them(self):
        tmp = TempDir()
        self.addCleanup(tmp.cleanup)
        certs = make_certs(os.path.join(tmp.path, "certs"))
        audit_keys = os.path.join(tmp.path, "audit-keys")
        subprocess.run([SOVGW, "keys", "init", audit_keys], check=True, capture_output=True)
        db = os.path.join(tmp.path, "db")
        standin = start_standin(certs, chunks=1, delay_ms=1)
        self.addCleanup(standin.stop)
        relay = start_relay(standin.port)
        self.addCleanup(relay.stop)
        extra = GATEWAY_LOCATION + f"audit:\n  db: {db}\n  keys: {audit_keys}\n"
        gateway = Gateway(gateway_yaml(certs, cluster("far", relay.port, certs, "*"), extra=extra), tmp.path)
        self.addCleanup(gateway.stop)
        resp = exchange(gateway.port, certs, model_request("m"))
        self.assertEqual(resp.status, 200, resp.body)
        request_id = resp.header("x-request-id")
        gateway.signal(signal.SIGTERM)
        gateway.proc.wait(timeout=30)

        record, shown = audit_record_and_proof(db, audit_keys, request_id, tmp.path)
        self.assertGreaterEqual(record["endpoint_rtt_us"], 2 * DELAY_MS * 1000)
        self.assertEqual(record["distance_bound_km"], -(-record["endpoint_rtt_us"] // 10))
        self.assertGreaterEqual(record["distance_bound_km"], DELAY_KM)
        self.assertIn(f"distance:    endpoint within {record['distance_bound_km']} km of the gateway (round trip "
                      f"{record['endpoint_rtt_us'] / 1000:.3f} ms of the connection used)", shown)


if __name__ == "__main__":
    unittest.main()
