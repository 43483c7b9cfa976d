"""The gateway writes an audit record for every request it accepted — permits, policy denies,
framing errors — and an auditor verifies the log and reads the payload with their own key."""

import hashlib
import json
import os
import signal
import socket
import subprocess
import unittest

from support import (CHAT_STREAM, SOVGW, Gateway, TempDir, chat_request, cluster_yaml, exchange, gateway_yaml,
                     make_certs, metric, start_standin, tls_connect, Reader)

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


def admin_request(host, port, method, target):
    with socket.create_connection((host, port), timeout=60) as s:
        s.sendall(f"{method} {target} HTTP/1.1\r\nHost: admin\r\nContent-Length: 0\r\n"
                  f"Connection: close\r\n\r\n".encode())
        return Reader(s).read_response()


class AuditedGateway:
    """Fresh keys, a stand-in cluster and a gateway recording to an audit log, cleaned up with the test."""

    def __init__(self, test, audit_extra="", policy=False, standin_args=None, admin_address=None):
        self.test = test
        self.tmp = TempDir()
        test.addCleanup(self.tmp.cleanup)
        self.certs = make_certs(os.path.join(self.tmp.path, "certs"))
        self.keys = os.path.join(self.tmp.path, "keys")
        self.db = os.path.join(self.tmp.path, "db")
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
        if admin_address:
            self.config = self.config.replace("admin:\n  address: 127.0.0.1", f"admin:\n  address: {admin_address}")
        self.gateway = self.start()

    def start(self):
        g = Gateway(self.config, self.tmp.path)
        self.test.addCleanup(g.stop)
        return g


class AuditRecordingTest(unittest.TestCase):
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

    def test_audit_jobs_are_refused_from_other_interfaces(self):
        # The admin listener has no authentication: when bound beyond loopback it still serves
        # health and metrics, but the data-destroying audit jobs only to loopback peers.
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks a source address
            local = probe.getsockname()[0]
        except OSError:
            local = None
        finally:
            probe.close()
        if not local or local.startswith("127."):
            self.skipTest("this machine has no non-loopback IPv4 address to connect from")
        g = AuditedGateway(self, admin_address="0.0.0.0").gateway

        def admin(host, method, target):
            return admin_request(host, g.admin_port, method, target)

        self.assertEqual(admin(local, "GET", "/healthz").status, 200)
        refused = admin(local, "POST", "/admin/audit/shred?tenant=default")
        self.assertEqual(refused.status, 403)
        self.assertIn("loopback", refused.json()["error"]["message"])
        # From loopback the job runs (this tenant never stored a sealed payload: nothing to shred).
        allowed = admin("127.0.0.1", "POST", "/admin/audit/shred?tenant=default")
        self.assertEqual(allowed.status, 404, allowed.body)
        self.assertIn("no data key", allowed.json()["error"]["message"])


if __name__ == "__main__":
    unittest.main()
