"""What the holder of the signing key (or a writer) can put into a log that no gateway writes, and
how `sovgw audit` names it: records that do not decode, rewritten history under a checkpoint the
auditor kept, another signing key, duplicate request ids, implausible times."""

import json
import os
import unittest

from test_audit_support import TAMPER, run, sovgw, tampered_log_case


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


if __name__ == "__main__":
    unittest.main()
