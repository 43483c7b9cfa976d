"""The auditors' CLI: the docs/auditing.md walkthrough end to end, and bad input."""

import json
import os
import re
import shutil
import stat
import subprocess
import unittest

from test_audit_support import (AUDIT_BENCH, BUILD_DIR, SOURCE_DIR, audit_case, read_file, run, sovgw,
                               write_file)


class walkthrough_test(unittest.TestCase):
    def test_docs_auditing_walkthrough_runs(self):
        import tempfile
        with open(os.path.join(SOURCE_DIR, "docs", "auditing.md"), encoding="utf-8") as f:
            doc = f.read()
        blocks = re.findall(r"```sh\n(.*?)```", doc, re.S)
        self.assertGreaterEqual(len(blocks), 8)
        tmp = tempfile.mkdtemp(prefix="sovgw-walkthrough-")
        try:
            env = dict(os.environ)
            env["PATH"] = os.pathsep.join([BUILD_DIR, os.path.dirname(AUDIT_BENCH), env.get("PATH", "")])
            script = "set -euo pipefail\n" + "\n".join(blocks)
            proc = subprocess.run(["bash", "-c", script], cwd=tmp, env=env, capture_output=True, text=True,
                                  timeout=300)
            self.assertEqual(proc.returncode, 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
            out = proc.stdout
            self.assertIn("audit writers=64 appends_per_s=", out)
            self.assertRegex(out, r"OK: \d+ records, \d+ signed checkpoints verified")
            self.assertIn("OK: record", out)
            self.assertIn("destination: cluster par-1 in FR", out)
            self.assertIn("is consistent with checkpoint", out)
            self.assertIn("saved the checkpoint at size", out)
            self.assertRegex(out, r"is reproduced: the log (only grew since|is as it was then)")
            self.assertRegex(out, r"\d+ index entries match")
            self.assertIn("--- prompt (512 bytes) ---", out)
            self.assertIn("unreadable, as intended", out)
            self.assertIn("crypto-shred", out)
            self.assertIn("was destroyed by crypto-shredding (the event at record", proc.stderr)
            self.assertIn("The log verifies", read_file(os.path.join(tmp, "report.html")))
            self.assertTrue(json.loads(read_file(os.path.join(tmp, "report.json")))["ok"])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class bad_input_test(audit_case):
    def setUp(self):
        super().setUp()
        self.append(40)

    def test_keys_init_refuses_to_overwrite(self):
        p = sovgw("keys", "init", self.keys, check=3)
        self.assertIn("refusing to overwrite", p.stderr)

    def test_keys_are_0600_and_world_readable_secret_is_refused(self):
        for path in (os.path.join(self.keys, "signing.key"), os.path.join(self.keys, "kek.key"), self.auditor_key):
            mode = stat.S_IMODE(os.stat(path).st_mode)
            self.assertEqual(mode, 0o600, path)
        os.chmod(os.path.join(self.keys, "kek.key"), 0o644)
        p = sovgw("audit", "append", "--db", self.db, "--keys", self.keys, "--synthetic", "1", check=3)
        self.assertIn("chmod 600", p.stderr)
        self.assertIn("kek.key", p.stderr)
        os.chmod(self.auditor_key, 0o640)
        p = sovgw("audit", "show", "--db", self.db, "--seq", "1", "--auditor-key", self.auditor_key, check=3)
        self.assertIn("refusing to use secret key", p.stderr)

    def test_secrets_are_never_printed(self):
        out = sovgw("keys", "init", os.path.join(self.tmp, "k2"), check=0).stdout
        for path in ("k2/signing.key", "k2/kek.key", "k2-auditor/auditor.key"):
            secret = read_file(os.path.join(self.tmp, path)).split()[-1]
            self.assertNotIn(secret, out)

    def test_wrong_public_key_fails_verification(self):
        sovgw("keys", "init", os.path.join(self.tmp, "other"), "--name", "test.sovgw.local/audit", check=0)
        p = sovgw("audit", "verify", "--db", self.db, "--pubkey", os.path.join(self.tmp, "other", "signing.pub"),
                  check=1)
        self.assertIn("no signature by the trusted key", p.stdout)

    def test_garbage_public_key(self):
        bad = os.path.join(self.tmp, "bad.pub")
        write_file(bad, "not a key\n")
        p = sovgw("audit", "verify", "--db", self.db, "--pubkey", bad, check=2)
        self.assertIn("not a signed-note verifier key", p.stderr)

    def test_wrong_auditor_key(self):
        sovgw("keys", "init", os.path.join(self.tmp, "other"), check=0)
        p = sovgw("audit", "show", "--db", self.db, "--request-id", "req-1", "--auditor-key",
                  os.path.join(self.tmp, "other-auditor", "auditor.key"), check=1)
        self.assertIn("wrong auditor.key", p.stderr)

    def test_writer_with_other_keys_refuses(self):
        sovgw("keys", "init", os.path.join(self.tmp, "other"), "--name", "another/log", check=0)
        p = sovgw("audit", "append", "--db", self.db, "--keys", os.path.join(self.tmp, "other"), "--synthetic", "1",
                  check=2)
        self.assertIn("belongs to log 'test.sovgw.local/audit'", p.stderr)

    def test_missing_and_corrupt_database(self):
        p = sovgw("audit", "verify", "--db", os.path.join(self.tmp, "nope"), "--pubkey", self.pub, check=3)
        self.assertIn("no audit log at", p.stderr)
        not_a_log = os.path.join(self.tmp, "plain")
        os.makedirs(not_a_log)
        write_file(os.path.join(not_a_log, "CURRENT"), "MANIFEST-000999\n")
        p = sovgw("audit", "query", "--db", not_a_log, check=3)
        self.assertIn("cannot open the audit log", p.stderr)
        # Corrupt every SST file of the log in its middle: reads fail with a clear error.
        for name in os.listdir(self.db):
            if name.endswith(".sst"):
                path = os.path.join(self.db, name)
                size = os.path.getsize(path)
                with open(path, "r+b") as f:
                    f.seek(size // 3)
                    f.write(b"\xff" * 64)
        p = self.verify()
        self.assertNotEqual(p.returncode, 0)
        self.assertRegex(p.stdout + p.stderr, r"(?i)corrupt|checksum|does not")
        self.assertNotIn("Traceback", p.stderr)

    def test_truncated_and_malformed_proof_files(self):
        proof = sovgw("audit", "prove", "--db", self.db, "--request-id", "req-5", check=0).stdout
        path = os.path.join(self.tmp, "p.tlog-proof")
        write_file(path, proof)
        sovgw("audit", "verify-proof", path, "--pubkey", self.pub, check=0)
        for cut in (0, 10, len(proof) // 3, len(proof) // 2, len(proof) - 30):
            write_file(path, proof[:cut])
            p = sovgw("audit", "verify-proof", path, "--pubkey", self.pub)
            self.assertNotEqual(p.returncode, 0, f"cut at {cut}")
            self.assertTrue(p.stderr.startswith("sovgw audit verify-proof: "), p.stderr)
        write_file(path, proof.replace("index 5", "index 6"))
        p = sovgw("audit", "verify-proof", path, "--pubkey", self.pub, check=1)
        self.assertIn("proof is for index 6", p.stderr)
        p = sovgw("audit", "verify-proof", os.path.join(self.tmp, "missing"), "--pubkey", self.pub, check=3)
        self.assertIn("cannot open", p.stderr)

    def test_malformed_query_arguments(self):
        cases = [
            (["--since", "yesterday"], "cannot read 'yesterday' as a time"),
            (["--until", "2026-02-30T25:00:00Z"], "is written as a date and time but names none the calendar has"),
            (["--limit", "-3"], "--limit must be a whole number of at least 1, not '-3'"),
            (["--format", "xml"], "--format must be table, jsonl or csv"),
            (["--colour", "red"], "unknown option '--colour'"),
            (["--tenant"], "option '--tenant' needs a value"),
            (["--tenant", "a", "--tenant", "b"], "given twice"),
        ]
        for args, message in cases:
            p = sovgw("audit", "query", "--db", self.db, *args, check=2)
            self.assertIn(message, p.stderr, args)
        p = sovgw("audit", "query", check=2)
        self.assertIn("missing --db", p.stderr)
        p = sovgw("audit", "frobnicate", check=2)
        self.assertIn("unknown subcommand 'frobnicate'", p.stderr)
        p = sovgw("audit", "retain", "--db", self.db, "--keys", self.keys, "--older-than", "90x", check=2)
        self.assertIn("unknown unit", p.stderr)
        p = sovgw("audit", "prove", "--db", self.db, "--request-id", "no-such-request", check=1)  # not usage
        self.assertIn("no record with request id", p.stderr)

    def test_query_formats_agree(self):
        jsonl = sovgw("audit", "query", "--db", self.db, "--tenant", "acme", "--format", "jsonl", check=0).stdout
        csv = sovgw("audit", "query", "--db", self.db, "--tenant", "acme", "--format", "csv", check=0).stdout
        table = sovgw("audit", "query", "--db", self.db, "--tenant", "acme", check=0).stdout
        import json
        rows = [json.loads(line) for line in jsonl.splitlines()]
        self.assertEqual(len(rows), 8)
        self.assertTrue(all(r["tenant"] == "acme" for r in rows))
        self.assertEqual(len(csv.splitlines()), 9)
        self.assertIn("(8 records)", table)


if __name__ == "__main__":
    unittest.main()
