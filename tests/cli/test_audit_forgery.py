"""What the holder of the signing key (or a writer) can put into a log that no gateway writes, and
how `sovgw audit` names it: records that do not decode, rewritten history under a checkpoint the
auditor kept, another signing key, duplicate request ids, implausible times."""

import base64
import json
import os
import unittest

from test_audit_support import TAMPER, run, sovgw, tampered_log_case, write_file


class forgery_test(tampered_log_case):
    def resigned(self, *op):
        """A copy changed by the tamper tool, then re-signed with the log's own keys."""
        db = self.tampered(*op)
        run(TAMPER, db, "resign", self.keys, check=0)
        return db

    def test_a_signed_record_that_does_not_decode_fails_verification(self):
        db = self.resigned("append-byte", "150")
        out = self.failed(db)
        self.assertIn("record 150: trailing bytes after the record", out)
        self.assertIn("first record that does not match: 150", out)
        doc = json.loads(sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, "--format", "json",
                               check=1).stdout)
        self.assertEqual([(p["kind"], p["record"]) for p in doc["problems"]], [("record_malformed", 150)])
        report = json.loads(sovgw("audit", "report", "--db", db, "--pubkey", self.pub, "--format", "json",
                                  check=1).stdout)
        self.assertIs(report["verification"]["ok"], False)
        self.assertEqual(report["undecodable"], 1)
        # No proof of it is made: it would not verify offline.
        p = sovgw("audit", "prove", "--db", db, "--seq", "150", check=1)
        self.assertIn("record 150 does not decode (trailing bytes after the record)", p.stderr)
        self.assertEqual(p.stdout, "")

    def held(self, size):
        """The log's signed checkpoint at `size` (100, 200 or 300), as an auditor kept it on a visit."""
        path = os.path.join(self.tmp, f"visit-{size}.checkpoint")
        if size == 300:
            sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--save-checkpoint", path, check=0)
        else:
            proof = sovgw("audit", "prove", "--db", self.db, "--old", str(size), check=0).stdout
            old = next(line for line in proof.splitlines() if line.startswith("old "))
            write_file(path, base64.b64decode(old[4:]).decode())
        return path

    def verify_json(self, db, *extra):
        return json.loads(sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, "--format", "json", *extra,
                                check=1).stdout)

    def test_a_rewritten_history_resigned_at_the_size_the_auditor_holds_is_a_fork(self):
        held = self.held(300)
        db = self.resigned("flip", "50")
        p = sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, "--checkpoint", held, check=1)
        self.assertIn("the log's signed checkpoint at size 300 has root", p.stdout)
        self.assertIn("the log forked or was rewritten", p.stdout)
        self.assertIn("the checkpoint you hold at size 300: its signed root does not match the recomputed tree; a "
                      "record in 0..299 was altered", p.stdout)
        self.assertNotIn("300..299", p.stdout)
        self.assertNotIn("first record that does not match", p.stdout)  # only the range is known
        self.assertIn("1 of 1 stored checkpoint(s) fail verification", p.stdout)
        doc = self.verify_json(db, "--checkpoint", held)
        self.assertEqual((doc["checkpoints"], doc["failed_checkpoints"], doc["checkpoint"]), (0, 1, None))
        self.assertIsNone(doc["first_bad_record"])
        report = json.loads(sovgw("audit", "report", "--db", db, "--pubkey", self.pub, "--checkpoint", held,
                                  "--format", "json", check=1).stdout)["verification"]
        self.assertEqual((report["checkpoints"], report["failed_checkpoints"], report["checkpoint"]), (0, 1, None))

    def test_a_rewritten_history_under_an_older_held_checkpoint_names_the_range_it_covers(self):
        held = self.held(200)
        db = self.resigned("flip", "50")
        p = sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, "--checkpoint", held, check=1)
        self.assertIn("the checkpoint you hold at size 200: its signed root does not match the recomputed tree; a "
                      "record in 0..199 was altered", p.stdout)
        self.assertNotIn("first record that does not match", p.stdout)
        # The stored checkpoint at 300 signs the rewritten history: it is not a verified one.
        self.assertIn("checkpoint at size 300 signs a history that contradicts the checkpoint you hold at size 200",
                      p.stdout)
        doc = self.verify_json(db, "--checkpoint", held)
        self.assertEqual((doc["checkpoints"], doc["failed_checkpoints"], doc["checkpoint"]), (0, 1, None))
        self.assertIsNone(doc["first_bad_record"])


if __name__ == "__main__":
    unittest.main()
