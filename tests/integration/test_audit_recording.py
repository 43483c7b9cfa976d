"""The gateway writes an audit record for every request it accepted — permits, policy denies,
framing errors — and an auditor verifies the log and reads the payload with their own key."""

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from support import (CHAT, CHAT_STREAM, SOVGW, Gateway, TempDir, chat_request, cluster_yaml, exchange, gateway_yaml,
                     make_certs, metric, start_standin, tls_connect, wait_until, Reader)

POLICY = """version: 1
rules:
  - id: forbid-llama
    effect: forbid
    when:
      model: ["llama-*"]
    reason: Llama models are not approved.
  - id: permit-internal
    effect: permit
    when:
      client.country: [private]
    reason: Internal clients may use the inference APIs.
"""


def sovgw(*args):
    r = subprocess.run([SOVGW, *args], capture_output=True, text=True, timeout=60)
    return r


ADMIN_TOKEN = "t0ken-for-tests-" + "9" * 32


def admin_request(host, port, method, target, token=ADMIN_TOKEN, headers="", host_field=None):
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    host_field = host_field or f"{host}:{port}"  # what curl sends
    with socket.create_connection((host, port), timeout=60) as s:
        s.sendall(f"{method} {target} HTTP/1.1\r\nHost: {host_field}\r\nContent-Length: 0\r\n{auth}{headers}"
                  f"Connection: close\r\n\r\n".encode())
        return Reader(s).read_response()


class AuditedGateway:
    """Fresh keys, a stand-in cluster and a gateway recording to an audit log, cleaned up with the test."""

    def __init__(self, test, audit_extra="", policy=False, standin_args=None, admin_address=None, db=None):
        self.test = test
        self.tmp = TempDir()
        test.addCleanup(self.tmp.cleanup)
        self.certs = make_certs(os.path.join(self.tmp.path, "certs"))
        self.keys = os.path.join(self.tmp.path, "keys")
        self.db = db or os.path.join(self.tmp.path, "db")
        test.assertEqual(sovgw("keys", "init", self.keys).returncode, 0)
        extra = ""
        if policy:
            path = os.path.join(self.tmp.path, "policy.yaml")
            with open(path, "w") as f:
                f.write(policy if isinstance(policy, str) else POLICY)
            extra += f"policy: {path}\n"
        extra += f"audit:\n  db: {self.db}\n  keys: {self.keys}\n{audit_extra}"
        self.standin = start_standin(self.certs, **(standin_args or {}))
        test.addCleanup(self.standin.stop)
        self.config = gateway_yaml(self.certs, cluster_yaml("paris", f"127.0.0.1:{self.standin.port}", self.certs),
                                   extra=extra)
        token_file = os.path.join(self.tmp.path, "admin.token")
        with open(os.open(token_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(ADMIN_TOKEN + "\n")
        self.config = self.config.replace(
            "admin:\n  address: 127.0.0.1",
            f"admin:\n  address: {admin_address or '127.0.0.1'}\n  token_file: {token_file}\n  min_retention: 0s")
        self.gateway = self.start()

    def start(self):
        g = Gateway(self.config, self.tmp.path)
        self.test.addCleanup(g.stop)
        return g


class AuditRecordingTest(unittest.TestCase):
    def test_a_checkpoint_that_cannot_be_published_is_said_once_and_its_recovery_too(self):
        a = AuditedGateway(self, "  checkpoint_interval: 100ms\n")
        g = a.gateway
        self.assertEqual(exchange(g.port, a.certs, chat_request()).status, 200)
        self.assertTrue(wait_until(lambda: os.path.exists(a.db + ".checkpoint")))
        blocker = a.db + ".checkpoint.partial"  # a folder where the new file is written aside
        os.mkdir(blocker)
        for _ in range(3):  # each grows the tree: a checkpoint is due, and fails
            self.assertEqual(exchange(g.port, a.certs, chat_request()).status, 200)
        line = g.wait_for_json(lambda o: o.get("msg", "").startswith("audit checkpoint not signed or published"))
        self.assertEqual(line["level"], "error")
        self.assertIn(blocker, line["error"])
        self.assertTrue(wait_until(lambda: metric(g, "sovgw_audit_checkpoint_failures_total") >= 1))
        os.rmdir(blocker)  # retried without a new record: the checkpoint signed meanwhile is published
        g.wait_for_json(lambda o: o.get("msg") == "audit checkpoints are signed and published again")
        signed = sovgw("audit", "verify", "--db", a.db, "--pubkey", os.path.join(a.keys, "signing.pub"))
        self.assertIn(f"the checkpoint published at {a.db}.checkpoint (size 4) is reproduced", signed.stdout)
        failing = [o for o in g.logs() if o.get("msg", "").startswith("audit checkpoint not signed")]
        self.assertEqual(len(failing), 1)  # said once, not per attempt

    def test_a_new_log_verifies_as_soon_as_the_gateway_listens(self):
        # Probe round 37: a brand-new log had no checkpoint until the first checkpoint_interval, and
        # `verify` failed it (no_checkpoint, exit 1) on a healthy gateway.
        a = AuditedGateway(self, "  checkpoint_interval: 60s\n")
        p = sovgw("audit", "verify", "--db", a.db, "--pubkey", os.path.join(a.keys, "signing.pub"), "--format", "json")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        doc = json.loads(p.stdout)
        self.assertEqual((doc["ok"], doc["records"], doc["checkpoints"], doc["checkpoint"]["size"]), (True, 0, 1, 0))
        self.assertEqual(doc["held_checkpoints"], [doc["checkpoint"]])  # published beside the log too

    def test_a_start_signs_what_a_killed_gateway_left_unsigned_before_it_listens(self):
        # Probe round 44: records made after the last checkpoint of a gateway that was killed, and
        # the in-flight notes its next start recorded, stayed unsigned until that start's first
        # checkpoint interval, though prove tells the auditor "the next start signs it".
        a = AuditedGateway(self, "  checkpoint_interval: 1h\n")
        g = a.gateway
        self.assertEqual(exchange(g.port, a.certs, chat_request()).status, 200)
        s = tls_connect(g.port, a.certs)
        s.sendall(chat_request(CHAT_STREAM, {"x-standin-chunks": "200", "x-standin-delay-ms": "100"}))
        self.assertEqual(Reader(s).read_response(head_only=True).status, 200)
        g.proc.kill()
        g.proc.wait(timeout=30)
        s.close()
        pub = os.path.join(a.keys, "signing.pub")
        before = sovgw("audit", "verify", "--db", a.db, "--pubkey", pub)
        self.assertIn("UNSIGNED: 1 newer record", before.stdout)
        a.start()
        after = sovgw("audit", "verify", "--db", a.db, "--pubkey", pub, "--format", "json")
        self.assertEqual(after.returncode, 0, after.stdout + after.stderr)
        doc = json.loads(after.stdout)
        self.assertEqual((doc["records"], doc["checkpoint"]["size"]), (2, 2), doc)

    def test_every_request_is_recorded_and_verifiable(self):
        # Records appended after each response (the faster mode); the SIGKILL test below covers the
        # default, durable before the response's last byte.
        a = AuditedGateway(self, "  checkpoint_interval: 200ms\n  record_before_response: false\n", policy=True)
        g, certs, keys, db = a.gateway, a.certs, a.keys, a.db

        ok = exchange(g.port, certs, chat_request())
        denied = exchange(g.port, certs, chat_request(b'{"model":"llama-3","messages":[]}'))
        with tls_connect(g.port, certs) as s:  # a framing error is recorded too
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Length: +1\r\n\r\nx")
            bad = Reader(s).read_response()
        self.assertEqual((ok.status, denied.status, bad.status), (200, 403, 400))

        g.signal(signal.SIGTERM)
        g.proc.wait(timeout=30)
        self.assertEqual(g.proc.returncode, 0)
        closed = g.wait_for_json(lambda o: o.get("msg") == "audit log closed")
        self.assertEqual(closed["status"], "ok")

        r = sovgw("audit", "verify", "--db", db, "--pubkey", os.path.join(keys, "signing.pub"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

        def record(request_id):
            q = sovgw("audit", "query", "--db", db, "--request-id", request_id, "--format", "jsonl")
            self.assertEqual(q.returncode, 0, q.stderr)
            rows = [json.loads(line) for line in q.stdout.splitlines() if line.strip()]
            self.assertEqual(len(rows), 1, q.stdout)
            return rows[0]

        permit = record(ok.header("x-request-id"))
        self.assertEqual(permit["decision"], "permit")
        self.assertEqual(permit["cluster"], "paris")
        self.assertEqual(permit["cluster_country"], "FR")
        self.assertEqual(permit["client_country"], "private")
        self.assertEqual(permit["status"], 200)
        self.assertEqual(permit["model"], "mistral-small")
        deny = record(denied.header("x-request-id"))
        self.assertEqual(deny["decision"], "deny")
        self.assertIn("forbid-llama", deny["rule_ids"])
        self.assertEqual(deny["status"], 403)
        self.assertEqual(deny["cluster"], "")
        framing = record(bad.header("x-request-id"))
        self.assertEqual(framing["status"], 400)
        self.assertEqual(framing["error_kind"], "bad_request")

        shown = sovgw("audit", "show", "--db", db, "--request-id", ok.header("x-request-id"), "--auditor-key",
                      os.path.join(keys + "-auditor", "auditor.key"))
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertIn("Bonjour", shown.stdout)  # the prompt
        self.assertIn("chat.completion", shown.stdout)  # the completion as relayed

    def test_the_request_just_made_can_be_proved_at_once(self):
        # The demo's tour proves its last request right after making it: prove waits for the
        # gateway's next checkpoint rather than answer "not covered yet".
        a = AuditedGateway(self, "  checkpoint_interval: 2s\n")
        for _ in range(2):
            ok = exchange(a.gateway.port, a.certs, chat_request())
            self.assertEqual(ok.status, 200)
            r = sovgw("audit", "prove", "--db", a.db, "--request-id", ok.header("x-request-id"))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(r.stdout.startswith("c2sp.org/tlog-proof@v1\n"), r.stdout)

    def test_a_request_whose_client_leaves_mid_body_is_recorded(self):
        a = AuditedGateway(self, "  checkpoint_interval: 200ms\n")
        g, db = a.gateway, a.db
        ok = exchange(g.port, a.certs, chat_request())
        self.assertEqual(ok.status, 200)
        for head in (b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n" + b'{"model":"mistral-small","messages":[',
                     b"POST /v1/embeddings HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n40\r\n" + b'{"model":"mistral-small",'):
            with tls_connect(g.port, a.certs) as s:
                s.sendall(head)
        # The client never finished its body: nothing was forwarded, and the attempt is on record.
        def left():
            q = sovgw("audit", "query", "--db", db, "--format", "jsonl")
            rows = [json.loads(line) for line in q.stdout.splitlines() if line.strip()]
            return [r for r in rows if r.get("error_kind") == "client_disconnected"]
        self.assertTrue(wait_until(lambda: len(left()) == 2), left())
        rows = left()
        self.assertEqual(sorted(r["path"] for r in rows), ["/v1/chat/completions", "/v1/embeddings"])
        for r in rows:
            self.assertEqual((r["method"], r["status"], r["cluster"]), ("POST", 499, ""))
            # Never answered (probe round 35: recorded as no-policy, "answered without a decision").
            self.assertEqual(r["decision"], "none")
        # Without a policy, the record's summary names no rule and no policy version.
        shown = sovgw("audit", "show", "--db", db, "--request-id", ok.header("x-request-id"), "--auditor-key",
                      os.path.join(a.keys + "-auditor", "auditor.key"))
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertIn("  decision:    no-policy\n", shown.stdout)

    def test_requests_cut_at_the_drain_deadline_are_recorded(self):
        # Probe round 17: at the drain deadline the workers stopped, and the requests still in
        # progress (a stream half sent, a request waiting for its answer) had no record, though the
        # client held a signed receipt for one. Each is now cut, then recorded, before the stop.
        a = AuditedGateway(self, "  checkpoint_interval: 200ms\n")
        a.config = a.config.replace("threads: 2\n", "threads: 2\ntimeouts:\n  drain: 500ms\n")
        a.gateway.stop()
        g = a.start()
        streaming = tls_connect(g.port, a.certs)
        streaming.sendall(chat_request(CHAT_STREAM, {"x-standin-chunks": "200", "x-standin-delay-ms": "100"}))
        head = Reader(streaming).read_response(head_only=True)
        self.assertEqual(head.status, 200)
        waiting = tls_connect(g.port, a.certs)
        waiting.sendall(chat_request(extra_headers={"x-standin-fault": "slow-headers", "x-standin-head-delay-ms": "8000"}))
        self.assertTrue(wait_until(lambda: metric(g, "sovgw_active_connections") >= 2))
        time.sleep(0.3)  # the second request is at the cluster
        g.signal(signal.SIGTERM)
        g.proc.wait(timeout=20)
        self.assertEqual(g.proc.returncode, 0)
        q = sovgw("audit", "query", "--db", a.db, "--format", "jsonl")
        rows = {r["request_id"]: r for r in (json.loads(line) for line in q.stdout.splitlines() if line.strip())}
        cut = rows.get(head.header("x-request-id"))
        self.assertIsNotNone(cut, rows)
        self.assertEqual((cut["error_kind"], cut["status"]), ("shutdown_cut", 200), cut)
        others = [r for r in rows.values() if r["request_id"] != head.header("x-request-id")]
        self.assertEqual([(r["error_kind"], r["status"]) for r in others], [("shutdown_cut", 503)], others)
        drained = g.wait_for_json(lambda o: o.get("msg") == "drained")
        self.assertEqual((drained["connections_cut"], drained.get("connections_stopped")), (2, 0), drained)
        self.assertEqual(sovgw("audit", "verify", "--db", a.db, "--pubkey", os.path.join(a.keys, "signing.pub"))
                         .returncode, 0)
        streaming.close()
        waiting.close()

    def test_a_corrupted_write_ahead_log_is_reported_not_cut_short(self):
        # While the gateway runs, the newest records live in RocksDB's write-ahead log. A byte
        # flipped in the middle of it must fail verification, not end the log early and pass.
        a = AuditedGateway(self, "  checkpoint_interval: 200ms\n")
        g, keys, db = a.gateway, a.keys, a.db
        for _ in range(60):
            self.assertEqual(exchange(g.port, a.certs, chat_request()).status, 200)
        copy = os.path.join(a.tmp.path, "copy")

        def copied_whole():  # a copy taken once the last checkpoint covers every record
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(db, copy, ignore=shutil.ignore_patterns("LOCK"))
            return sovgw("audit", "verify", "--db", copy, "--pubkey", os.path.join(keys, "signing.pub")).returncode == 0
        self.assertTrue(wait_until(copied_whole))
        wal = max((f for f in os.listdir(copy) if f.endswith(".log")), key=lambda f: os.path.getsize(os.path.join(copy, f)))
        path = os.path.join(copy, wal)
        with open(path, "rb") as f:
            data = bytearray(f.read())
        self.assertGreater(len(data), 20000)
        data[len(data) // 3] ^= 0x01
        with open(path, "wb") as f:
            f.write(data)
        r = sovgw("audit", "verify", "--db", copy, "--pubkey", os.path.join(keys, "signing.pub"))
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("Corruption", r.stdout + r.stderr)
        q = sovgw("audit", "query", "--db", copy, "--format", "jsonl")
        self.assertNotEqual(q.returncode, 0, q.stdout[-300:])

    def test_the_policy_obligation_lowers_what_the_record_keeps(self):
        # audit.payload is sealed; matched rules' log_payload obligations keep less: a digest of the
        # prompt and the completion as relayed, or nothing.
        policy = POLICY.replace("rules:\n", "data_classes:\n  personal: {}\nrules:\n", 1) + """  - id: hr-digest-only
    effect: permit
    when:
      model: ["hr-*"]
    obligations: {log_payload: digest}
    reason: HR conversations are kept as digests only.
  - id: medical-not-kept
    effect: permit
    when:
      model: ["med-*"]
    obligations: {log_payload: none}
    reason: Medical conversations are not kept.
"""
        a = AuditedGateway(self, "  payload: sealed\n  record_before_response: true\n", policy=policy)
        g, certs, keys, db = a.gateway, a.certs, a.keys, a.db
        bodies = {mode: json.dumps({"model": model, "messages": [{"role": "user", "content": f"Bonjour {mode}"}]})
                  .encode() for mode, model in (("sealed", "mistral-small"), ("digest", "hr-assistant"),
                                                ("none", "med-triage"))}
        responses = {mode: exchange(g.port, certs, chat_request(body, {"Sovereign-Data-Class": "personal"}))
                     for mode, body in bodies.items()}
        self.assertEqual([r.status for r in responses.values()], [200, 200, 200])
        g.signal(signal.SIGTERM)
        g.proc.wait(timeout=30)

        for mode, resp in responses.items():
            q = sovgw("audit", "query", "--db", db, "--request-id", resp.header("x-request-id"), "--format", "jsonl")
            self.assertEqual(q.returncode, 0, q.stderr)
            row = json.loads(q.stdout.splitlines()[0])
            self.assertEqual(row["payload"], mode, row)
            self.assertEqual(row["data_classes"], ["personal"], row)
            shown = sovgw("audit", "show", "--db", db, "--request-id", resp.header("x-request-id"), "--auditor-key",
                          os.path.join(keys + "-auditor", "auditor.key"))
            if mode == "sealed":
                self.assertEqual(shown.returncode, 0, shown.stderr)
                self.assertIn("Bonjour sealed", shown.stdout)
                continue
            self.assertNotEqual(shown.returncode, 0)
            self.assertIn(f"payload mode: {mode}", shown.stderr)
            if mode == "digest":
                # The digest commits to the prompt and the completion as relayed: an auditor holding
                # both can check them against the record.
                encoded = b"".join(len(part).to_bytes(4, "big") + part for part in (bodies[mode], resp.body))
                self.assertEqual(row["payload_sha256"], hashlib.sha256(encoded).hexdigest())
            else:
                self.assertEqual(row["payload_sha256"], "")

    def test_a_digest_commits_to_the_prompt_and_the_completion(self):
        a = AuditedGateway(self, "  payload: digest\n")
        resp = exchange(a.gateway.port, a.certs, chat_request())
        self.assertEqual(resp.status, 200)
        a.gateway.signal(signal.SIGTERM)
        a.gateway.proc.wait(timeout=30)
        q = sovgw("audit", "query", "--db", a.db, "--request-id", resp.header("x-request-id"), "--format", "jsonl")
        self.assertEqual(q.returncode, 0, q.stderr)
        row = json.loads(q.stdout.splitlines()[0])
        self.assertEqual(row["payload"], "digest")
        prompt = chat_request().split(b"\r\n\r\n", 1)[1]
        encoded = b"".join(len(part).to_bytes(4, "big") + part for part in (prompt, resp.body))
        self.assertEqual(row["payload_sha256"], hashlib.sha256(encoded).hexdigest())

    def test_a_complete_response_means_a_durable_record(self):
        # The gateway makes the audit record durable before the last byte of each answer. So when
        # the client has a complete response and the gateway is killed at once (SIGKILL: no drain,
        # no final checkpoint), the record is still on the log — for streamed, plain and denied
        # requests alike.
        a = AuditedGateway(self, policy=True, standin_args={"chunks": 2, "delay_ms": 1})
        g, certs, db = a.gateway, a.certs, a.db

        requests = [chat_request(), chat_request(CHAT_STREAM), chat_request(b'{"model":"llama-3","messages":[]}')]
        seen = []
        with tls_connect(g.port, certs) as s:
            reader = Reader(s)
            for i in range(30):
                s.sendall(requests[i % 3])
                resp = reader.read_response()
                self.assertEqual(resp.status, (200, 200, 403)[i % 3])
                seen.append(resp.header("x-request-id"))
            g.proc.kill()
            g.proc.wait(timeout=30)

        for request_id in seen:
            q = sovgw("audit", "query", "--db", db, "--request-id", request_id, "--format", "jsonl")
            self.assertEqual(q.returncode, 0, q.stderr)
            rows = [json.loads(line) for line in q.stdout.splitlines() if line.strip()]
            self.assertEqual(len(rows), 1, f"request {request_id} is missing from the log after SIGKILL")
        # And the log still opens for writing (its tree verifies against its last checkpoint).
        self.assertEqual(exchange(a.start().port, certs, chat_request()).status, 200)

    def test_requests_in_flight_when_the_gateway_is_killed_are_recorded_at_its_next_start(self):
        # Probe round 38: streams cut by a SIGKILL (the cluster had their prompts) had no record at
        # all. Each forwarded request leaves an in-flight note; the next start records it.
        a = AuditedGateway(self, "  checkpoint_interval: 100ms\n")
        g = a.gateway
        streams, heads = [], []
        for _ in range(4):  # answered in part: the cluster's head and some events reached the client
            s = tls_connect(g.port, a.certs)
            s.sendall(chat_request(CHAT_STREAM, {"x-standin-chunks": "200", "x-standin-delay-ms": "100"}))
            head = Reader(s).read_response(head_only=True)
            self.assertEqual(head.status, 200)
            streams.append(s)
            heads.append(head.header("x-request-id"))
        waiting = []
        for _ in range(2):  # at the cluster, no answer yet
            s = tls_connect(g.port, a.certs)
            s.sendall(chat_request(extra_headers={"x-standin-fault": "slow-headers",
                                                  "x-standin-head-delay-ms": "8000"}))
            waiting.append(s)
        self.assertTrue(wait_until(lambda: metric(g, "sovgw_active_connections") >= 6))
        time.sleep(0.5)  # the last two are at the cluster
        g.proc.kill()
        g.proc.wait(timeout=30)
        for s in streams + waiting:
            s.close()

        # Probe round 42 (3): until a writer records them, the auditor's commands say they are pending
        # (verify said OK and prove "no record": the CLI never read DB.in-flight).
        pub = os.path.join(a.keys, "signing.pub")
        verify = sovgw("audit", "verify", "--db", a.db, "--pubkey", pub)
        self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
        self.assertIn(f"WARNING: 6 requests a gateway that stopped was serving are not on the log yet "
                      f"({a.db}.in-flight): forwarded to a cluster, or answered by the gateway while its audit log "
                      f"could not write; the gateway's next start records them", verify.stdout)
        prove = sovgw("audit", "prove", "--db", a.db, "--request-id", heads[0])
        self.assertEqual(prove.returncode, 2, prove.stderr)
        self.assertIn(f"request id {heads[0]}", prove.stderr)
        self.assertIn("has no record on the log yet: it is pending in", prove.stderr)

        restarted = a.start()
        line = restarted.wait_for_json(lambda o: o.get("msg", "").startswith("recorded the requests"))
        self.assertEqual(line["requests"], 6, line)
        q = sovgw("audit", "query", "--db", a.db, "--format", "jsonl")
        rows = [json.loads(x) for x in q.stdout.splitlines() if x.strip()]
        stopped = {r["request_id"]: r for r in rows if r["error_kind"] == "gateway_stopped"}
        self.assertEqual(len(stopped), 6, rows)
        for rid in heads:
            self.assertIn(rid, stopped)
        for r in stopped.values():
            self.assertEqual((r["status"], r["decision"], r["cluster"], r["method"]), (0, "none", "paris", "POST"), r)
            self.assertIn("the gateway stopped", r["note"])
            # The tokens estimated when it was forwarded, as an unanswered request is charged (probe
            # round 46: 0, and the report called its per-tenant totals the clusters' own).
            # (A stream's body as forwarded: with the stream_options.include_usage the gateway adds.)
            self.assertGreater(r["bytes_in"], len(CHAT_STREAM) if r["request_id"] in heads else len(CHAT) - 1)
            self.assertEqual((r["prompt_tokens"], r["completion_tokens"]), ((r["bytes_in"] + 3) // 4, 256), r)
        restarted.stop()
        restarted.proc.wait(timeout=30)
        report = sovgw("audit", "report", "--db", a.db, "--pubkey", pub, "--format", "json")
        tenant = json.loads(report.stdout)["tenants"][0]
        self.assertEqual(tenant["estimated_requests"], 6, tenant)
        verify = sovgw("audit", "verify", "--db", a.db, "--pubkey", os.path.join(a.keys, "signing.pub"))
        self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
        # Recorded once: a third start finds nothing left to record.
        third = a.start()
        self.assertFalse([o for o in third.logs() if o.get("msg", "").startswith("recorded the requests")])

    def test_shred_and_retain_on_a_running_gateway(self):
        # The CLI cannot open a log a gateway holds; the admin listener runs the same jobs.
        a = AuditedGateway(self)
        g, certs, keys, db = a.gateway, a.certs, a.keys, a.db

        def admin(method, target):
            return admin_request("127.0.0.1", g.admin_port, method, target)

        ok = exchange(g.port, certs, chat_request())
        self.assertEqual(ok.status, 200)
        request_id = ok.header("x-request-id")

        # While the gateway runs, the CLI is refused (the log is busy: exit 3) and told where to go.
        r = sovgw("audit", "shred", "--db", db, "--keys", keys, "--tenant", "default")
        self.assertEqual(r.returncode, 3)
        self.assertIn("in use by another writer", r.stderr)
        self.assertIn("/admin/audit/shred", r.stderr)

        bad = [admin("POST", "/admin/audit/shred"), admin("POST", "/admin/audit/shred?tenant="),
               admin("GET", "/admin/audit/shred?tenant=default"), admin("POST", "/admin/audit/retain?older_than=9x"),
               admin("POST", "/admin/audit/retain")]
        self.assertEqual([b.status for b in bad], [400, 400, 405, 400, 400])
        self.assertIn("tenant", bad[0].json()["error"]["message"])
        # Every answer is an OpenAI-style JSON error, saying what was wrong with what was sent.
        self.assertEqual([(b.json()["error"]["type"], b.json()["error"]["code"]) for b in bad],
                         [("invalid_request_error", "bad_request")] * 2 +
                         [("invalid_request_error", "method_not_allowed")] +
                         [("invalid_request_error", "bad_request")] * 2)
        self.assertEqual(bad[2].header("allow"), "POST")
        self.assertIn("older_than '9x' is not an age", bad[3].json()["error"]["message"])
        lost = admin("GET", "/nowhere")
        self.assertEqual((lost.status, lost.json()["error"]["code"]), (404, "not_found"))
        # Probe round 40: a job's path mistyped was told to use GET (405), and a head too large for
        # the admin listener was "malformed request line": answered as the data listener answers.
        for typo in ("/admin/audit/retain/?older_than=90d", "/ADMIN/audit/retain?older_than=90d"):
            r = admin("POST", typo)
            self.assertEqual((r.status, r.json()["error"]["code"]), (404, "not_found"), typo)
            self.assertIn("the jobs are POST /admin/audit/shred and POST /admin/audit/retain",
                          r.json()["error"]["message"])
        with socket.create_connection(("127.0.0.1", g.admin_port), timeout=10) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n")
            big = Reader(s).read_response()
        self.assertEqual((big.status, big.json()["error"]["code"]), (431, "headers_too_large"))
        with socket.create_connection(("127.0.0.1", g.admin_port), timeout=10) as s:
            s.sendall(b"GET /metrics?" + b"a" * 9000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            long_line = Reader(s).read_response()
        self.assertEqual((long_line.status, long_line.json()["error"]["code"]), (414, "request_line_too_long"))

        shred = admin("POST", "/admin/audit/shred?tenant=default")
        self.assertEqual(shred.status, 200, shred.body)
        self.assertEqual(shred.json()["tenant"], "default")
        retain = admin("POST", "/admin/audit/retain?older_than=0s")
        self.assertEqual(retain.status, 200, retain.body)
        self.assertGreaterEqual(retain.json()["dropped"], 1)  # the request's sealed payload
        # The gateway goes on serving and recording, and its metrics count the records.
        self.assertEqual(exchange(g.port, certs, chat_request()).status, 200)
        self.assertGreaterEqual(metric(g, "sovgw_audit_records_total"), 4)  # 2 requests, shred, retention
        self.assertGreaterEqual(metric(g, "sovgw_audit_syncs_total"), 1)
        self.assertEqual(metric(g, "sovgw_audit_tree_size"), metric(g, "sovgw_audit_records_total"))

        g.signal(signal.SIGTERM)
        g.proc.wait(timeout=30)
        self.assertEqual(g.proc.returncode, 0)
        r = sovgw("audit", "verify", "--db", db, "--pubkey", os.path.join(keys, "signing.pub"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        shown = sovgw("audit", "show", "--db", db, "--request-id", request_id, "--auditor-key",
                      os.path.join(keys + "-auditor", "auditor.key"))
        self.assertNotEqual(shown.returncode, 0)  # payload gone (retention) and its key destroyed
        self.assertNotIn("Bonjour", shown.stdout)
        q = sovgw("audit", "query", "--db", db, "--format", "jsonl")
        notes = [json.loads(line).get("note", "") for line in q.stdout.splitlines() if line.strip()]
        self.assertTrue(any(n.startswith("crypto-shred") for n in notes), notes)
        self.assertTrue(any(n.startswith("retention") for n in notes), notes)

    def test_admin_jobs_need_the_token_and_refuse_browsers(self):
        a = AuditedGateway(self)
        g = a.gateway

        def admin(method, target, **kw):
            return admin_request("127.0.0.1", g.admin_port, method, target, **kw)

        self.assertEqual(admin("GET", "/healthz", token=None).status, 200)  # health needs no token
        self.assertEqual(admin("GET", "/metrics", token=None).status, 200)
        missing = admin("POST", "/admin/audit/shred?tenant=default", token=None)
        self.assertEqual(missing.status, 401, missing.body)
        self.assertEqual(missing.header("www-authenticate"), "Bearer")
        self.assertEqual(admin("POST", "/admin/audit/retain?older_than=1d", token="x" * 48).status, 401)
        # A local web page cannot post a form here, token or not.
        cross = admin("POST", "/admin/audit/retain?older_than=1d", headers="Origin: http://evil.example\r\n")
        self.assertEqual(cross.status, 403, cross.body)
        fetch = admin("POST", "/admin/audit/retain?older_than=1d", headers="Sec-Fetch-Site: cross-site\r\n")
        self.assertEqual(fetch.status, 403, fetch.body)
        # An irreversible job takes no ambiguous input: a second Authorization (the first is the
        # token), a parameter given twice or an unknown one.
        twice = admin("POST", "/admin/audit/shred?tenant=default", headers="Authorization: Bearer x\r\n")
        self.assertEqual(twice.status, 401, twice.body)
        for target in ("/admin/audit/shred?tenant=default&tenant=other", "/admin/audit/shred?tenant=a&x=1",
                       "/admin/audit/retain?older_than=1000d&older_than=0s", "/admin/audit/retain?older_than=1000d&older_than"):
            with self.subTest(target=target):
                r = admin("POST", target)
                self.assertEqual(r.status, 400, r.body)
        # A job's parameter sent as a form body, a head that cannot be read: said, not a bare 400
        # (probe round 34).
        with socket.create_connection(("127.0.0.1", g.admin_port), timeout=60) as s:
            s.sendall(f"POST /admin/audit/retain HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n"
                      "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 13\r\n"
                      "Connection: close\r\n\r\nolder_than=1s".encode())
            form = Reader(s).read_response()
        self.assertEqual(form.status, 400, form.body)
        self.assertIn("takes no request body: a job's parameters go in the query", form.json()["error"]["message"])
        twice = admin("GET", "/metrics", token=None, headers="Host: 127.0.0.1\r\n")
        self.assertEqual(twice.status, 400, twice.body)
        self.assertIn("the request cannot be read", twice.json()["error"]["message"])
        ok = admin("POST", "/admin/audit/shred?tenant=default")
        self.assertEqual(ok.status, 404, ok.body)  # authorised; this tenant has no data key yet
        self.assertIn("no data key", ok.json()["error"]["message"])
        # DNS rebinding: a page whose own name resolves to the listener reaches it under that name,
        # and may read what it answers (same origin for the browser): every path is refused to it.
        for path in ("/metrics", "/readyz", "/healthz"):
            rebound = admin("GET", path, token=None, host_field=f"evil.example:{g.admin_port}")
            self.assertEqual(rebound.status, 403, rebound.body)
            self.assertIn("add the name to admin.hosts", rebound.json()["error"]["message"])
        for host in ("localhost", f"LOCALHOST:{g.admin_port}", "[::1]:80", "127.0.0.1"):
            self.assertEqual(admin("GET", "/healthz", token=None, host_field=host).status, 200, host)

    def test_the_admin_token_rotates_on_sighup(self):
        a = AuditedGateway(self)
        g = a.gateway
        token_file = os.path.join(a.tmp.path, "admin.token")
        shred = "/admin/audit/shred?tenant=default"

        def status(token):
            return admin_request("127.0.0.1", g.admin_port, "POST", shred, token=token).status

        def reloads(msg):
            return sum(1 for o in g.logs() if o.get("msg") == msg)

        new_token = "rotated-" + "7" * 40
        with open(token_file, "w") as f:
            f.write(new_token + "\n")
        g.signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: reloads("admin token reloaded") == 1))
        self.assertEqual(status(ADMIN_TOKEN), 401)  # the old token no longer opens admin jobs
        self.assertEqual(status(new_token), 404)  # authorised (no data key for this tenant yet)
        # A file others can read is refused, and the current token stays.
        os.chmod(token_file, 0o644)
        g.signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: reloads("admin token reload failed; keeping the current token") == 1))
        self.assertEqual(metric(g, "sovgw_admin_token_reload_failures_total"), 1)
        self.assertEqual(status(new_token), 404)

    def test_minimum_retention_age(self):
        a = AuditedGateway(self)
        a.gateway.stop()
        config = a.config.replace("  min_retention: 0s", "")  # the default: one day
        g = Gateway(config, a.tmp.path)
        self.addCleanup(g.stop)
        r = admin_request("127.0.0.1", g.admin_port, "POST", "/admin/audit/retain?older_than=0s")
        self.assertEqual(r.status, 400, r.body)
        self.assertIn("admin.min_retention", r.json()["error"]["message"])
        self.assertIn("younger than 1d (admin.min_retention)", r.json()["error"]["message"])  # as the config writes it

    def test_config_check_refuses_what_serve_refuses_in_the_audit_keys_and_admin_token(self):
        # `config check` is the pre-flight of `serve`: each of these made serve exit 3 while check said ok.
        a = AuditedGateway(self)
        a.gateway.stop()
        path = os.path.join(a.tmp.path, "gw.yaml")
        token_file = os.path.join(a.tmp.path, "admin.token")

        def check(config):
            with open(path, "w") as f:
                f.write(config)
            return sovgw("config", "check", path)

        self.assertEqual(check(a.config).returncode, 0, check(a.config).stderr)
        cases = []
        missing = a.config.replace(f"keys: {a.keys}", f"keys: {a.keys}-missing")
        cases.append((missing, f"audit.keys: cannot open {a.keys}-missing: No such file or directory"))
        # A key file the config names is named by its setting, by serve as by check.
        cases.append((a.config + f"signing:\n  key: {a.keys}-missing/http.key\n",
                      f"signing.key: cannot open {a.keys}-missing/http.key: No such file or directory"))
        for config, needle in cases:
            check(config)  # writes it
            r = sovgw("serve", "--config", path)
            self.assertEqual(r.returncode, 3, r.stderr)
            self.assertIn(needle, r.stderr)
        os.chmod(os.path.join(a.keys, "signing.key"), 0o644)
        cases.insert(1, (a.config, "its mode 0644 lets group or others access it"))
        for config, needle in cases:
            r = check(config)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn(needle, r.stderr)
            self.assertNotIn(": ok (", r.stdout)
        os.chmod(os.path.join(a.keys, "signing.key"), 0o600)
        shutil.copy(os.path.join(a.keys, "signing.key"), os.path.join(a.keys, "auditor.key"))
        r = check(a.config)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("auditor.key is in the gateway's key directory", r.stderr)
        os.remove(os.path.join(a.keys, "auditor.key"))
        for mode, content, needle in ((0o644, ADMIN_TOKEN, "lets other users read it (run `chmod 600"),
                                      (0o600, "short", "at least 32 characters, not 5"),
                                      # probe round 36: taken, then no request could carry it
                                      (0o600, "a" * 20 + "\x01" + "b" * 20, "it has byte 0x01 at character 21"),
                                      (0o600, "a" * 20 + " " + "b" * 20, "it has byte 0x20 at character 21")):
            with open(token_file, "w") as f:
                f.write(content + "\n")
            os.chmod(token_file, mode)
            r = check(a.config)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn(needle, r.stderr)
        os.remove(token_file)
        r = check(a.config)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(f"gw.yaml:9:15: admin.token_file: cannot open {token_file}: No such file or directory", r.stderr)

    def test_token_file_permissions_and_non_loopback_bind(self):
        a = AuditedGateway(self)
        a.gateway.stop()
        token_file = os.path.join(a.tmp.path, "admin.token")
        os.chmod(token_file, 0o644)
        path = os.path.join(a.tmp.path, "gw.yaml")
        with open(path, "w") as f:
            f.write(a.config)
        r = sovgw("serve", "--config", path)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("chmod 600", r.stderr)
        without = a.config.replace(f"  token_file: {token_file}\n", "").replace("address: 127.0.0.1\n  min", "address: 0.0.0.0\n  min")
        with open(path, "w") as f:
            f.write(without)
        r = sovgw("config", "check", path)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not a loopback address", r.stderr)


class AuditFailClosedTest(unittest.TestCase):
    def test_nothing_is_forwarded_past_the_space_bound(self):
        # audit.max_bytes far below what the database already holds: the log is "full" at its first
        # check, so no request may reach the cluster, /readyz says why, and the refusal is recorded.
        a = AuditedGateway(self, "  max_bytes: 1KiB\n")
        g = a.gateway
        deadline = time.time() + 60
        while time.time() < deadline:
            resp = exchange(g.port, a.certs, chat_request())
            if resp.status == 503:
                break
            time.sleep(0.2)
        self.assertEqual(resp.status, 503, resp.body)
        self.assertEqual(resp.json()["error"]["code"], "audit_unavailable")
        ready = admin_request("127.0.0.1", g.admin_port, "GET", "/readyz", token=None)
        self.assertEqual(ready.status, 503)
        self.assertIn("audit.max_bytes", ready.body.decode())
        self.assertEqual(metric(g, "sovgw_audit_space_exhausted"), 1)
        self.assertTrue(any(o.get("msg", "").startswith("audit log cannot record") for o in g.logs()))
        # The gateway's own refusal, not the cluster's 503 (probe round 36: a per-cluster 5xx alert
        # blamed a healthy cluster).
        # (Counted once the answer is written: polled, not raced.)
        metrics = lambda: admin_request("127.0.0.1", g.admin_port, "GET", "/metrics", token=None).body.decode()
        self.assertTrue(wait_until(lambda: re.search(r'sovgw_requests_total\{cluster="none",status="503"\} [1-9]',
                                                     metrics())), metrics())
        self.assertNotRegex(metrics(), r'sovgw_requests_total\{cluster="(?!none")[^"]*",status="503"\}')

    def test_refused_requests_keep_a_digest_not_the_body(self):
        a = AuditedGateway(self, policy=True)
        g = a.gateway
        # Malformed (the body cannot be read the way a cluster would): refused, never forwarded.
        resp = exchange(g.port, a.certs, chat_request(body=b'{"model": "mistral-small", "x": "Secret-7431"'))
        self.assertEqual(resp.status, 400, resp.body)
        rid = resp.header("x-request-id")
        g.stop()
        q = sovgw("audit", "query", "--db", a.db, "--request-id", rid, "--format", "jsonl")
        rec = json.loads(q.stdout.strip().splitlines()[-1])
        self.assertEqual(rec.get("payload"), "digest", rec)

    def test_an_unwritable_write_ahead_log_fails_closed_resumes_and_keeps_the_cut_request(self):
        """Probe round 38: with the log's folder made immutable under a running gateway, the request being
        recorded was forwarded, cut, and never recorded (its access line said status 200); RocksDB
        could not resume, so the gateway stayed failed after the cause was removed, saying nothing."""
        a = AuditedGateway(self, "  checkpoint_interval: 200ms\n")
        g = a.gateway
        self.assertEqual(exchange(g.port, a.certs, chat_request()).status, 200)
        # The folder and every file in it, as the tester did: RocksDB can neither append to its
        # write-ahead log nor start a new one (a reopen starts one: with the folder writable, the
        # log resumes at once).
        unlock = self.immutable_log(a)
        self.send_and_see_it_cut(a)
        failed = g.wait_for_json(lambda o: o.get("msg") == "audit append failed")
        rid = failed["request_id"]
        access = g.wait_for_json(lambda o: o.get("msg") == "request" and o.get("request_id") == rid)
        self.assertEqual((access["status"], access.get("response_status"), access["error"]),
                         (0, 200, "audit_unavailable"), access)
        refused = exchange(g.port, a.certs, chat_request())
        self.assertEqual(refused.status, 503)
        self.assertEqual(refused.json()["error"]["code"], "audit_unavailable")
        attempt = g.wait_for_json(lambda o: o.get("msg", "").startswith("audit log could not resume"))
        self.assertIn("Operation not permitted", attempt["error"])
        # The admin jobs write to the log too: the data plane's 503, not a 500 with RocksDB's words
        # (probe round 43).
        job = admin_request("127.0.0.1", g.admin_port, "POST", "/admin/audit/retain?older_than=0s")
        self.assertEqual(job.status, 503, job.body)
        self.assertIn("nothing was dropped", json.loads(job.body)["error"]["message"])
        ready = admin_request("127.0.0.1", g.admin_port, "GET", "/readyz", token=None).body.decode()
        self.assertIn("resuming failed", ready)
        self.assertIn("restart the gateway", ready)
        self.assertGreaterEqual(metric(g, "sovgw_audit_resume_failures_total"), 1)

        unlock()
        self.assertTrue(wait_until(lambda: exchange(g.port, a.certs, chat_request()).status == 200,
                                   timeout=30, interval=0.5), "the audit log did not resume once writable")
        self.assertGreaterEqual(metric(g, "sovgw_audit_storage_recoveries_total"), 1)
        self.assertEqual(admin_request("127.0.0.1", g.admin_port, "GET", "/readyz", token=None).status, 200)
        false_claims = [o for o in g.logs() if "records are still recorded" in o.get("msg", "")]
        self.assertEqual(false_claims, [])
        g.stop()
        q = sovgw("audit", "query", "--db", a.db, "--request-id", rid, "--format", "jsonl")
        rows = [json.loads(x) for x in q.stdout.splitlines() if x.strip()]
        self.assertEqual(len(rows), 1, (q.stdout, q.stderr))
        self.assertEqual((rows[0]["error_kind"], rows[0]["cluster"]), ("audit_unavailable", "paris"), rows[0])
        self.assertIn("recorded when the audit log resumed", rows[0]["note"])
        verify = sovgw("audit", "verify", "--db", a.db, "--pubkey", os.path.join(a.keys, "signing.pub"))
        self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)

    def send_and_see_it_cut(self, a):
        """A request whose record cannot be made: no complete answer (fail closed)."""
        try:
            resp = exchange(a.gateway.port, a.certs, chat_request())
            self.assertNotEqual(resp.status, 200, "a response whose record failed was completed")
        except (EOFError, ConnectionResetError, OSError):
            pass  # cut before its end

    def immutable_log(self, a):
        """The log's folder and every file in it made immutable (root and chattr, else the test skips).
        Returns the function that undoes it."""
        if os.geteuid() != 0 or shutil.which("chattr") is None:
            self.skipTest("needs root and chattr to make the write-ahead log immutable")
        files = [a.db] + [os.path.join(a.db, n) for n in os.listdir(a.db)]
        unlock = lambda: subprocess.run(["chattr", "-i", *files], capture_output=True)
        self.addCleanup(unlock)
        self.assertEqual(subprocess.run(["chattr", "+i", *files], capture_output=True).returncode, 0)
        return unlock

    def records(self, a, rid):
        q = sovgw("audit", "query", "--db", a.db, "--request-id", rid, "--format", "jsonl")
        rows = [json.loads(x) for x in q.stdout.splitlines() if x.strip()]
        self.assertEqual(len(rows), 1, (rid, q.stdout, q.stderr))
        return rows[0]

    def test_an_in_flight_note_that_cannot_be_kept_refuses_says_so_and_records_nothing_sent(self):
        """Probe round 46: with the in-flight notes unwritable (a full disk), every request was
        refused "nothing was sent" while /readyz said ready, and each record named the endpoint
        and its round trip, so proofs and the report showed it forwarded and served."""
        a = AuditedGateway(self, "  checkpoint_interval: 200ms\n")
        g = a.gateway
        self.assertEqual(exchange(g.port, a.certs, chat_request()).status, 200)
        notes = a.db + ".in-flight"
        if os.geteuid() != 0 or shutil.which("chattr") is None:
            self.skipTest("needs root and chattr to make the in-flight notes immutable")
        files = [notes] + [os.path.join(notes, n) for n in os.listdir(notes)]
        unlock = lambda: subprocess.run(["chattr", "-i", *files], capture_output=True)
        self.addCleanup(unlock)
        self.assertEqual(subprocess.run(["chattr", "+i", *files], capture_output=True).returncode, 0)
        refused = exchange(g.port, a.certs, chat_request())
        self.assertEqual(refused.status, 503, refused.body)
        self.assertIn("cannot note this request; nothing was sent", refused.json()["error"]["message"])
        rid = refused.header("x-request-id")
        ready = admin_request("127.0.0.1", g.admin_port, "GET", "/readyz", token=None)
        self.assertEqual(ready.status, 503, ready.body)
        self.assertIn("in-flight note", ready.body.decode())
        self.assertIn("no request is forwarded until a note can be kept", ready.body.decode())
        self.assertEqual(metric(g, "sovgw_audit_failed"), 1)
        # Refused before the note while it cannot be kept, and recorded (the log itself is fine).
        again = exchange(g.port, a.certs, chat_request())
        self.assertEqual((again.status, again.json()["error"]["code"]), (503, "audit_unavailable"))
        unlock()
        self.assertTrue(wait_until(lambda: exchange(g.port, a.certs, chat_request()).status == 200,
                                   timeout=30, interval=0.5), "forwarding did not resume once the notes were writable")
        self.assertEqual(admin_request("127.0.0.1", g.admin_port, "GET", "/readyz", token=None).status, 200)
        g.signal(signal.SIGTERM)  # (stop() kills: its last records would be left unsigned)
        self.assertEqual(g.proc.wait(timeout=30), 0)
        rec = self.records(a, rid)
        self.assertEqual((rec["error_kind"], rec["status"]), ("audit_unavailable", 503), rec)
        self.assertEqual((rec["endpoint"], rec["endpoint_address"], rec.get("endpoint_rtt_us", 0)), ("", "", 0), rec)
        report = sovgw("audit", "report", "--db", a.db, "--pubkey", os.path.join(a.keys, "signing.pub"),
                       "--format", "json")
        self.assertEqual(report.returncode, 0, report.stderr)
        evidence = json.loads(report.stdout)["evidence"]
        served = sum(e["requests"] for e in evidence if e.get("cluster") == "paris")
        ok = [json.loads(x) for x in sovgw("audit", "query", "--db", a.db, "--format", "jsonl").stdout.splitlines()
              if x.strip() and json.loads(x).get("status") == 200]
        self.assertEqual(served, len(ok), (evidence, ok))  # and none of the refused

    def test_a_failed_data_key_write_fails_closed_and_the_answers_given_meanwhile_are_recorded(self):
        """Probe round 42: the first sealed payload of a tenant writes its data key at once. With the
        log unwritable before any request, that write failed the record but not the log: every
        forwarded request went on to the cluster unrecorded while /readyz said ready."""
        a = AuditedGateway(self, "  checkpoint_interval: 200ms\n")
        g = a.gateway
        unlock = self.immutable_log(a)
        self.send_and_see_it_cut(a)
        cut = g.wait_for_json(lambda o: o.get("msg") == "audit append failed")["request_id"]
        self.assertEqual(metric(g, "sovgw_audit_storage_failures_total"), 1)
        refused = exchange(g.port, a.certs, chat_request())
        self.assertEqual((refused.status, refused.json()["error"]["code"]), (503, "audit_unavailable"))
        self.assertEqual(admin_request("127.0.0.1", g.admin_port, "GET", "/readyz", token=None).status, 503)
        unlock()
        self.assertTrue(wait_until(lambda: exchange(g.port, a.certs, chat_request()).status == 200,
                                   timeout=30, interval=0.5), "the audit log did not resume once writable")
        g.stop()
        row = self.records(a, cut)
        self.assertEqual((row["error_kind"], row["cluster"]), ("audit_unavailable", "paris"), row)
        self.assertIn("recorded when the audit log resumed", row["note"])
        self.assertIn("the client's answer was cut before its end", row["note"])
        row = self.records(a, refused.header("x-request-id"))
        self.assertEqual((row["error_kind"], row["status"]), ("audit_unavailable", 503), row)
        self.assertIn("the client had the gateway's own answer (status 503) before this record was durable",
                      row["note"])
        verify = sovgw("audit", "verify", "--db", a.db, "--pubkey", os.path.join(a.keys, "signing.pub"))
        self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)

    def test_a_denial_answered_while_the_log_fails_is_recorded_even_if_the_gateway_is_killed(self):
        a = AuditedGateway(self, "  checkpoint_interval: 200ms\n", policy=True)
        g = a.gateway
        self.assertEqual(exchange(g.port, a.certs, chat_request()).status, 200)  # the data key is written
        unlock = self.immutable_log(a)
        deny = exchange(g.port, a.certs, chat_request(b'{"model":"llama-3","messages":[]}'))
        rid = deny.header("x-request-id")
        g.wait_for_json(lambda o: o.get("msg") == "audit append failed" and o.get("request_id") == rid)
        g.stop()  # SIGKILL, before the log resumes: only its in-flight note keeps the denial
        unlock()
        restarted = a.start()
        self.assertEqual(exchange(restarted.port, a.certs, chat_request()).status, 200)
        restarted.stop()
        row = self.records(a, rid)
        self.assertEqual((row["status"], row["decision"], row["error_kind"]), (deny.status, "deny", "policy_denied"), row)
        self.assertIn("recorded at the gateway's next start: a storage error", row["note"])
        self.assertIn(f"the client had the gateway's own answer (status {deny.status})", row["note"])

    def test_a_full_disk_fails_closed_and_resumes(self):
        """The audit database on a small file system (tmpfs, as root) filled by someone else: the write
        that fails is answered by no complete response, nothing is forwarded while the log cannot
        record, /readyz says why, and once space is freed the log resumes by itself with every
        record that a client saw completed on it. Before the fix, RocksDB's own LOG file on the same
        full disk aborted the gateway (an assertion in Debian's librocksdb)."""
        mount = tempfile.mkdtemp(prefix="sovgw-tmpfs-")
        self.addCleanup(os.rmdir, mount)
        if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", mount],
                                               capture_output=True).returncode != 0:
            self.skipTest("needs root to mount a small tmpfs for the audit database")
        self.addCleanup(subprocess.run, ["umount", "-l", mount])
        # No free-space bound: the log meets the full disk itself (with one, the bound would stop it
        # first: test_nothing_is_forwarded_past_the_space_bound, tests/unit/audit/audit_log_test.cpp).
        a = AuditedGateway(self, "  min_free_bytes: 0\n", db=os.path.join(mount, "db"))
        g = a.gateway
        big = json.dumps({"model": "mistral-small",
                          "messages": [{"role": "user", "content": "x" * 2_000_000}]}).encode()
        completed = []

        def send():
            try:
                resp = exchange(g.port, a.certs, chat_request(body=big))
            except (EOFError, ConnectionResetError):
                return None  # cut: the record of this answer could not be made durable
            if resp.status == 200:
                completed.append(resp.header("x-request-id"))
            return resp

        self.assertEqual(send().status, 200)
        # Someone else fills the file system, leaving 64 KiB: the next writes of the log fail.
        filler = os.path.join(mount, "filler")
        stat = os.statvfs(mount)
        with open(filler, "wb") as f:
            left = stat.f_bavail * stat.f_frsize - (64 << 10)
            while left > 0:
                f.write(b"\0" * min(left, 1 << 20))
                left -= 1 << 20
        for _ in range(200):
            resp = send()
            if resp is not None and resp.status == 503:
                break
        self.assertIsNotNone(resp)
        self.assertEqual(resp.status, 503, resp.body)
        self.assertEqual(resp.json()["error"]["code"], "audit_unavailable")
        self.assertIsNone(g.proc.poll(), g.stderr_text)  # failed closed, still running
        ready = admin_request("127.0.0.1", g.admin_port, "GET", "/readyz", token=None)
        self.assertEqual(ready.status, 503)
        self.assertIn("No space left on device", ready.body.decode())
        self.assertEqual(metric(g, "sovgw_audit_failed"), 1)
        before = metric(g, "sovgw_audit_storage_recoveries_total")

        os.remove(filler)
        self.assertTrue(wait_until(lambda: (send() or resp).status == 200, timeout=90, interval=0.5),
                        "the audit log did not resume after space was freed")
        self.assertEqual(metric(g, "sovgw_audit_failed"), 0)
        self.assertGreater(metric(g, "sovgw_audit_storage_recoveries_total"), before)
        self.assertEqual(admin_request("127.0.0.1", g.admin_port, "GET", "/readyz", token=None).status, 200)
        g.stop()
        verify = sovgw("audit", "verify", "--db", a.db, "--pubkey", os.path.join(a.keys, "signing.pub"))
        self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
        for rid in completed:
            q = sovgw("audit", "query", "--db", a.db, "--request-id", rid, "--format", "jsonl")
            self.assertEqual(len(q.stdout.strip().splitlines()), 1, (rid, q.stdout, q.stderr))


if __name__ == "__main__":
    unittest.main()
