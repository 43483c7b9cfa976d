"""What the holder of the signing key (or a writer) can put into a log that no gateway writes, and
how `sovgw audit` names it: records that do not decode, rewritten history under a checkpoint the
auditor kept, another signing key, duplicate request ids, implausible times."""

import base64
import hashlib
import json
import os
import shutil
import unittest

from test_audit_support import TAMPER, read_file, run, sovgw, tampered_log_case, write_file


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
        # Which of the two histories signed at size 300 is the rewritten one the records cannot tell
        # (probe round 30: the checkpoint held may be the forged side's).
        self.assertIn("the checkpoint you hold at size 300: its signed root does not match the recomputed tree: this "
                      "log and the checkpoint you hold sign two different histories of size 300 under one key, so "
                      "one of them is a fork", p.stdout)
        self.assertNotIn("300..299", p.stdout)
        self.assertNotIn("first record that does not match", p.stdout)  # only the range is known
        # Its signature verifies: it contradicts the one held, it does not fail (probe round 37).
        self.assertIn("1 of 1 stored checkpoint is signed by the key and matches the records, but contradicts a "
                      "checkpoint kept outside the log (the fork named above), none verifies", p.stdout)
        self.assertNotIn("fails verification", p.stdout)
        self.assertNotIn("no stored checkpoint signed by", p.stdout)
        doc = self.verify_json(db, "--checkpoint", held)
        self.assertEqual((doc["checkpoints"], doc["failed_checkpoints"], doc["contradicting_checkpoints"],
                          doc["checkpoint"]), (0, 0, 1, None))
        self.assertIsNone(doc["first_bad_record"])
        report = json.loads(sovgw("audit", "report", "--db", db, "--pubkey", self.pub, "--checkpoint", held,
                                  "--format", "json", check=1).stdout)["verification"]
        self.assertEqual((report["checkpoints"], report["failed_checkpoints"], report["contradicting_checkpoints"],
                          report["checkpoint"]), (0, 0, 1, None))

    def test_a_rewritten_history_under_an_older_held_checkpoint_names_the_range_it_covers(self):
        held = self.held(200)
        db = self.resigned("flip", "50")
        p = sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, "--checkpoint", held, check=1)
        # The stored checkpoint at 300 signs the rewritten history, or the one held is another log's
        # under the same key: the records cannot tell (probe round 37), and it is not a verified one.
        self.assertIn("the checkpoint you hold at size 200: its signed root does not match the recomputed tree: this "
                      "log and the checkpoint you hold sign two different histories under one key, so one of them is "
                      "a fork: either this log was rewritten, or the checkpoint you hold belongs to another log that "
                      "shares the key", p.stdout)
        self.assertIn("the log's own checkpoint at size 300, whose signature verifies, signs its records", p.stdout)
        self.assertNotIn("was altered", p.stdout)
        self.assertNotIn("first record that does not match", p.stdout)
        doc = self.verify_json(db, "--checkpoint", held)
        self.assertEqual((doc["checkpoints"], doc["failed_checkpoints"], doc["contradicting_checkpoints"],
                          doc["checkpoint"]), (0, 0, 1, None))
        self.assertIsNone(doc["first_bad_record"])

    def fork_from_200(self):
        """A fork of the log from record 200 on, as a writer with the key makes it: records 0..199 and
        the checkpoints at 100 and 200 kept, then 150 records of another history, signed at 350."""
        fork = self.tampered("truncate", "100")
        self.append(150, run_name="fork", db=fork)
        return fork

    def test_a_fork_past_a_stored_checkpoint_says_where_the_records_differ_if_this_log_was_rewritten(self):
        # Probe round 32 (finding 3): "records 0..299: one differs" when the 100 records from 200 on
        # differ.
        held = self.held(300)
        fork = self.fork_from_200()
        p = sovgw("audit", "verify", "--db", fork, "--pubkey", self.pub, "--checkpoint", held, check=1)
        self.assertIn("this log and the checkpoint you hold sign two different histories under one key, so one of "
                      "them is a fork", p.stdout)
        self.assertIn("the log's own checkpoint at size 350, whose signature verifies, signs its records (records "
                      "0..199 reproduce the log's signed checkpoint at size 200: if this log was rewritten, and that "
                      "checkpoint not signed over the rewrite, the records that differ are in 200..299)", p.stdout)

    def test_the_text_counts_the_stored_checkpoints_as_the_json_does(self):
        # Probe round 32 (finding 3): "1 of 3 stored checkpoints fails" beside JSON's "checkpoints": 2.
        held = self.held(300)
        fork = self.fork_from_200()
        p = sovgw("audit", "verify", "--db", fork, "--pubkey", self.pub, "--checkpoint", held, check=1)
        self.assertIn("1 of 3 stored checkpoints is signed by the key and matches the records, but contradicts a "
                      "checkpoint kept outside the log (the fork named above), 2 verify", p.stdout)
        doc = self.verify_json(fork, "--checkpoint", held)
        self.assertEqual((doc["stored_checkpoints"], doc["checkpoints"], doc["failed_checkpoints"],
                          doc["contradicting_checkpoints"]), (3, 2, 0, 1))
        report = json.loads(sovgw("audit", "report", "--db", fork, "--pubkey", self.pub, "--checkpoint", held,
                                  "--format", "json", check=1).stdout)["verification"]
        self.assertEqual((report["stored_checkpoints"], report["checkpoints"], report["failed_checkpoints"],
                          report["contradicting_checkpoints"]), (3, 2, 0, 1))

    def fingerprint(self, pub):
        """The RFC 7638 SHA-256 thumbprint of the Ed25519 key in a signing.pub (`name+id+base64(0x01||key)`)."""
        with open(pub, encoding="utf-8") as f:
            key = base64.b64decode(f.read().strip().split("+", 2)[2])[1:]
        x = base64.urlsafe_b64encode(key).rstrip(b"=").decode()
        jwk = '{"crv":"Ed25519","kty":"OKP","x":"%s"}' % x
        return base64.urlsafe_b64encode(hashlib.sha256(jwk.encode()).digest()).rstrip(b"=").decode()

    def test_the_key_is_named_by_its_full_fingerprint(self):
        fingerprint = self.fingerprint(self.pub)
        self.assertEqual(len(fingerprint), 43)
        out = self.verify().stdout
        self.assertIn(f"(SHA-256 fingerprint {fingerprint})", out.splitlines()[0])
        doc = json.loads(sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--format", "json",
                               check=0).stdout)
        self.assertEqual(doc["key"]["fingerprint"], fingerprint)
        proof = os.path.join(self.tmp, "p")
        write_file(proof, sovgw("audit", "prove", "--db", self.db, "--seq", "3", check=0).stdout)
        out = sovgw("audit", "verify-proof", proof, "--pubkey", self.pub, check=0).stdout
        self.assertIn(f"(SHA-256 fingerprint {fingerprint})", out.splitlines()[0])
        init = sovgw("keys", "init", os.path.join(self.tmp, "more"), check=0).stdout
        self.assertIn(f"SHA-256 fingerprint {self.fingerprint(os.path.join(self.tmp, 'more', 'signing.pub'))}", init)

    def test_a_held_checkpoint_of_another_key_under_the_log_name_means_the_key_changed(self):
        held = self.held(300)
        other = os.path.join(self.tmp, "other-keys")
        sovgw("keys", "init", other, "--name", "test.sovgw.local/audit", check=0)
        db = self.resigned_with(other, "flip", "50")
        other_pub = os.path.join(other, "signing.pub")
        self.assertEqual(self.verify(db).returncode, 1)  # the log's own checkpoints are another key's now
        p = sovgw("audit", "verify", "--db", db, "--pubkey", other_pub, "--checkpoint", held, check=1)
        self.assertIn("the checkpoint you hold is signed by test.sovgw.local/audit+", p.stdout)
        self.assertIn("the log's signing key changed since your last visit", p.stdout)
        doc = json.loads(sovgw("audit", "verify", "--db", db, "--pubkey", other_pub, "--checkpoint", held,
                               "--format", "json", check=1).stdout)
        self.assertEqual(doc["problems"][0]["kind"], "signing_key_changed")
        report = json.loads(sovgw("audit", "report", "--db", db, "--pubkey", other_pub, "--checkpoint", held,
                                  "--format", "json", check=1).stdout)
        self.assertEqual(report["verification"]["problems"][0]["kind"], "signing_key_changed")
        # A checkpoint of another log name and key: the log given is not the one it was saved from
        # (probe round 30: it was a usage error that blamed the auditor; test_audit_operator).
        elsewhere = os.path.join(self.tmp, "elsewhere")
        sovgw("keys", "init", elsewhere, "--name", "another.log/audit", check=0)
        doc = json.loads(sovgw("audit", "verify", "--db", db, "--pubkey", os.path.join(elsewhere, "signing.pub"),
                               "--checkpoint", held, "--format", "json", check=1).stdout)
        self.assertEqual(doc["problems"][0]["kind"], "log_replaced")
        self.assertIn("the log you were given is not the log this checkpoint was saved from", doc["problems"][0]["text"])

    def test_an_altered_checkpoint_signed_by_the_key_itself_is_invalid_not_a_changed_key(self):
        # One character of the root line changed: the signature line still names the key (name and id).
        lines = read_file(self.held(300)).split("\n")
        lines[2] = ("B" if lines[2][0] != "B" else "C") + lines[2][1:]
        altered = os.path.join(self.tmp, "altered.checkpoint")
        write_file(altered, "\n".join(lines))
        label = "+".join(read_file(self.pub).split("+")[:2])  # name+id
        doc = json.loads(sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--checkpoint", altered,
                               "--format", "json", check=1).stdout)
        self.assertEqual([p["kind"] for p in doc["problems"]], ["checkpoint_invalid"])
        self.assertEqual(doc["problems"][0]["text"],
                         f"--checkpoint {altered}: the checkpoint you hold does not verify under the key {label} "
                         "given with --pubkey: it was altered or damaged (the log is checked without it)")
        report = json.loads(sovgw("audit", "report", "--db", self.db, "--pubkey", self.pub, "--checkpoint", altered,
                                  "--format", "json", check=1).stdout)
        self.assertEqual([p["kind"] for p in report["verification"]["problems"]], ["checkpoint_invalid"])
        # The same file published beside the log.
        write_file(self.db + ".checkpoint", "\n".join(lines))
        p = sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, check=1)
        self.assertIn(f"  - the checkpoint published at {self.db}.checkpoint does not verify under the key {label}: "
                      "it was altered or damaged\n", p.stdout)
        self.assertNotIn("not by the key", p.stdout)
        doc = self.verify_json(self.db)
        self.assertEqual([p["kind"] for p in doc["problems"]], ["checkpoint_invalid"])

    def sibling_checkpoint(self, n):
        """The newest checkpoint of a sibling log of `n` records written with the same keys (a second
        gateway or a staging log under the same keys): signed by the key, another history."""
        sibling = os.path.join(self.tmp, f"sibling-{n}")
        self.append(n, run_name="sibling", db=sibling)
        path = os.path.join(self.tmp, f"sibling-{n}.saved")
        sovgw("audit", "verify", "--db", sibling, "--pubkey", self.pub, "--save-checkpoint", path, check=0)
        return path

    def with_stored_checkpoint(self, size, note):
        """A copy of the log whose stored checkpoint at `size` is the signed note in `note`."""
        copy = os.path.join(self.tmp, f"copy-put-checkpoint-{size}")
        shutil.copytree(self.db, copy)
        run(TAMPER, copy, "put-checkpoint", size, note, check=0)
        return copy

    def test_a_sibling_logs_checkpoint_stored_under_later_checkpoints_that_sign_the_records_is_a_fork(self):
        # Probe round 44 (tester 2, finding 1): "records 0..99: at least one differs from what was
        # signed, and the stored tree was rewritten" while the checkpoints at 200 and 300 sign them.
        db = self.with_stored_checkpoint(100, self.sibling_checkpoint(100))
        out = self.failed(db)
        self.assertNotIn("differs from what was signed", out)
        self.assertNotIn("was altered", out)
        self.assertNotIn("not consistent", out)
        self.assertNotIn("first record that does not match", out)
        self.assertIn("checkpoint at size 100: its signed root does not match the recomputed tree, but the log's "
                      "checkpoint at size 200, whose signature verifies, signs records 0..199 as they are: the key "
                      "signed two different histories, so this checkpoint is a fork: another log's that shares the "
                      "key (a second gateway or a staging log under the same keys), stored in place of this log's "
                      "own, or this log's records 0..99 were rewritten and signed again from size 200 on",
                      out)
        self.assertIn("1 of 3 stored checkpoints fails verification, 2 verify", out)
        doc = self.verify_json(db)
        self.assertEqual([(p["kind"], p["record"]) for p in doc["problems"]], [("checkpoint_mismatch", 99)])
        self.assertIsNone(doc["first_bad_record"])
        self.assertEqual((doc["checkpoints"], doc["failed_checkpoints"], doc["contradicting_checkpoints"]), (2, 1, 0))
        report = json.loads(sovgw("audit", "report", "--db", db, "--pubkey", self.pub, "--format", "json",
                                  check=1).stdout)["verification"]
        self.assertEqual([p["kind"] for p in report["problems"]], ["checkpoint_mismatch"])
        # prove agrees: record 50 is the one the checkpoint at size 300 signs.
        sovgw("audit", "prove", "--db", db, "--seq", "50", check=0)

    def test_a_sibling_logs_checkpoint_at_the_size_the_auditor_holds_is_named_the_foreign_one(self):
        # Probe round 44 (tester 2, finding 2): "the log forked or was rewritten", and the stored
        # checkpoint counted as matching the records, when the records reproduce the one held.
        held = self.held(300)
        db = self.with_stored_checkpoint(300, self.sibling_checkpoint(300))
        p = sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, "--checkpoint", held, check=1)
        self.assertIn("the log's signed checkpoint at size 300 has root ", p.stdout)
        self.assertIn(", which the records do not reproduce, but the checkpoint you hold has root ", p.stdout)
        self.assertIn(", which they do: the stored checkpoint is another log's that shares the key (a second gateway "
                      "or a staging log under the same keys), stored in place of this log's own", p.stdout)
        self.assertNotIn("forked or was rewritten", p.stdout)
        self.assertNotIn("matches the records, but contradicts", p.stdout)
        self.assertNotIn("was altered", p.stdout)
        doc = self.verify_json(db, "--checkpoint", held)
        self.assertEqual([p["kind"] for p in doc["problems"]], ["checkpoint_mismatch"])
        self.assertEqual((doc["checkpoints"], doc["failed_checkpoints"], doc["contradicting_checkpoints"]), (2, 1, 0))
        self.assertIsNone(doc["first_bad_record"])
        # Without a checkpoint held, the records cannot tell: both readings are named.
        out = self.failed(db)
        self.assertIn("records 200..299: at least one differs from what was signed, and the stored tree was "
                      "rewritten to match it, or the checkpoint at size 300 is another log's that shares the key "
                      "(a second gateway or a staging log under the same keys), stored in place of this log's own",
                      out)
        self.assertIn("checkpoint at size 300: its signed root does not match the recomputed tree: a record in "
                      "200..299 was altered, or this checkpoint is another log's that shares the key", out)
        p = sovgw("audit", "prove", "--db", db, "--seq", "250", check=1)
        self.assertIn("or that checkpoint is another log's that shares the key", p.stderr)

    def test_a_sibling_logs_larger_checkpoint_in_the_store_does_not_prove_records_deleted(self):
        # Probe round 44 (tester 2, finding 3): "records 300..399 are missing (deleted)" as fact, and
        # "first record that does not match: 300", a record that does not exist.
        db = self.with_stored_checkpoint(400, self.sibling_checkpoint(400))
        out = self.failed(db)
        self.assertIn("the log holds 300 records but a signed checkpoint stored in it covers 400: at least records "
                      "300..399 are gone, and whether the 300 records still here are the ones it signs cannot be "
                      "checked from a shorter log (records deleted from its end, or a checkpoint of another log "
                      "under the same key stored in this one)", out)
        self.assertNotIn("are missing (deleted)", out)
        self.assertNotIn("first record that does not match", out)
        doc = self.verify_json(db)
        self.assertEqual([p["kind"] for p in doc["problems"]], ["records_truncated"])
        self.assertEqual(doc["truncated_records"], 100)
        self.assertIsNone(doc["first_bad_record"])

    def test_a_sibling_logs_checkpoint_kept_outside_a_log_that_lost_its_newest_checkpoint_is_hedged(self):
        # Probe round 47 (tester 3, finding 1): "a record in 0..299 was altered" as fact, the records
        # untouched, when the checkpoint kept outside the log is a sibling's past the newest stored one.
        sibling = self.sibling_checkpoint(300)
        db = self.tampered("delete-checkpoints-from", "300")
        shutil.copyfile(sibling, db + ".checkpoint")
        # prove (and receipt verify --db, which reads the same) does not take it for the log's own
        # checkpoint lost from the store while verify rejects it.
        p = sovgw("audit", "prove", "--db", db, "--seq", "250", check=1)
        self.assertIn(f"the checkpoint published beside it at {db}.checkpoint covers 300 but its root is not the "
                      "stored tree's at that size: a record or the stored tree was altered, or that checkpoint is "
                      "another log's that shares the key", p.stderr)
        self.assertNotIn("missing from the store", p.stderr)
        self.assertEqual(p.stdout, "")
        for extra, label in (((), f"the checkpoint the gateway published at {db}.checkpoint"),
                             (("--checkpoint", sibling), "the checkpoint you hold")):
            if extra:
                os.remove(db + ".checkpoint")
            p = sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, *extra, check=1)
            self.assertIn(f"{label} at size 300: its signed root does not match the recomputed tree: a record in "
                          f"0..299 was altered, or {label} is another log's that shares the key (a second gateway "
                          "or a staging log under the same keys)", p.stdout)
            self.assertIn("records 0..299: at least one differs from what was signed, and the stored tree was "
                          "rewritten to match it (records 0..199 reproduce the log's signed checkpoint at size 200: "
                          "unless it too was signed over the rewrite, the records that differ are in 200..299), or "
                          f"{label} at size 300 is another log's that shares the key", p.stdout)
            self.assertNotIn("was altered\n", p.stdout)
            doc = self.verify_json(db, *extra)
            self.assertIsNone(doc["first_bad_record"])

    def test_a_stored_checkpoint_past_the_records_end_is_never_counted_as_matching_the_records(self):
        # Probe round 47 (tester 3, finding 2): "1 of 3 stored checkpoints is signed by the key and
        # matches the records" (and "the log forked") for checkpoints the records cannot reproduce.
        sibling = self.sibling_checkpoint(300)
        # (b) The newest records deleted, a sibling's checkpoint stored in place of the log's own, the
        # genuine one published beside it: the stored tree reproduces the published one.
        db = self.with_stored_checkpoint(300, sibling)
        run(TAMPER, db, "delete-newest", "50", check=0)
        shutil.copyfile(self.db + ".checkpoint", db + ".checkpoint")
        p = sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, check=1)
        self.assertIn("which the stored tree does not reproduce, but the checkpoint the gateway published at "
                      f"{db}.checkpoint has root ", p.stdout)
        self.assertIn(", which it does: the stored checkpoint is another log's that shares the key", p.stdout)
        self.assertNotIn("forked", p.stdout)
        self.assertNotIn("matches the records", p.stdout)
        doc = self.verify_json(db)
        self.assertEqual(doc["contradicting_checkpoints"], 0)
        # (a) A log truncated under its own stored checkpoint, a sibling's held: the stored one
        # cannot match records the log no longer has.
        held = self.held(300)
        db = self.tampered("truncate", "100")
        run(TAMPER, db, "put-checkpoint", "300", held, check=0)
        p = sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, "--checkpoint", sibling, check=1)
        self.assertNotIn("matches the records", p.stdout)
        self.assertNotIn("match the records", p.stdout)
        doc = self.verify_json(db, "--checkpoint", sibling)
        self.assertEqual((doc["contradicting_checkpoints"], doc["failed_checkpoints"]), (0, 1))

    def test_a_sibling_logs_larger_checkpoint_does_not_inflate_a_deletion_the_stored_tree_shows(self):
        # Probe round 47 (tester 3, finding 3): a 50-record deletion reported as "records 250..399 are
        # missing (deleted)", truncated_records 150, when a sibling's checkpoint at 400 is stored.
        db = self.with_stored_checkpoint(400, self.sibling_checkpoint(400))
        run(TAMPER, db, "delete-newest", "50", check=0)
        out = self.failed(db)
        self.assertIn("the log holds 250 records but the stored Merkle tree holds hashes up to record 299 and a "
                      "signed checkpoint stored in it covers 300: records 250..299 are missing (deleted); a signed "
                      "checkpoint stored in it covers 400: records 300..399 are gone too, or it is a checkpoint of "
                      "another log under the same key stored in this one", out)
        self.assertNotIn("250..399", out)
        doc = self.verify_json(db)
        self.assertEqual((doc["truncated_records"], doc["first_bad_record"]), (50, 250))

    def test_prove_of_a_record_under_a_checkpoint_past_a_truncated_logs_end_does_not_say_retry(self):
        # Probe round 47 (tester 3, finding 4): "record 240 is not covered by a signed checkpoint yet
        # (latest covers 200 records); retry after the next checkpoint" (exit 2) on a log whose own
        # checkpoint at 300 covers it and whose records 250..299 were deleted.
        db = self.tampered("delete-newest", "50")
        p = sovgw("audit", "prove", "--db", db, "--seq", "240", check=1)
        self.assertIn("record 240 is covered by the checkpoint stored at size 300, but the log holds 250 records: "
                      "records 250..299 are gone (deleted from its end), or that checkpoint is another log's that "
                      "shares the key", p.stderr)
        self.assertNotIn("retry", p.stderr)
        self.assertEqual(p.stdout, "")
        # A record under the checkpoint the records still reach is proven as before.
        sovgw("audit", "prove", "--db", db, "--seq", "150", check=0)

    def resigned_with(self, keys, *op):
        db = self.tampered(*op)
        run(TAMPER, db, "resign", keys, check=0)
        return db


if __name__ == "__main__":
    unittest.main()
