"""What a first-time auditor reads when something is refused: every message names the command that
refused it (`sovgw audit prove: ...`), and says what to ask for instead."""

import json
import os
import re
import unittest

from test_audit_support import TAMPER, audit_case, read_file, run, sovgw, write_file


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


class key_messages_test(audit_case):
    def setUp(self):
        super().setUp()
        self.append(5)
        self.vkey = read_file(self.pub).strip()
        self.name, self.key_id, _ = self.vkey.split("+", 2)
        # Another key directory for the same log name: its key signed none of this log's checkpoints.
        self.other = os.path.join(self.tmp, "other")
        sovgw("keys", "init", self.other, "--name", self.name, check=0)
        self.other_id = read_file(os.path.join(self.other, "signing.pub")).split("+")[1]

    def test_a_writer_with_another_key_names_its_key_directory(self):
        for force in ((), ("--force",)):
            p = sovgw("audit", "checkpoint", "--db", self.db, "--keys", self.other, *force, check=2)
            self.assertTrue(p.stderr.startswith("sovgw audit checkpoint: "), p.stderr)
            self.assertIn(f"the keys in {self.other} ({self.name}+{self.other_id}) did not sign the audit log "
                          f"at {self.db}: none of its 1 stored checkpoint is signed by them", p.stderr)
            self.assertIn(f"signed by {self.name}+{self.key_id}", p.stderr)
            self.assertNotIn("--pubkey", p.stderr)
            self.assertNotIn("--force", p.stderr)
        self.assertIn("OK: 5 records, 1 signed checkpoint ", self.verify().stdout)  # nothing was written

    def test_verify_with_another_key_names_who_signed(self):
        p = sovgw("audit", "verify", "--db", self.db, "--pubkey", os.path.join(self.other, "signing.pub"), check=1)
        self.assertIn(f"checkpoint at size 5: no signature by the trusted key {self.name}+{self.other_id} "
                      f"(signed by {self.name}+{self.key_id})", p.stdout)
        self.assertIn(f"given with --pubkey", p.stdout)

    def test_a_verifier_key_whose_id_does_not_match_says_so(self):
        wrong_id = ("0" if self.key_id[0] != "0" else "1") + self.key_id[1:]
        bad = self.vkey.replace("+" + self.key_id + "+", "+" + wrong_id + "+")
        path = os.path.join(self.tmp, "bad.pub")
        write_file(path, bad + "\n")
        for arg in (path, bad):
            p = sovgw("audit", "verify", "--db", self.db, "--pubkey", arg, check=2)
            self.assertIn(f"{arg}: its key id {wrong_id} does not match its key: the key id of {self.name} with "
                          f"that key is {self.key_id}", p.stderr)
            self.assertNotIn("not a signed-note verifier key", p.stderr)
            self.assertNotIn("does not exist", p.stderr)
        p = sovgw("audit", "verify-proof", path, "--pubkey", path, check=2)
        self.assertIn(f"its key id {wrong_id} does not match its key", p.stderr)


class verify_names_its_key_test(audit_case):
    def setUp(self):
        super().setUp()
        self.append(5, run_name="a")
        self.append(2, run_name="b")
        self.label = "+".join(read_file(self.pub).split("+")[:2])  # test.sovgw.local/audit+<key id>

    def test_the_ok_line_names_the_key_and_a_lone_visit_gets_the_hint(self):
        out = self.verify().stdout
        first = out.splitlines()[0]
        self.assertRegex(first, r"^OK: 7 records, 2 signed checkpoints verified with the key "
                                + re.escape(self.label) + r" \(SHA-256 fingerprint [A-Za-z0-9_-]{43}\), \d+ index "
                                r"entries match")
        # The writer published its last checkpoint beside the store: the end of the log is checked.
        self.assertIn(f"the checkpoint published at {self.db}.checkpoint (size 7) is reproduced: the log is as it "
                      "was then\n", out)
        self.assertNotIn("note: records deleted", out)
        os.rename(self.db + ".checkpoint", os.path.join(self.tmp, "aside"))  # as on a copy of the store alone
        out = self.verify().stdout
        hint = ("note: records deleted from the end of the log together with their checkpoints are found only "
                f"against a checkpoint kept outside it (none here: no --checkpoint, and no {self.db}.checkpoint "
                "published beside it)")
        self.assertIn(hint + ": --save-checkpoint FILE now, --checkpoint FILE next time\n", out)
        self.assertEqual(out.count("note: records deleted"), 1)
        kept = os.path.join(self.tmp, "visit.checkpoint")
        out = sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--save-checkpoint", kept,
                    check=0).stdout
        self.assertIn(hint + "\n", out)  # the line above it says to give --checkpoint next time
        out = sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--checkpoint", kept, check=0).stdout
        self.assertNotIn("note: records deleted", out)
        j = json.loads(sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--format", "json",
                             check=0).stdout)
        self.assertEqual(f"{j['key']['name']}+{j['key']['id']}", self.label)

    def test_verify_proof_names_the_key_that_signed(self):
        proof = os.path.join(self.tmp, "p")
        write_file(proof, sovgw("audit", "prove", "--db", self.db, "--seq", "3", check=0).stdout)
        out = sovgw("audit", "verify-proof", proof, "--pubkey", self.pub, check=0).stdout
        self.assertIn(f"OK: record 3 is included in the log test.sovgw.local/audit at tree size 7", out)
        self.assertRegex(out.splitlines(keepends=True)[0],
                         f"signed by {re.escape(self.label)} \\(SHA-256 fingerprint [A-Za-z0-9_-]{{43}}\\)\n$")
        write_file(proof, sovgw("audit", "prove", "--db", self.db, "--old", "5", check=0).stdout)
        out = sovgw("audit", "verify-proof", proof, "--pubkey", self.pub, check=0).stdout
        self.assertRegex(out, r"^OK: checkpoint at size 5 is consistent with checkpoint at size 7 \(append-only\), "
                              f"both signed by {re.escape(self.label)} \\(SHA-256 fingerprint [A-Za-z0-9_-]{{43}}\\)\n$")


class save_checkpoint_test(audit_case):
    def setUp(self):
        super().setUp()
        self.append(5, run_name="a")
        self.append(2, run_name="b")  # stored checkpoints at 5 and 7, 7 published
        self.held = os.path.join(self.tmp, "held.checkpoint")
        sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--save-checkpoint", self.held, check=0)
        self.assertEqual(read_file(self.held), read_file(self.db + ".checkpoint"))

    def test_the_held_checkpoint_is_saved_when_newer_than_the_stored_ones(self):
        # The log's newest stored checkpoint deleted: the one the auditor holds (size 7) is newer. Saving
        # the stored one (size 5) for next time would let records 5..6 go unnoticed later.
        run(TAMPER, self.db, "delete-checkpoints-from", "7", check=0)
        os.remove(self.db + ".checkpoint")
        again = os.path.join(self.tmp, "again.checkpoint")
        out = sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--checkpoint", self.held,
                    "--save-checkpoint", again, check=0).stdout
        self.assertIn(f"saved the checkpoint you hold (size 7) to {again}: newer than the log's newest stored one "
                      "(size 5)", out)
        self.assertEqual(read_file(again), read_file(self.held))

    def test_the_published_checkpoint_is_saved_when_newer_than_the_stored_ones(self):
        # The attack: the newest stored checkpoint deleted, the published one (size 7) left. The visit saves
        # it, so that deleting records 5..6 and the published file before the next visit is found.
        old = os.path.join(self.tmp, "old.checkpoint")
        write_file(old, sovgw("audit", "prove", "--db", self.db, "--old", "5", "--new", "5", check=0).stdout)
        run(TAMPER, self.db, "delete-checkpoints-from", "7", check=0)
        published = read_file(self.db + ".checkpoint")
        for extra in ((), ("--checkpoint", old)):
            kept = os.path.join(self.tmp, "visit.checkpoint")
            out = sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, *extra, "--save-checkpoint", kept,
                        check=0).stdout
            self.assertIn(f"saved the checkpoint published at {self.db}.checkpoint (size 7) to {kept}: newer than "
                          "the log's newest stored one (size 5)", out)
            self.assertNotIn("you hold (size 7)", out)
            self.assertEqual(read_file(kept), published)
            j = json.loads(sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, *extra, "--format", "json",
                                 "--save-checkpoint", kept, check=0).stdout)
            self.assertEqual(j["saved_checkpoint"], {"file": kept, "size": 7, "source": "published"})
        run(TAMPER, self.db, "truncate", "2", check=0)
        os.remove(self.db + ".checkpoint")
        p = sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--checkpoint", kept, check=1)
        self.assertIn("FAILED", p.stdout)

    def test_nothing_is_saved_from_a_log_that_does_not_verify(self):
        run(TAMPER, self.db, "flip", "3", check=0)
        kept = os.path.join(self.tmp, "visit.checkpoint")
        out = sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--save-checkpoint", kept,
                    check=1).stdout
        self.assertIn(f"not saved to {kept}: the log does not verify, so none of its checkpoints is to be kept\n",
                      out)
        self.assertFalse(os.path.exists(kept))
        j = json.loads(sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--format", "json",
                             "--save-checkpoint", kept, check=1).stdout)
        self.assertIsNone(j["saved_checkpoint"])
        self.assertFalse(os.path.exists(kept))


class decision_wording_test(audit_case):
    """A record keeps every rule that matched, not the one that decided: the summary says so."""

    def setUp(self):
        super().setUp()
        self.append(30, run_name="w")  # w-20 is a denied request from the US, w-1 a permitted one

    def test_show_and_verify_proof_list_the_rules_matched(self):
        proof = os.path.join(self.tmp, "w-20.proof")
        write_file(proof, sovgw("audit", "prove", "--db", self.db, "--request-id", "w-20", check=0).stdout)
        denied = sovgw("audit", "verify-proof", proof, "--pubkey", self.pub, check=0).stdout
        self.assertIn("  decision:    deny; rules matched: no-us-personal-data; policy 2026-11-01.1\n", denied)
        shown = sovgw("audit", "show", "--db", self.db, "--request-id", "w-1", "--auditor-key", self.auditor_key,
                      check=0).stdout
        self.assertIn("  decision:    permit; rules matched: eu-default; policy 2026-11-01.1\n", shown)
        for out in (denied, shown):
            self.assertNotIn("by rule", out)


if __name__ == "__main__":
    unittest.main()
