"""Proofs that must fail do, and each bad argument to prove / verify-proof says what is wrong."""

import base64
import fcntl
import os
import re
import signal
import subprocess
import time
import unittest

from test_audit_support import CRASH_WRITER, TAMPER, audit_case, read_file, run, sovgw, write_file


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

    def test_inclusion_and_consistency_options_do_not_mix(self):
        p = self.prove("--old", "30", "--seq", "3", check=2)
        self.assertIn("either an inclusion proof", p.stderr)
        p = self.prove("--new", "50", check=2)
        self.assertIn("--new needs --old", p.stderr)

    def test_last_proves_the_newest_record(self):
        self.assertEqual(self.prove("--last", check=0).stdout, self.prove("--seq", "49", check=0).stdout)
        p = self.prove("--last", "--seq", "3", check=2)
        self.assertIn("--last names a record already", p.stderr)
        p = self.prove("--last", "--old", "30", check=2)
        self.assertIn("either an inclusion proof", p.stderr)

    def test_seq_beyond_the_log_says_how_many_records_it_holds(self):
        for seq in ("50", "999"):
            p = self.prove("--seq", seq, check=2)
            self.assertIn(f"there is no record {seq}: the log holds 50 records (seq 0 to 49)", p.stderr)
        self.prove("--seq", "49", check=0)

    def test_records_newer_than_the_last_checkpoint_are_not_covered_yet(self):
        # A writer killed between two checkpoints leaves durable records no checkpoint covers.
        for attempt in range(5):
            proc = subprocess.Popen([CRASH_WRITER, self.db, self.keys, f"crash{attempt}", "2"], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            out = self.verify().stdout
            records = int(re.search(r"OK: (\d+) records", out).group(1))
            covered = int(re.search(r"latest checkpoint: size (\d+)", out).group(1))
            if records > covered:
                break
        else:
            self.skipTest("the killed writer had checkpointed every record each time")
        p = self.prove("--seq", str(covered), check=2)
        self.assertIn(f"record {covered} is not covered by a signed checkpoint yet (latest covers {covered} records)",
                      p.stderr)

    def test_unsigned_records_without_a_running_writer_are_not_waited_for(self):
        # A gateway killed between two checkpoints: its newest records stay unsigned until it starts
        # again, so "retry after the next checkpoint" would send the auditor away for nothing.
        run(TAMPER, self.db, "delete-checkpoints-from", "31", check=0)  # latest stored: size 30
        # Nor did it publish any later one (it stores each before it publishes it): a published
        # checkpoint past the stored ones is a stored one lost (test_audit_published).
        os.remove(self.db + ".checkpoint")
        t0 = time.monotonic()
        p = self.prove("--seq", "40", check=2)
        self.assertLess(time.monotonic() - t0, 3)
        self.assertNotIn("waiting", p.stderr)
        self.assertIn("record 40 is not covered by a signed checkpoint yet (latest covers 30 records), and no gateway "
                      "is writing this log now (its writer lock is free: one stopped without closing the log, a "
                      "crash or kill): the next start of its gateway signs it, not before", p.stderr)
        self.assertNotIn("retry after the next checkpoint", p.stderr)
        # A writer holding the lock (as a running gateway does) signs them soon: then it is waited for.
        with open(os.path.join(self.db, "sovgw-writer.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            p = self.prove("--seq", "40", check=2)
        self.assertIn("record 40 is not signed yet; waiting up to 5 s for the next checkpoint", p.stderr)
        self.assertIn("record 40 is not covered by a signed checkpoint yet (latest covers 30 records); retry after "
                      "the next checkpoint", p.stderr)
        self.assertNotIn("no gateway is writing", p.stderr)

    def test_consistency_with_another_log_fails(self):
        # Same key, same sizes, other records: the new checkpoint does not extend the old one.
        other = os.path.join(self.tmp, "other")
        self.append(50, run_name="x", db=other)
        other_note = checkpoint_note(sovgw("audit", "prove", "--db", other, "--seq", "0", check=0).stdout)
        self.assertIn("\n50\n", other_note)
        old_note, path, _ = split_consistency(self.prove("--old", "30").stdout)
        p = self.verify_proof(join_consistency(old_note, path, other_note), check=1)
        self.assertIn("the checkpoints at sizes 30 and 50 are NOT consistent", p.stderr)

    def test_tampered_consistency_proof_fails(self):
        old_note, path, new_note = split_consistency(self.prove("--old", "30").stdout)
        self.assertTrue(path)
        h = bytearray(base64.b64decode(path[0]))
        h[0] ^= 1
        tampered = [base64.b64encode(bytes(h)).decode()] + path[1:]
        p = self.verify_proof(join_consistency(old_note, tampered, new_note), check=1)
        self.assertIn("NOT consistent", p.stderr)
        # A truncated proof says so: it proves nothing, but it is no evidence of a rewrite either.
        p = self.verify_proof(join_consistency(old_note, path[1:], new_note), check=1)
        self.assertIn(f"the consistency proof does not fit its checkpoint: it holds {len(path) - 1} hash(es), but "
                      f"sizes 30 and 50 need {len(path)}", p.stderr)
        self.assertNotIn("NOT consistent", p.stderr)

    def test_a_path_and_a_checkpoint_of_two_proofs_do_not_fit_and_are_not_called_truncated(self):
        old = self.prove("--seq", "2").stdout  # size 50: 6 hashes
        self.append(30, run_name="c")  # checkpoint at 80
        new = self.prove("--seq", "2").stdout  # size 80: 7 hashes
        spliced = old.split("\n\n", 1)[0] + "\n\n" + checkpoint_note(new)
        p = self.verify_proof(spliced, check=1)
        self.assertIn("the inclusion proof does not fit its checkpoint: it holds 6 hash(es), but record 2 in a tree "
                      "of size 80 needs 7: it was cut short in transit, or its hashes and its checkpoint come from two "
                      "different proofs", p.stderr)
        self.assertNotIn("truncated", p.stderr)
        spliced = new.split("\n\n", 1)[0] + "\n\n" + checkpoint_note(old)
        p = self.verify_proof(spliced, check=1)
        self.assertIn("the inclusion proof holds 7 hashes, but record 2 in a tree of size 50 needs 6: hashes were "
                      "added, or its hashes and its checkpoint come from two different proofs", p.stderr)

    def test_swapped_checkpoints_are_named(self):
        old_note, path, new_note = split_consistency(self.prove("--old", "30").stdout)
        p = self.verify_proof(join_consistency(new_note, path, old_note), check=1)
        self.assertIn("the old checkpoint (size 50) is larger than the new one (size 30): are the two swapped?",
                      p.stderr)

    def test_wrong_public_key_says_the_checkpoint_is_not_signed_by_it(self):
        sovgw("keys", "init", os.path.join(self.tmp, "other"), "--name", "test.sovgw.local/audit", check=0)
        other_pub = os.path.join(self.tmp, "other", "signing.pub")
        other_id = read_file(other_pub).split("+")[1]
        own_id = read_file(self.pub).split("+")[1]
        p = self.verify_proof(self.prove("--seq", "3").stdout, check=1, pubkey=other_pub)
        self.assertIn(f"checkpoint is not signed by the key test.sovgw.local/audit+{other_id} "
                      f"(signed by test.sovgw.local/audit+{own_id}): wrong public key", p.stderr)
        p = self.verify_proof(self.prove("--old", "30").stdout, check=1, pubkey=other_pub)
        self.assertIn(f"old checkpoint is not signed by the key test.sovgw.local/audit+{other_id}", p.stderr)
        p = sovgw("audit", "verify", "--db", self.db, "--pubkey", other_pub, check=1)
        lines = p.stdout.splitlines()
        self.assertEqual(lines[1], f"  - none of the checkpoints is signed by the key test.sovgw.local/audit+{other_id} "
                                   "given with --pubkey: wrong public key for this log?")
        # Probe round 27: one line per checkpoint, all alike, came before that hint; now one for all.
        unknown = [line for line in lines if "no signature by the trusted key" in line]
        self.assertEqual(len(unknown), 1, p.stdout)
        self.assertRegex(unknown[0], r"\(and \d+ more checkpoints likewise\)$")

    def test_pubkey_file_that_does_not_exist_and_key_text(self):
        missing = os.path.join(self.tmp, "nonexist.pub")
        for cmd in (["verify", "--db", self.db], ["verify-proof", self.pub],
                    ["report", "--db", self.db, "--format", "json"]):
            p = sovgw("audit", *cmd, "--pubkey", missing, check=3)  # a missing file, as --checkpoint's
            self.assertIn(f"the public key file {missing} does not exist", p.stderr)
        p = sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--checkpoint", missing, check=3)
        self.assertIn(f"cannot open {missing}: No such file or directory", p.stderr)
        p = sovgw("audit", "verify", "--db", self.db, "--pubkey", "test.sovgw.local/audit+1234", check=2)
        self.assertIn("does not exist, and the argument is not a verifier key either", p.stderr)
        vkey = read_file(self.pub).strip()
        self.assertIn("OK: 50 records", sovgw("audit", "verify", "--db", self.db, "--pubkey", vkey, check=0).stdout)

    def test_oversized_proof_file(self):
        path = os.path.join(self.tmp, "big.proof")
        with open(path, "wb") as f:
            f.write(b"c2sp.org/tlog-proof@v1\n" + b"A" * (1 << 20))
        p = sovgw("audit", "verify-proof", path, "--pubkey", self.pub, check=1)
        self.assertIn(f"{path} is too large to be a proof file (over 1 MiB)", p.stderr)


if __name__ == "__main__":
    unittest.main()
