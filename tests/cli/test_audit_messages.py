"""What a first-time auditor reads when something is refused: every message names the command that
refused it (`sovgw audit prove: ...`), and says what to ask for instead."""

import os
import unittest

from test_audit_support import audit_case, sovgw, write_file


class command_prefix_test(audit_case):
    def setUp(self):
        super().setUp()
        self.append(5, run_name="a")  # checkpoint at 5
        self.append(2, run_name="b", extra=("--payload", "none"))  # checkpoint at 7; no sealed payload

    def refused(self, command, *args, check):
        p = sovgw("audit", command, *args, check=check)
        self.assertTrue(p.stderr.startswith(f"sovgw audit {command}: "), p.stderr)
        self.assertNotIn("error:", p.stderr)
        return p.stderr

    def test_errors_name_the_command(self):
        self.assertIn("there is no record 99999",
                      self.refused("prove", "--db", self.db, "--seq", "99999", check=2))
        self.assertIn("no signed checkpoint at tree size 6",
                      self.refused("prove", "--db", self.db, "--old", "6", check=2))
        self.assertIn("record 6 has no sealed payload",
                      self.refused("show", "--db", self.db, "--seq", "6", "--auditor-key", self.auditor_key,
                                   check=1))
        self.assertIn("has no data key in this log",
                      self.refused("shred", "--db", self.db, "--keys", self.keys, "--tenant", "nobody", check=1))
        proof = os.path.join(self.tmp, "bad.proof")
        write_file(proof, "not a proof\n")
        self.assertIn("malformed proof",
                      self.refused("verify-proof", proof, "--pubkey", self.pub, check=1))


if __name__ == "__main__":
    unittest.main()
