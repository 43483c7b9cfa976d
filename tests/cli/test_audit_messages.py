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


class checkpoint_sizes_test(audit_case):
    """Each writer session signs a checkpoint when it closes: sizes 5, 7, then one per record."""

    def setUp(self):
        super().setUp()
        self.append(5, run_name="a")
        self.append(2, run_name="b")

    def test_a_missing_size_names_the_sizes_there_are(self):
        p = sovgw("audit", "prove", "--db", self.db, "--old", "6", check=2)
        self.assertIn("there is no signed checkpoint at tree size 6 (the log has signed checkpoints at sizes 5, 7)",
                      p.stderr)
        p = sovgw("audit", "prove", "--db", self.db, "--old", "5", "--new", "8", check=2)
        self.assertIn("no signed checkpoint at tree size 8 (the log has signed checkpoints at sizes 5, 7)", p.stderr)
        self.assertIn("signed checkpoints at sizes 5, 7\n", self.verify().stdout)

    def test_many_sizes_are_listed_around_the_one_asked_for(self):
        for i in range(10):
            self.append(1, run_name=f"c{i}")  # sizes 8 to 17
        p = sovgw("audit", "prove", "--db", self.db, "--old", "100", check=2)
        self.assertIn("at tree size 100 (the log has signed checkpoints at sizes 5, 7, ..., 15, 16, 17: 12 in all)",
                      p.stderr)
        p = sovgw("audit", "prove", "--db", self.db, "--old", "6", check=2)
        self.assertIn("at tree size 6 (the log has signed checkpoints at sizes 5, 7, 8, 9, ..., 16, 17: 12 in all)",
                      p.stderr)
        p = sovgw("audit", "prove", "--db", self.db, "--old", "11", "--new", "1000", check=2)
        self.assertIn("at tree size 1000 (the log has signed checkpoints at sizes", p.stderr)
        sovgw("audit", "prove", "--db", self.db, "--old", "12", check=0)
        self.assertIn("signed checkpoints at sizes 5, 7, ..., 15, 16, 17 (12 in all)\n", self.verify().stdout)


if __name__ == "__main__":
    unittest.main()
