"""The operator as adversary (probe round 30): what the holder of the log's keys can rewrite after
the auditor's last checkpoint, and what the auditor's commands still catch: a prompt that is not the
body the record says was forwarded, a record rewritten after its payload was sealed, a log replaced
under another name and key."""

import json
import os
import shutil
import unittest

from test_audit_support import TAMPER, audit_case, run, sovgw


class operator_case(audit_case):
    # 30 synthetic records (tests/../audit/synthetic.cpp): record i is tenant i % 5's (acme: 0, 5,
    # 10, 15, 25), sealed and forwarded to cluster i % 3 (fra-1 DE, par-1 FR, ams-1 NL), except the
    # US ones with an even i (20, 22, 24): denied, 403, nothing sealed. One writer session: every
    # tenant's payloads are under its data key v1.
    def setUp(self):
        super().setUp()
        self.append(30)

    def copy(self, name):
        """A copy of the log, without the checkpoint its writer published beside it (an operator
        who rewrites the log replaces that file too)."""
        db = os.path.join(self.tmp, name)
        shutil.copytree(self.db, db)
        return db

    def verify_payloads(self, db, *extra, check):
        return sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, "--payloads", "--auditor-key",
                     self.auditor_key, *extra, check=check)

    def problems(self, db):
        doc = json.loads(self.verify_payloads(db, "--format", "json", check=1).stdout)
        return [(p["kind"], p["record"]) for p in doc["problems"]], doc

    def show(self, db, seq, check):
        return sovgw("audit", "show", "--db", db, "--seq", str(seq), "--auditor-key", self.auditor_key, check=check)


class forwarded_body_test(operator_case):
    def test_a_sealed_prompt_that_is_not_the_body_forwarded_fails_verify_and_show(self):
        # As a gateway writes it: the prompt sealed is the body forwarded (record 30).
        run(TAMPER, self.db, "append-forwarded", self.keys, '{"q":"sent"}', '{"q":"sent"}', check=0)
        self.assertIn("every stored payload opens with the auditor key",
                      self.verify_payloads(self.db, check=0).stdout)
        p = self.show(self.db, 30, check=0)
        self.assertIn('--- prompt (12 bytes) ---\n{"q":"sent"}\n', p.stdout)
        self.assertNotIn("forwarded", p.stderr)
        # Record 31 seals a prompt that was never sent: its forwarded_digest is another body's.
        run(TAMPER, self.db, "append-forwarded", self.keys, '{"q":"NEVER SENT"}', '{"q":"sent"}', check=0)
        problems, doc = self.problems(self.db)
        self.assertEqual(problems, [("forwarded_digest_mismatch", 31)])
        self.assertEqual(doc["first_bad_record"], 31)
        out = self.verify_payloads(self.db, check=1).stdout
        self.assertIn("record 31: the sealed prompt is not the body the record says was forwarded (its "
                      "Content-Digest is sha-256=:", out)
        self.assertIn("the payload was replaced after sealing, or the gateway sealed one body and forwarded "
                      "another", out)
        p = self.show(self.db, 31, check=1)
        self.assertIn('--- prompt (18 bytes; NOT the body forwarded: see below) ---\n{"q":"NEVER SENT"}\n', p.stdout)
        self.assertIn("the sealed prompt of record 31 is not the body the record says was forwarded", p.stderr)


class rewritten_record_test(operator_case):
    def resigned(self, name, *ops):
        db = self.copy(name)
        for op in ops:
            run(TAMPER, db, *op, check=0)
        run(TAMPER, db, "resign", self.keys, check=0)
        return db

    def test_records_rewritten_after_sealing_are_each_named_and_the_data_key_is_not_blamed(self):
        db = self.resigned("rewritten", ("rewrite", "0", "model", "gpt-4o"), ("rewrite", "10", "model", "gpt-4o"))
        self.assertEqual(self.verify(db).returncode, 0)  # re-signed: the tree and checkpoints agree
        problems, doc = self.problems(db)
        self.assertEqual(problems, [("payload_record_mismatch", 0), ("payload_record_mismatch", 10)])
        self.assertEqual(doc["first_bad_record"], 0)
        out = self.verify_payloads(db, check=1).stdout
        for seq in (0, 10):
            self.assertIn(f"record {seq}: the stored payload matches the hash its record commits to but does not "
                          "open with the record's fields under tenant 'acme' data key v1, which opens the tenant's "
                          "other payloads: the record's fields or its payload were changed after sealing (the "
                          "record was rewritten, or a payload moved)", out)
        self.assertNotIn("the data key was replaced", out)
        p = self.show(db, 10, check=1)
        self.assertIn("the record's fields or its payload were changed after sealing", p.stderr)
        self.assertNotIn("the data key was replaced", p.stderr)

    def test_two_payloads_swapped_with_their_hashes_are_both_named(self):
        db = self.resigned("swapped", ("swap-payloads", "0", "5"))
        problems, _ = self.problems(db)
        self.assertEqual(problems, [("payload_record_mismatch", 0), ("payload_record_mismatch", 5)])
        self.assertIn("the record's fields or its payload were changed after sealing", self.show(db, 5, check=1).stderr)

    def test_a_data_key_that_opens_none_of_its_payloads_was_replaced(self):
        db = self.copy("replaced")
        run(TAMPER, db, "replace-data-key", "acme", "1", os.path.join(self.keys, "auditor.pub"), check=0)
        problems, _ = self.problems(db)
        self.assertEqual(problems, [("payload_undecryptable", 0)])
        out = self.verify_payloads(db, check=1).stdout
        self.assertIn("records 0, 5, 10, 15 and 25: the stored payloads match the hashes their records commit to "
                      "but none of them opens under tenant 'acme' data key v1: the data key was replaced", out)
        self.assertIn("the data key was replaced", self.show(db, 5, check=1).stderr)


class replaced_log_test(operator_case):
    def test_a_held_checkpoint_of_another_log_name_and_key_is_a_verification_failure(self):
        held = os.path.join(self.tmp, "visit-1.checkpoint")
        sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--save-checkpoint", held, check=0)
        other = os.path.join(self.tmp, "other-keys")
        sovgw("keys", "init", other, "--name", "gw2.sovgw.local/audit", check=0)
        run(TAMPER, self.db, "resign", other, check=0)
        os.remove(self.db + ".checkpoint")
        other_pub = os.path.join(other, "signing.pub")
        sovgw("audit", "verify", "--db", self.db, "--pubkey", other_pub, check=0)  # alone, it verifies
        said = ("the log you were given is not the log this checkpoint was saved from: another name and signing "
                "key")
        p = sovgw("audit", "verify", "--db", self.db, "--pubkey", other_pub, "--checkpoint", held, check=1)
        self.assertIn("FAILED", p.stdout)
        self.assertIn(said, p.stdout)
        self.assertEqual(p.stderr, "")
        doc = json.loads(sovgw("audit", "verify", "--db", self.db, "--pubkey", other_pub, "--checkpoint", held,
                               "--format", "json", check=1).stdout)
        self.assertEqual([p["kind"] for p in doc["problems"]], ["log_replaced"])
        self.assertIn(said, doc["problems"][0]["text"])
        out = os.path.join(self.tmp, "r.json")
        sovgw("audit", "report", "--db", self.db, "--pubkey", other_pub, "--checkpoint", held, "--format", "json",
              "--out", out, check=1)
        with open(out, encoding="utf-8") as f:
            report = json.load(f)
        self.assertEqual([p["kind"] for p in report["verification"]["problems"]], ["log_replaced"])


if __name__ == "__main__":
    unittest.main()
