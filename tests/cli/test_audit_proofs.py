"""Proofs that must fail do, and each bad argument to prove / verify-proof says what is wrong."""

import base64
import os
import re
import signal
import subprocess
import time
import unittest

from test_audit_support import CRASH_WRITER, audit_case, read_file, sovgw, write_file


def split_consistency(proof):
    """(old note, path hash lines, new note) of a consistency proof file."""
    head, new_note = proof.split("\n\n", 1)
    lines = head.split("\n")
    return base64.b64decode(lines[1][len("old "):]).decode(), lines[2:], new_note


def join_consistency(old_note, path, new_note):
    old = base64.b64encode(old_note.encode()).decode()
    return "\n".join(["sovgw.audit/consistency-proof@v1", "old " + old, *path]) + "\n\n" + new_note


def checkpoint_note(inclusion_proof):
    return inclusion_proof.split("\n\n", 1)[1]


class proof_test(audit_case):
    def setUp(self):
        super().setUp()
        self.append(30, run_name="a")  # checkpoint at 30
        self.append(20, run_name="b")  # checkpoint at 50

    def prove(self, *args, check=0):
        return sovgw("audit", "prove", "--db", self.db, *args, check=check)

    def verify_proof(self, text, check, pubkey=None):
        path = os.path.join(self.tmp, "proof")
        write_file(path, text)
        return sovgw("audit", "verify-proof", path, "--pubkey", pubkey or self.pub, check=check)

    def test_checkpoint_sizes_must_be_at_least_one(self):
        for args in (["--old", "0"], ["--old", "30", "--new", "0"], ["--old", "0", "--new", "50"]):
            p = self.prove(*args, check=2)
            self.assertRegex(p.stderr, r"--(old|new) must be a checkpoint size of at least 1", args)
        good = self.prove("--old", "30", check=0).stdout
        self.assertIn("consistent with checkpoint at size 50",
                      self.verify_proof(good, check=0).stdout)
        self.assertEqual(self.prove("--old", "30", "--new", "50", check=0).stdout, good)
        p = self.prove("--old", "31", check=2)
        self.assertIn("there is no signed checkpoint at tree size 31", p.stderr)

if __name__ == "__main__":
    unittest.main()
