"""What `sovgw audit verify` finds beyond the leaves and the tree (the indexes, a damaged stored
tree, a truncation that took its checkpoints along), and why a forced open never forks the log."""

import base64
import json
import os
import shutil
import unittest

from test_audit_support import TAMPER, read_file, run, sovgw, tampered_log_case, write_file


class evidence_test(tampered_log_case):
    def query(self, db, *args):
        return sovgw("audit", "query", "--db", db, *args, check=0).stdout

    def test_an_index_entry_deleted_is_named(self):
        db = self.tampered("delete-index", "decision", "72")
        self.assertNotIn("s0-72", self.query(db, "--decision", "permit"))  # what the index hides
        out = self.failed(db)
        self.assertIn("record 72 is missing from the decision index (its decision is 'permit')", out)
        self.assertNotIn("first record that does not match", out)  # the record itself is intact

    def test_an_index_entry_pointed_at_another_record_is_named(self):
        db = self.tampered("repoint-index", "request", "72", "5")
        out = self.failed(db)
        self.assertIn("the request id index lists record 5 under 's0-72', but the record's request id is 's0-5'",
                      out)
        self.assertIn("record 72 is missing from the request id index (its request id is 's0-72')", out)

    def test_keys_naming_records_far_beyond_the_log_are_reported_not_allocated(self):
        far = str(1 << 60)
        db = self.tampered("repoint-index", "tenant", "72", far)
        run(TAMPER, db, "copy-leaf", "5", far, check=0)
        out = self.failed(db)
        self.assertIn(f"the tenant index lists record {far} (under 'initech'), but the log's records end at", out)
        self.assertIn("record 72 is missing from the tenant index", out)
        self.assertIn(f"records 300..{(1 << 60) - 1} are missing", out)
        self.assertIn("the stored Merkle tree has no hash for missing record 300", out)

    def test_a_damaged_stored_tree_is_not_blamed_on_the_record(self):
        out = self.failed(self.tampered("damage-tile", "53"))
        self.assertIn("stored Merkle tree tile 0/3 is damaged: its hash of record 53 differs, but the record "
                      "matches the signed checkpoint at size 300", out)
        self.assertNotIn("first record that does not match", out)

    def test_an_altered_record_with_the_tree_rewritten_to_match_is_bounded_by_the_checkpoints(self):
        db = self.tampered("flip", "150")
        run(TAMPER, db, "truncate", "0", check=0)  # rebuilds the stored tree from the records
        out = self.failed(db)
        self.assertIn("records 100..199: at least one differs from what was signed, and the stored tree was "
                      "rewritten", out)
        self.assertEqual(out.count("differs from what was signed"), 1)  # not repeated for size 300
        self.assertNotIn("unless it too was signed over the rewrite", out)  # no checkpoint held: bounded already
        self.assertNotIn("first record that does not match", out)  # only the range is known

    def test_a_deleted_tree_tile_is_named_as_missing_not_as_one_differing_hash(self):
        out = self.failed(self.tampered("delete-tile", "50"))
        self.assertIn("stored Merkle tree tile 0/3 is missing (the hashes of records 48..63)", out)
        self.assertNotIn("differs", out)
        self.assertNotIn("first record that does not match", out)  # the records match the checkpoints

    def test_a_held_checkpoint_authenticates_records_like_a_stored_one(self):
        held = os.path.join(self.tmp, "held")
        write_file(held, self.checkpoint_note(self.db, 300))
        db = self.tampered("damage-tile", "53")
        run(TAMPER, db, "delete-checkpoints-from", "0", check=0)
        p = sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, "--checkpoint", held)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("stored Merkle tree tile 0/3 is damaged: its hash of record 53 differs, but the record "
                      "matches the signed checkpoint at size 300", p.stdout)
        self.assertNotIn("first record that does not match", p.stdout)

    def test_deleted_newest_records_of_a_log_without_checkpoints_are_found(self):
        db = self.tampered("delete-checkpoints-from", "0")
        run(TAMPER, db, "delete-newest", "5", check=0)
        out = self.failed(db)
        self.assertIn("the stored Merkle tree holds hashes of records 295..299, but the log ends at record 295",
                      out)

    def test_a_forced_open_over_a_damaged_stored_tree_rebuilds_it_from_the_records(self):
        db = self.tampered("damage-tile", "53")
        self.append(3, db=db, run_name="after", extra=("--force",))
        self.assertIn("its Merkle tree rebuilt from the records", self.query(db, "--format", "jsonl"))
        ok = self.verify(db)
        self.assertEqual(ok.returncode, 0, ok.stdout)
        self.assertIn("note: the log records 1 forced open over", ok.stdout)

    def test_a_tree_tile_that_contradicts_unsigned_records_is_not_repaired_by_a_forced_open(self):
        # Probe round 40: the checkpoints over records 200..299 deleted, record 280 rewritten and its
        # level-0 tile deleted. The level-1 tile above (1/1) still holds the hash of records 272..287 as
        # they were logged; verify called it tree damage ("does not match the records"), and a forced
        # open rebuilt the tree from the records and signed the altered record ("OK").
        db = self.tampered("delete-checkpoints-from", "201")
        run(TAMPER, db, "rewrite", "280", "model", "evil-model", check=0)
        run(TAMPER, db, "delete-tile", "280", check=0)
        contradiction = ("records 272..287: at least one differs from what the stored tree recorded (altered "
                         "records, or an altered tile)")
        out = self.failed(db)
        self.assertIn(contradiction, out)
        self.assertNotIn("does not match the records", out)
        doc = json.loads(sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, "--format", "json",
                               check=1).stdout)
        self.assertIn(("record_altered", 272), [(p["kind"], p["record"]) for p in doc["problems"]])
        sovgw("audit", "checkpoint", "--db", db, "--keys", self.keys, "--force")  # refused, or continues the tree
        self.assertNotIn("rebuilt from the records", self.query(db, "--format", "jsonl"))
        after = self.failed(db)
        self.assertIn(contradiction, after)
        page = sovgw("audit", "report", "--db", db, "--pubkey", self.pub, check=1).stdout
        self.assertNotIn("none altered", page)
        # Over records a signed checkpoint covers, the same deleted tile is damage a forced open repairs.
        db = self.tampered("delete-tile", "150")
        self.append(1, db=db, run_name="after", extra=("--force",))
        self.assertIn("its Merkle tree rebuilt from the records", self.query(db, "--format", "jsonl"))

    def test_a_query_through_an_index_names_an_entry_its_record_contradicts(self):
        # Probe round 40: a decision (tenant) index entry repointed at another record made an index
        # query drop the record it listed without a word: the repointed-away record was missing from
        # the answer, exit 0.
        for index, seq, to, args in (("decision", "72", "150", ("--decision", "permit")),
                                     ("tenant", "72", "6", ("--tenant", "initech"))):
            with self.subTest(index=index):
                db = self.tampered("repoint-index", index, seq, to)
                want = self.query(self.db, *args, "--format", "jsonl").count("\n")
                p = sovgw("audit", "query", "--db", db, *args, "--format", "jsonl")
                self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
                self.assertIn(f"the {index} index lists record {to} under", p.stderr)
                self.assertIn("but the record says", p.stderr)
                self.assertIn("--scan", p.stderr)
                scan = sovgw("audit", "query", "--db", db, *args, "--scan", "--format", "jsonl", check=0)
                self.assertEqual(scan.stdout.count("\n"), want)

    def test_records_after_a_deletion_the_log_was_re_signed_over_are_not_called_modified(self):
        # Probe round 40 (low): record 200 deleted with its index entries, and the log re-signed by
        # the key's holder: each of records 201..298 was "modified after it was logged". The tree was
        # built over the records without record 200: each one's hash sits one position earlier.
        db = self.tampered("delete-index", "time", "200")
        for index in ("tenant", "request", "decision", "country"):
            run(TAMPER, db, "delete-index", index, "200", check=0)
        run(TAMPER, db, "delete", "200", check=0)
        run(TAMPER, db, "resign", self.keys, check=0)
        out = self.failed(db)
        self.assertIn("record 200 is missing", out)
        self.assertIn("records 201..298: the stored Merkle tree holds each one's hash 1 position earlier, as a "
                      "tree built over the records without the 1 missing record before them does", out)
        self.assertNotIn("was modified after it was logged", out)
        self.assertIn("first record that does not match: 200", out)

    def test_deleted_newest_records_and_checkpoints_leave_the_tree_and_indexes_behind(self):
        db = self.tampered("delete-newest", "20")
        run(TAMPER, db, "delete-checkpoints-from", "281", check=0)
        out = self.failed(db)
        self.assertIn("the stored Merkle tree holds hashes of records 280..299, but the log ends at record 280",
                      out)
        # One line per index for the entries past the end, not one per record (probe round 25: a
        # line each filled the list and hid every other problem).
        self.assertIn("the tenant index lists 20 records from 280 to 299, but the log's records end at 280", out)
        self.assertNotIn("more problem", out)
        self.assertIn("first record that does not match: 280", out)

    def test_no_proof_is_made_of_an_altered_record(self):
        # Probe round 25: prove wrote a proof of a record flipped since it was signed and exited 0;
        # only the person handed the proof found out.
        db = self.tampered("flip", "150")
        p = sovgw("audit", "prove", "--db", db, "--seq", "150", check=1)
        self.assertIn("record 150 does not lead to the root of the latest stored checkpoint (size 300): the record "
                      "or the stored tree was altered since it was signed", p.stderr)
        self.assertEqual(p.stdout, "")
        self.assertTrue(sovgw("audit", "prove", "--db", db, "--seq", "149", check=0).stdout.startswith("c2sp.org/tlog-proof"))

    def test_deleted_records_are_counted_by_the_furthest_evidence(self):
        # Probe round 25: with the newest signed checkpoint (200) short of the stored tree (300), the
        # count stopped at the checkpoint: 20 of 120 deleted records went unmentioned.
        db = self.tampered("delete-newest", "120")
        run(TAMPER, db, "delete-checkpoints-from", "201", check=0)
        out = self.failed(db)
        self.assertIn("the log holds 180 records but a signed checkpoint covers 200, and the stored Merkle tree "
                      "holds hashes up to record 299: records 180..299 are missing (deleted)", out)
        doc = json.loads(sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, "--format", "json",
                               check=1).stdout)
        self.assertEqual(doc["truncated_records"], 120)

    def test_a_store_that_lost_its_newest_records_is_not_written_on(self):
        # What a restore from an older copy, or a lost write-ahead log, leaves: a shorter log that
        # verifies alone. The checkpoint the writer published beside the store still covers the rest.
        published = self.db + ".checkpoint"
        self.assertIn("sovgw.local/audit\n300\n", read_file(published))
        older = self.tampered("truncate", "20")
        shutil.rmtree(self.db)
        shutil.move(older, self.db)
        for extra in ((), ("--force",)):
            p = sovgw("audit", "append", "--db", self.db, "--keys", self.keys, "--synthetic", "1", *extra)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertIn(f"refusing to open the audit log at {self.db}: it reaches 280 records, but the checkpoint "
                          f"this log published at {published} covers 300: records 280..299 are gone", p.stderr)
        out = self.failed(self.db)
        self.assertIn(f"the log holds 280 records but the checkpoint the gateway published at {published} covers "
                      "300", out)
        # Nor is a missing store replaced by a new, empty one.
        shutil.rmtree(self.db)
        p = sovgw("audit", "append", "--db", self.db, "--keys", self.keys, "--synthetic", "1")
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn(f"refusing to create a new audit log at {self.db}: the log's store is missing, but the "
                      f"checkpoint this log published at {published} covers 300 records: records 0..299 were "
                      "deleted. Restore the store", p.stderr)
        self.assertFalse(os.path.exists(self.db))
        # However the store's path is written.
        for spelling in (self.db + "/.", self.db + "//", os.path.join(self.db, "x", "..")):
            p = sovgw("audit", "append", "--db", spelling, "--keys", self.keys, "--synthetic", "1")
            self.assertEqual(p.returncode, 1, spelling + p.stdout + p.stderr)
            self.assertFalse(os.path.exists(self.db))
        # A file there that is no checkpoint of this log: still no new store behind it.
        saved = read_file(published)
        write_file(published, "garbage\n")
        p = sovgw("audit", "append", "--db", self.db, "--keys", self.keys, "--synthetic", "1")
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn(f"its store is missing, but {published} is there (the checkpoint published at {published} "
                      "is damaged: it is not a signed checkpoint", p.stderr)
        self.assertFalse(os.path.exists(self.db))
        write_file(published, saved)
        # Moved aside as the message says, a new log starts.
        shutil.move(published, os.path.join(self.tmp, "evidence.checkpoint"))
        self.append(2, run_name="new")
        self.assertIn("OK: 2 records", self.verify().stdout)

    def test_a_clean_truncation_is_found_with_a_checkpoint_the_auditor_kept(self):
        # A forger who removes records, index entries, tree and checkpoints leaves a log that
        # verifies on its own; a checkpoint from an earlier visit still exposes it.
        held = os.path.join(self.tmp, "held-checkpoint")
        write_file(held, self.checkpoint_note(self.db, 300))
        db = self.tampered("truncate", "20")
        self.assertEqual(self.verify(db).returncode, 0)
        p = sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, "--checkpoint", held)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("the log holds 280 records but the checkpoint you hold covers 300: at least records 280..299 "
                      "are gone since you verified it", p.stdout)
        ok = sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--checkpoint", held)
        self.assertEqual(ok.returncode, 0, ok.stdout + ok.stderr)
        self.assertIn("the checkpoint you hold (size 300) is reproduced", ok.stdout)
        # A proof file kept from that visit serves as well; something else is refused.
        proof = os.path.join(self.tmp, "kept.tlog-proof")
        write_file(proof, sovgw("audit", "prove", "--db", self.db, "--seq", "7", check=0).stdout)
        p = sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, "--checkpoint", proof)
        self.assertIn("the checkpoint you hold covers 300", p.stdout)
        write_file(proof, "not a checkpoint\n")
        p = sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, "--checkpoint", proof, check=2)
        self.assertIn("--checkpoint " + proof, p.stderr)

    def test_each_held_checkpoint_is_named_when_the_log_contradicts_one(self):
        # The checkpoint published beside the store covers 300; the auditor's own (--checkpoint) 200.
        # The truncated log reproduces the auditor's and not the published one: the message names that one.
        proof = sovgw("audit", "prove", "--db", self.db, "--old", "200", check=0).stdout
        old_line = next(line for line in proof.splitlines() if line.startswith("old "))
        held = os.path.join(self.tmp, "held-200")
        write_file(held, base64.b64decode(old_line[4:]).decode())
        db = self.tampered("truncate", "20")
        published = db + ".checkpoint"
        write_file(published, self.checkpoint_note(self.db, 300))
        p = sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, "--checkpoint", held)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn(f"the log holds 280 records but the checkpoint the gateway published at {published} covers 300",
                      p.stdout)
        self.assertNotIn("--checkpoint or", p.stdout)

    def checkpoint_note(self, db, size):
        """The signed checkpoint at `size`, as an auditor keeps it: the last part of a proof file."""
        proof = sovgw("audit", "prove", "--db", db, "--seq", "0", check=0).stdout
        note = proof.split("\n\n", 1)[1]
        self.assertIn(f"\n{size}\n", note)
        return note

    def test_prove_makes_no_consistency_proof_that_would_not_verify(self):
        # Probe round 44: a stored checkpoint replaced by another log's under the same key; prove
        # --old exited 0 with a proof that verify-proof then said showed a rewritten log.
        sibling = os.path.join(self.tmp, "sibling")
        self.append(100, db=sibling, run_name="other")
        note = os.path.join(self.tmp, "sibling-100")
        write_file(note, self.checkpoint_note(sibling, 100))
        db = self.tampered("put-checkpoint", "100", note)
        p = sovgw("audit", "prove", "--db", db, "--old", "100", check=1)
        self.assertEqual(p.stdout, "")
        self.assertIn("the stored checkpoints at sizes 100 and 300 are not consistent", p.stderr)
        # The log's own checkpoints still prove what they prove.
        proof = os.path.join(self.tmp, "consistency-200")
        write_file(proof, sovgw("audit", "prove", "--db", db, "--old", "200", check=0).stdout)
        self.assertIn("checkpoint at size 200 is consistent with checkpoint at size 300",
                      sovgw("audit", "verify-proof", proof, "--pubkey", self.pub, check=0).stdout)

    def test_a_forced_open_continues_the_signed_tree_instead_of_forking_it(self):
        db = self.tampered("flip", "7")
        before = self.checkpoint_note(db, 300)
        self.append(5, db=db, run_name="after", extra=("--force",))
        # The checkpoint at 300 is the one signed before, and the new one extends it.
        proof = os.path.join(self.tmp, "consistency")
        write_file(proof, sovgw("audit", "prove", "--db", db, "--old", "300", check=0).stdout)
        old_line = next(line for line in read_file(proof).splitlines() if line.startswith("old "))
        self.assertEqual(base64.b64decode(old_line[4:]).decode(), before)
        checked = sovgw("audit", "verify-proof", proof, "--pubkey", self.pub, check=0).stdout
        self.assertIn("checkpoint at size 300 is consistent with checkpoint at size 306", checked)
        # The altered record is still named, and no proof of it is made.
        out = self.failed(db)
        self.assertIn("record 7: its leaf hash does not match the stored Merkle tree", out)
        self.assertIn("first record that does not match: 7", out)
        self.assertIn("record 7 does not lead to the root of the latest stored checkpoint",
                      sovgw("audit", "prove", "--db", db, "--seq", "7", check=1).stderr)
        events = self.query(db, "--format", "jsonl")
        self.assertIn("continuing its stored Merkle tree", events)

    def test_a_forced_open_after_deleted_records_appends_after_them(self):
        db = self.tampered("delete-newest", "7")
        p = self.append(1, db=db, run_name="after", extra=("--force",))
        self.assertIn("last seq 301", p.stdout)  # the event took 300; 293..299 stay missing
        out = self.failed(db)
        self.assertIn("records 293..299 are missing (deleted?)", out)
        self.assertNotIn("not consistent", out)
        self.assertIn('"seq":301', self.query(db, "--format", "jsonl", "--request-id", "after-0"))

    def test_a_forced_open_is_refused_when_continuing_would_fork(self):
        # Records, tree and indexes truncated, but the signed checkpoint at 300 still there: no
        # tree state the log holds reproduces it, so any checkpoint signed next would contradict it.
        note = os.path.join(self.tmp, "note-300")
        write_file(note, self.checkpoint_note(self.db, 300))
        db = self.tampered("truncate", "20")
        run(TAMPER, db, "put-checkpoint", "300", note, check=0)
        self.assertIn("a signed checkpoint stored in it covers 300", self.failed(db))
        sovgw("audit", "append", "--db", db, "--keys", self.keys, "--synthetic", "1", check=1)
        p = sovgw("audit", "append", "--db", db, "--keys", self.keys, "--synthetic", "1", "--force", check=1)
        self.assertIn("cannot continue the audit log", p.stderr)
        self.assertIn("inconsistent", p.stderr)
        self.assertIn("start a new log", p.stderr)
        self.assertIn("a signed checkpoint stored in it covers 300", self.failed(db))  # nothing was written


if __name__ == "__main__":
    unittest.main()
