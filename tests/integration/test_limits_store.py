"""The shared limits store: two gateways count one tenant's limits in one real redis-server (started
here on a loopback port, no persistence); a Redis outage degrades to local counting, said in
metrics and one log line, with monthly budgets refused (limits_store_outage: closed, the default)
or counted locally (open); a restarted Redis is found again, raised to the totals the gateways knew,
and gets the deltas counted meanwhile.

No test sleeps for a sync: each waits for a condition (Redis holds the expected total; a gateway's
sovgw_limits_store_syncs_total has advanced by two rounds, so one round started after it)."""

import datetime
import json
import os
import signal
import socket
import subprocess
import threading
import time
import unittest

from support import (SOVGW, Gateway, Process, TempDir, admin_get, cluster_yaml, gateway_yaml, make_certs, metric,
                     request_bytes, start_standin, tls_connect, Reader, wait_until)

TOKENS_PER_CALL = 17  # what the stand-in cluster reports for one chat completion
BUDGET = 100          # crossed by the sixth call (102 tokens)

TENANTS = f"""tenants:
  - name: shared
    limits: {{tokens_per_month: {BUDGET}}}
  - name: rates
    limits: {{requests_per_minute: 1000}}
  - name: outage
    limits: {{tokens_per_month: 1000000}}
  - name: tpm
    limits: {{tokens_per_minute: {BUDGET}}}
  - name: tpm2
    limits: {{tokens_per_minute: {BUDGET}}}
  - name: keyed
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_command(port, *args, db=3):
    """SELECT db, one command, QUIT on one connection; returns the command's reply (RESP text)."""
    commands = [("SELECT", db), args, ("QUIT",)]
    out = "".join(f"*{len(c)}\r\n" + "".join(f"${len(str(a).encode())}\r\n{a}\r\n" for a in c) for c in commands)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(out.encode())
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    text = data.decode()
    assert text.startswith("+OK\r\n") and text.endswith("+OK\r\n"), text
    return text[len("+OK\r\n"):-len("+OK\r\n")]


def redis_int(port, key):
    reply = redis_command(port, "GET", key)
    return 0 if reply.startswith("$-1") else int(reply.split("\r\n")[1])


class Redis:
    def __init__(self, directory, port=None):
        self.port = port or free_port()
        self.proc = Process(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", directory, "--loglevel", "warning"])
        ok = wait_until(lambda: self._pong(), timeout=15)
        assert ok, f"redis-server did not start on {self.port}"

    def _pong(self):
        try:
            return redis_command(self.port, "PING").startswith("+PONG")
        except OSError:
            return False

    def stop(self):
        self.proc.stop()  # SIGKILL: an outage, not a clean shutdown


def month_key(tenant):
    return f"sovgw:limits:{tenant}:month:{datetime.datetime.now(datetime.timezone.utc):%Y-%m}"


class LimitsStoreBase(unittest.TestCase):
    outage = ""

    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.certs = make_certs(os.path.join(cls.tmp.path, "certs"))
        cls.standin = start_standin(cls.certs, chunks=5, delay_ms=5)
        cls.redis_dir = os.path.join(cls.tmp.path, "redis")
        os.mkdir(cls.redis_dir)
        cls.redis = Redis(cls.redis_dir)
        cls.tenants = os.path.join(cls.tmp.path, "tenants.yaml")
        with open(cls.tenants, "w") as f:
            f.write(TENANTS)
        cls.keys = {}
        for t in ("shared", "rates", "outage", "tpm", "tpm2", "keyed"):
            # keyed: no limits of its own, a key with a monthly budget
            budget = ["--tokens-per-month", str(BUDGET)] if t == "keyed" else []
            r = subprocess.run([SOVGW, "tenants", "key", "create", t, "--file", cls.tenants, *budget],
                               capture_output=True, text=True, timeout=60)
            cls.keys[t] = r.stdout.strip()

    @classmethod
    def start_gateway(cls, extra=""):
        g = Gateway(gateway_yaml(cls.certs, cluster_yaml("paris", f"127.0.0.1:{cls.standin.port}", cls.certs),
                                 extra=f"tenants: {cls.tenants}\nlimits_store: redis://127.0.0.1:{cls.redis.port}/3\n"
                                       f"limits_store_sync_interval: 20ms\n{extra}"), cls.tmp.path)
        assert wait_until(lambda: metric(g, "sovgw_limits_store_up") == 1), "the gateway never reached redis"
        return g

    @classmethod
    def tearDownClass(cls):
        for g in cls.gateways:
            g.stop()
        cls.redis.stop()
        cls.standin.stop()
        cls.tmp.cleanup()

    def call(self, gateway, tenant):
        body = {"model": "m", "messages": []}
        raw = request_bytes("POST", "/v1/chat/completions", json.dumps(body).encode(),
                            {"Content-Type": "application/json", "Authorization": f"Bearer {self.keys[tenant]}"})
        with tls_connect(gateway.port, self.certs) as s:
            s.sendall(raw)
            return Reader(s).read_response()

    def wait_for_syncs(self, gateway, rounds=2):
        start = metric(gateway, "sovgw_limits_store_syncs_total")
        self.assertTrue(wait_until(lambda: metric(gateway, "sovgw_limits_store_syncs_total") >= start + rounds))


class TwoGatewaysTest(LimitsStoreBase):
    """A monthly budget of 100 tokens, requests alternating between two gateways."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.gateways = [cls.start_gateway(), cls.start_gateway()]

    def alternate_against_a_budget(self, tenant, redis_key):
        """12 calls alternating between the gateways, each waiting for its tokens to reach Redis and
        the other gateway to sync: 6 calls make 102 tokens, the sixth crossed 100 and completed;
        every later call, on either gateway, is refused. Returns the refusals' messages."""
        admitted = 0
        refused = []
        for i in range(12):
            g, other = self.gateways[i % 2], self.gateways[1 - i % 2]
            resp = self.call(g, tenant)
            if resp.status == 200:
                admitted += 1
                self.assertEqual(resp.json()["usage"]["total_tokens"], TOKENS_PER_CALL)
                # the sync carried this request's tokens to Redis, then the other gateway learnt them
                self.assertTrue(wait_until(lambda: redis_int(self.redis.port, redis_key) == admitted * TOKENS_PER_CALL))
                self.wait_for_syncs(other)
            else:
                refused.append((i % 2, resp.status, resp.json()["error"]["code"], resp.json()["error"]["message"]))
        self.assertEqual(admitted, 6)
        self.assertLessEqual(admitted * TOKENS_PER_CALL, BUDGET + TOKENS_PER_CALL)
        self.assertEqual([r[:3] for r in refused], [(i % 2, 429, "insufficient_quota") for i in range(6, 12)])
        return {r[3] for r in refused}

    def test_a_key_s_monthly_budget_holds_across_two_gateways_within_one_request(self):
        key_id = self.keys["keyed"][:17]
        messages = self.alternate_against_a_budget("keyed", month_key(f"key:{key_id}"))
        self.assertEqual(messages, {f"API key {key_id}... used its monthly token budget"})
        self.assertEqual(redis_command(self.redis.port, "EXISTS", month_key("keyed")), ":0\r\n")  # no tenant limits

    def test_a_monthly_budget_holds_across_two_gateways_within_one_request(self):
        self.alternate_against_a_budget("shared", month_key("shared"))
        for g in self.gateways:
            text = admin_get(g, "/metrics").body.decode()
            self.assertIn('sovgw_tenant_budget_remaining_tokens{tenant="shared"} 0\n', text)
        # The keys live in the configured database (3), with the month's TTL (its end, plus a day)
        self.assertEqual(redis_command(self.redis.port, "EXISTS", month_key("shared"), db=0), ":0\r\n")
        self.assertGreater(int(redis_command(self.redis.port, "TTL", month_key("shared"))[1:]), 86400)
        # Redis loses its data (a restart without persistence, a flush): the gateways know what was
        # spent, raise the total back to it, and the budget stays spent.
        self.assertEqual(redis_command(self.redis.port, "FLUSHDB"), "+OK\r\n")
        for g in self.gateways:
            self.wait_for_syncs(g)
        self.assertGreaterEqual(redis_int(self.redis.port, month_key("shared")), 6 * TOKENS_PER_CALL)
        for g in self.gateways:
            resp = self.call(g, "shared")
            self.assertEqual((resp.status, resp.json()["error"]["code"]), (429, "insufficient_quota"))

    def alternate_within_a_minute(self, tenant):
        """Calls alternating between the gateways, each waiting for its tokens to reach Redis and the
        other gateway to sync; returns how many were admitted (None if the UTC minute, the window of
        tokens_per_minute, changed meanwhile), and asserts every refusal is rate_limit_exceeded."""
        minute = int(time.time() // 60)
        key = f"sovgw:limits:{tenant}:tokens:{minute}"
        admitted = 0
        for i in range(12):
            g, other = self.gateways[i % 2], self.gateways[1 - i % 2]
            resp = self.call(g, tenant)
            if resp.status == 200:
                admitted += 1
                self.assertTrue(wait_until(lambda: int(time.time() // 60) != minute or
                                           redis_int(self.redis.port, key) == admitted * TOKENS_PER_CALL))
                self.wait_for_syncs(other)
            else:
                self.assertEqual((resp.status, resp.json()["error"]["code"]), (429, "rate_limit_exceeded"))
            if int(time.time() // 60) != minute:
                return None
        return admitted

    def test_tokens_per_minute_hold_across_two_gateways_within_one_request(self):
        # Counted per UTC minute: a run that straddles a minute is repeated once, with a fresh tenant.
        admitted = self.alternate_within_a_minute("tpm")
        if admitted is None:
            admitted = self.alternate_within_a_minute("tpm2")
        self.assertEqual(admitted, 6)  # 102 tokens: the sixth crossed 100; all later calls refused


UNREACHABLE = "limits store unreachable: limits are counted locally until it is back"
REACHABLE = "limits store reachable: limits are shared"


class OutageTest(LimitsStoreBase):
    """Redis killed mid-test, then restarted on the same port."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.closed = cls.start_gateway()  # limits_store_outage: closed is the default
        cls.open = cls.start_gateway("limits_store_outage: open\n")
        cls.gateways = [cls.closed, cls.open]

    def log_count(self, g, msg):
        return sum(1 for o in g.logs() if o.get("msg") == msg)

    def test_an_outage_degrades_to_local_counting_and_recovers(self):
        # the tenant is busy on both (a tenant idle on an instance is synced there once a second)
        self.assertEqual(self.call(self.closed, "outage").status, 200)
        self.assertEqual(self.call(self.open, "outage").status, 200)
        self.assertTrue(wait_until(lambda: redis_int(self.redis.port, month_key("outage")) == 2 * TOKENS_PER_CALL))
        self.wait_for_syncs(self.open)  # the open gateway knows both calls' tokens

        self.redis.stop()
        for g in self.gateways:
            self.assertTrue(wait_until(lambda: metric(g, "sovgw_limits_store_up") == 0))
            self.assertTrue(wait_until(lambda: self.log_count(g, UNREACHABLE) == 1))
            # reconnects keep failing, and say so once
            self.assertTrue(wait_until(lambda: metric(g, "sovgw_limits_store_errors_total") >= 3))
            self.assertEqual(self.log_count(g, UNREACHABLE), 1)
            line = next(o for o in g.logs() if o.get("msg") == UNREACHABLE)
            self.assertEqual(line["store"], f"redis://127.0.0.1:{self.redis.port}/3")

        # closed: a tenant with a monthly budget is refused by the gateway; rate limits count locally
        refused = self.call(self.closed, "outage")
        self.assertEqual(refused.status, 503)
        self.assertEqual(refused.json()["error"]["code"], "limits_store_unavailable")
        self.assertEqual(refused.header("retry-after"), "1")
        self.assertEqual(self.call(self.closed, "rates").status, 200)
        # open: the budget is counted locally, from the last total known
        self.assertEqual(self.call(self.open, "outage").status, 200)
        left = f'sovgw_tenant_budget_remaining_tokens{{tenant="outage"}} {1000000 - 3 * TOKENS_PER_CALL}\n'
        self.assertTrue(wait_until(lambda: left in admin_get(self.open, "/metrics").body.decode()))

        # the class's: tearDownClass stops it (an instance attribute would leak the process)
        type(self).redis = Redis(self.redis_dir, self.redis.port)  # empty: no persistence
        for g in self.gateways:
            self.assertTrue(wait_until(lambda: metric(g, "sovgw_limits_store_up") == 1))
            self.assertTrue(wait_until(lambda: self.log_count(g, REACHABLE) == 2))
            self.assertEqual(self.log_count(g, UNREACHABLE), 1)
        # the new Redis starts from the total the gateways knew (two calls), plus what the open
        # gateway counted during the outage (one)
        self.assertTrue(wait_until(lambda: redis_int(self.redis.port, month_key("outage")) == 3 * TOKENS_PER_CALL))
        self.assertEqual(self.call(self.closed, "outage").status, 200)
        self.assertTrue(wait_until(lambda: redis_int(self.redis.port, month_key("outage")) == 4 * TOKENS_PER_CALL))


class StalledTest(LimitsStoreBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.gateways = [cls.start_gateway()]

    def test_a_stalled_redis_is_an_outage_too(self):
        self.redis.proc.signal(signal.SIGSTOP)  # accepts nothing, answers nothing
        try:
            errors = metric(self.gateways[0], "sovgw_limits_store_errors_total")
            # a sync unanswered for max(1 s, 10 intervals) drops the connection
            self.assertTrue(wait_until(lambda: metric(self.gateways[0], "sovgw_limits_store_up") == 0))
            self.assertGreater(metric(self.gateways[0], "sovgw_limits_store_errors_total"), errors)
            refused = self.call(self.gateways[0], "outage")
            self.assertEqual((refused.status, refused.json()["error"]["code"]), (503, "limits_store_unavailable"))
        finally:
            self.redis.proc.signal(signal.SIGCONT)
        self.assertTrue(wait_until(lambda: metric(self.gateways[0], "sovgw_limits_store_up") == 1))
        self.assertEqual(self.call(self.gateways[0], "outage").status, 200)


class MalformedKeyTest(LimitsStoreBase):
    """Probe round 39: one key holding no count (a string, a hash) failed the whole sync, every
    instance said the store was unreachable and refused every monthly budget, naming no key."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.gateways = [cls.start_gateway()]

    def test_a_key_that_holds_no_count_is_overwritten_and_named_the_others_go_on(self):
        g = self.gateways[0]
        self.assertEqual(self.call(g, "shared").status, 200)
        self.assertTrue(wait_until(lambda: redis_int(self.redis.port, month_key("shared")) == TOKENS_PER_CALL))
        self.wait_for_syncs(g)
        key = month_key("shared")
        wrong_type = "redis.call('DEL', KEYS[1]); return redis.call('HSET', KEYS[1], 'a', '1')"
        for n, command in enumerate((("SET", key, "notanumber"), ("EVAL", wrong_type, 1, key),
                                     ("SET", key, "12.5")), start=1):
            redis_command(self.redis.port, *command)
            # raised to the total the gateway knew, at the next sync, and said with the key
            self.assertTrue(wait_until(lambda: redis_command(self.redis.port, "GET", key) ==
                                       f"${len(str(TOKENS_PER_CALL))}\r\n{TOKENS_PER_CALL}\r\n"), command)
            self.assertTrue(wait_until(lambda: metric(g, "sovgw_limits_store_repaired_keys_total") == n), command)
            self.wait_for_syncs(g)
            self.assertEqual(metric(g, "sovgw_limits_store_up"), 1)
            self.assertEqual(self.call(g, "outage").status, 200)  # other tenants' budgets go on
        warnings = [o for o in g.logs() if o.get("msg", "").startswith("limits store key held no count")]
        self.assertEqual([w["key"] for w in warnings], [month_key("shared")] * 3)
        self.assertFalse([o for o in g.logs() if o.get("msg") == UNREACHABLE])
        self.assertTrue(wait_until(lambda: redis_int(self.redis.port, month_key("outage")) == 3 * TOKENS_PER_CALL))


class HostileRedis:
    """Answers SELECT, then the first sync with the head of a 50-million-element array and 8 MiB of
    its elements (read in well under the sync timeout), noting whether the gateway hung up first."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sent = 0
        self.hung_up = threading.Event()
        self.done = threading.Event()
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        conn, _ = self.sock.accept()
        with conn:
            data = b""
            while b"EVAL" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    self.done.set()
                    return
                data += chunk
                if b"SELECT" in data and not data.startswith(b"+"):
                    conn.sendall(b"+OK\r\n")
                    data = data.replace(b"SELECT", b"")
            try:
                conn.sendall(b"*50000000\r\n")
                elements = b":1\r\n" * 65536
                while self.sent < 8 * 1024 * 1024:
                    conn.sendall(elements)
                    self.sent += len(elements)
            except OSError:
                self.hung_up.set()
        self.done.set()


class HostileRedisTest(unittest.TestCase):
    def test_a_reply_larger_than_any_sync_reply_drops_the_connection(self):
        # hiredis would allocate every element of a reply as it arrives: the gateway refuses an
        # array longer than the round's items at its head, before the elements come.
        tmp = TempDir()
        self.addCleanup(tmp.cleanup)
        certs = make_certs(os.path.join(tmp.path, "certs"))
        standin = start_standin(certs)
        self.addCleanup(standin.stop)
        tenants = os.path.join(tmp.path, "tenants.yaml")
        with open(tenants, "w") as f:
            f.write(TENANTS)
        fake = HostileRedis()
        g = Gateway(gateway_yaml(certs, cluster_yaml("paris", f"127.0.0.1:{standin.port}", certs),
                                 extra=f"tenants: {tenants}\nlimits_store: redis://127.0.0.1:{fake.port}/3\n"
                                       "limits_store_sync_interval: 20ms\n"), tmp.path)
        self.addCleanup(g.stop)
        self.assertTrue(fake.done.wait(60))
        self.assertTrue(fake.hung_up.is_set(), f"the gateway read {fake.sent} bytes of elements")
        self.assertTrue(wait_until(lambda: metric(g, "sovgw_limits_store_errors_total") >= 1))
        self.assertEqual(metric(g, "sovgw_limits_store_up"), 0)


class ShutdownTest(LimitsStoreBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.gateways = [cls.start_gateway()]

    def test_sigterm_stops_a_gateway_with_a_limits_store(self):
        g = self.gateways[0]
        g.signal(signal.SIGTERM)
        g.wait_for_json(lambda o: o.get("msg") == "stopped")
        self.assertEqual(g.proc.wait(timeout=10), 0)


if __name__ == "__main__":
    unittest.main()
