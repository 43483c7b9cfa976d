"""Tampering with a log is found by `sovgw audit verify`, which names where."""

import base64
import json
import os
import shutil
import unittest

from test_audit_support import sovgw, tampered_log_case, write_file


class tamper_test(tampered_log_case):
    def assert_caught(self, db, *needles):
        out = self.failed(db)
        for needle in needles:
            self.assertIn(needle, out)
        return out

    def test_flipped_byte_in_a_leaf(self):
        out = self.assert_caught(self.tampered("flip", "150"), "record 150:", "first record that does not match: 150")
        self.assertIn("checkpoint at size 200", out)

    def test_flipped_byte_in_a_stored_payload(self):
        db = self.tampered("flip-payload", "151")  # 150 is a denied request: no payload
        # The tree is intact: the plain verify passes; --payloads reads every payload and names it.
        self.assertEqual(self.verify(db).returncode, 0)
        p = sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, "--payloads")
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("record 151: the stored payload does not match the hash its record commits to", p.stdout)
        self.assertIn("first record that does not match: 151", p.stdout)
        ok = sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--payloads")
        self.assertEqual(ok.returncode, 0, ok.stdout + ok.stderr)
        self.assertIn("payloads: 273 stored payloads match", ok.stdout)  # denied requests have none

    def test_a_data_key_store_that_cannot_be_read_fails_payload_verification(self):
        db = self.tampered("corrupt-sst", "keys", "data")
        self.assertEqual(self.verify(db).returncode, 0)  # the records and checkpoints are intact
        p = sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, "--payloads")
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertTrue(p.stdout.startswith("FAILED: the audit log at"), p.stdout)
        self.assertIn("reading the data key store failed: Corruption: block checksum mismatch", p.stdout)
        self.assertNotIn("OK", p.stdout)  # one verdict
        self.assertNotIn("payloads match", p.stdout)
        doc = json.loads(sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, "--payloads", "--format",
                               "json", check=1).stdout)
        self.assertIs(doc["ok"], False)
        self.assertEqual([p["kind"] for p in doc["problems"]], ["read_failed"])
        ok = json.loads(sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--payloads", "--format",
                              "json", check=0).stdout)
        self.assertGreater(ok["data_keys_checked"], 0)

    def test_a_payload_store_that_cannot_be_read_fails_payload_verification(self):
        p = sovgw("audit", "verify", "--db", self.tampered("corrupt-sst", "payloads", "data"), "--pubkey", self.pub,
                  "--payloads")
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("reading the stored payloads failed: Corruption: block checksum mismatch", p.stdout)
        self.assertEqual(p.stdout.count("FAILED"), 1)

    def test_payloads_behind_a_damaged_block_are_unread_not_missing(self):
        # The payload column has several table files on one level; the first block of the last one fails
        # its checksum (RocksDB's iterator then ends at the file before, with an ok status). What that
        # block held cannot be judged: the verdict is read_failed, never "missing ... deleted outside
        # retention" (an accusation of tampering).
        db = self.tampered("corrupt-sst", "payloads", "later-in-level")
        for args in ([], ["--format", "json"]):
            p = sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, "--payloads", *args)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertNotIn("missing", p.stdout.replace('"missing_records":0', ""))
        self.assertIn("reading the stored payloads failed: Corruption: block checksum mismatch", p.stdout)
        self.assertEqual({q["kind"] for q in json.loads(p.stdout)["problems"]}, {"read_failed"})

    def test_payload_failure_is_one_verdict(self):
        p = sovgw("audit", "verify", "--db", self.tampered("flip-payload", "151"), "--pubkey", self.pub, "--payloads")
        self.assertEqual(p.returncode, 1)
        self.assertNotIn("OK:", p.stdout)
        self.assertEqual(p.stdout.count("FAILED"), 1)

    def damaged_copy(self, name):
        """A copy of the log with one byte flipped in the middle of its MANIFEST."""
        copy = os.path.join(self.tmp, name)
        shutil.copytree(self.db, copy)
        manifest = [f for f in os.listdir(copy) if f.startswith("MANIFEST-")]
        self.assertEqual(len(manifest), 1)
        path = os.path.join(copy, manifest[0])
        with open(path, "r+b") as f:
            data = bytearray(f.read())
            data[len(data) // 2] ^= 0x5A
            f.seek(0)
            f.write(data)
        return copy

    def test_a_damaged_log_fails_verification_rather_than_the_environment(self):
        for db in (self.damaged_copy("manifest"), self.tampered("corrupt-sst", "leaves", "footer")):
            p = sovgw("audit", "verify", "--db", db, "--pubkey", self.pub)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)  # the log is damaged: not exit 3
            headline = f"FAILED: the audit log at {db} cannot be read, so it does not verify\n"
            self.assertTrue(p.stdout.startswith(headline), p.stdout)
            self.assertIn(f"cannot open the audit log at {db}: Corruption:", p.stdout)
            doc = json.loads(sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, "--format", "json",
                                   check=1).stdout)
            self.assertIs(doc["ok"], False)
            self.assertEqual([p["kind"] for p in doc["problems"]], ["read_failed"])
            for cmd in (["query", "--tenant", "acme"], ["report", "--pubkey", self.pub, "--format", "json"]):
                p = sovgw("audit", cmd[0], "--db", db, *cmd[1:])
                self.assertEqual(p.returncode, 1, cmd + [p.stdout, p.stderr])
                self.assertIn("Corruption:", p.stderr)
        # A missing log stays an environment error.
        p = sovgw("audit", "verify", "--db", os.path.join(self.tmp, "nowhere"), "--pubkey", self.pub)
        self.assertEqual(p.returncode, 3, p.stdout + p.stderr)
        self.assertIn("no audit log at", p.stderr)

    def test_records_behind_a_damaged_block_are_unread_not_deleted(self):
        # The same for the records, the checkpoints and an index: unread, never "deleted".
        for column, error in (("leaves", "reading records failed"), ("checkpoints", "reading checkpoints failed"),
                              ("idx_time", "reading the time index failed")):
            db = self.tampered("corrupt-sst", column, "later-in-level")
            p = sovgw("audit", "verify", "--db", db, "--pubkey", self.pub)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertIn(f"  - {error}: Corruption: block checksum mismatch", p.stdout)
            for accusation in ("deleted", "missing", "rewritten"):
                self.assertNotIn(accusation, p.stdout)

    def test_a_log_that_cannot_be_read_says_so_once_and_first(self):
        # A table file block that fails its checksum: the records (or the stored tree, or an index)
        # cannot be read. That is the verdict; the checkpoints over them are not checked, not failed.
        for column, error in (("leaves", "reading records failed"), ("tree", "reading the stored tree failed"),
                              ("idx_tenant", "reading the tenant index failed")):
            db = self.tampered("corrupt-sst", column, "data")
            p = sovgw("audit", "verify", "--db", db, "--pubkey", self.pub)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            lines = p.stdout.splitlines()
            self.assertEqual(lines[0], f"FAILED: the audit log at {db} cannot be read, so it does not verify")
            self.assertTrue(lines[1].startswith(f"  - {error}"), p.stdout)
            self.assertIn("Corruption: block checksum mismatch", lines[1])
            self.assertEqual(p.stdout.count("Corruption"), 1, p.stdout)
            self.assertEqual(len([line for line in lines if line.startswith("  - ")]), 1, p.stdout)
            self.assertNotIn("fail verification", p.stdout)
            self.assertNotIn("no stored checkpoint signed by", p.stdout)
            doc = json.loads(sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, "--format", "json",
                                   check=1).stdout)
            self.assertEqual([q["kind"] for q in doc["problems"]], ["read_failed"])
            self.assertEqual(doc["failed_checkpoints"], 0)
            unchecked = 3 if column == "leaves" else 0
            self.assertEqual(doc["unchecked_checkpoints"], unchecked)
            if unchecked:
                self.assertIn("3 of 3 stored checkpoints not checked: the records they cover could not be read",
                              p.stdout)

    def test_a_log_without_its_current_file_is_damaged_not_absent(self):
        copy = os.path.join(self.tmp, "no-current")
        shutil.copytree(self.db, copy)
        os.remove(os.path.join(copy, "CURRENT"))
        manifest = [f for f in os.listdir(copy) if f.startswith("MANIFEST-")][0]
        p = sovgw("audit", "verify", "--db", copy, "--pubkey", self.pub)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)  # a damaged log, not exit 3 (no log)
        self.assertNotIn("no audit log", p.stdout + p.stderr)
        self.assertIn(f"the audit log at {copy} is damaged: its CURRENT file (which names the MANIFEST to open) "
                      f"is missing, but it holds {manifest}, ", p.stdout)
        doc = json.loads(sovgw("audit", "verify", "--db", copy, "--pubkey", self.pub, "--format", "json",
                               check=1).stdout)
        self.assertEqual([q["kind"] for q in doc["problems"]], ["read_failed"])
        self.assertIn("CURRENT file", sovgw("audit", "query", "--db", copy, "--tenant", "acme", check=1).stderr)
        # A writer refuses it too, rather than start a new log over its files.
        p = sovgw("audit", "append", "--db", copy, "--keys", self.keys, "--synthetic", "1", check=1)
        self.assertIn("CURRENT file", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(copy, "CURRENT")))
        # A folder of other files (an app.log) is still no log at all.
        elsewhere = os.path.join(self.tmp, "elsewhere")
        os.makedirs(elsewhere)
        write_file(os.path.join(elsewhere, "app.log"), "hello\n")
        p = sovgw("audit", "verify", "--db", elsewhere, "--pubkey", self.pub, check=3)
        self.assertIn("no audit log at", p.stderr)

    def test_a_log_without_the_manifest_its_current_file_names_is_damaged(self):
        # Damage (exit 1), not an environment problem to retry (exit 3) as RocksDB's I/O error had it.
        copy = os.path.join(self.tmp, "no-manifest")
        shutil.copytree(self.db, copy)
        manifest = open(os.path.join(copy, "CURRENT")).read().strip()
        os.remove(os.path.join(copy, manifest))
        p = sovgw("audit", "verify", "--db", copy, "--pubkey", self.pub)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn(f"the audit log at {copy} is damaged: {manifest}, the MANIFEST its CURRENT file names", p.stdout)
        self.assertEqual(sovgw("audit", "query", "--db", copy, "--tenant", "acme").returncode, 1)

    def test_newest_records_deleted(self):
        db = self.tampered("delete-newest", "7")
        self.assert_caught(db, "the log holds 293 records but a signed checkpoint covers 300: records 293..299 are missing")
        # The counts say so too (probe rounds 21 and 22: "missing_records": 0 beside that problem).
        doc = json.loads(sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, "--format", "json",
                               check=1).stdout)
        self.assertEqual((doc["records"], doc["missing_records"], doc["truncated_records"]), (293, 0, 7))

    def test_record_deleted_in_the_middle(self):
        db = self.tampered("delete", "42")
        self.assert_caught(db, "record 42 is missing")
        # The counts say so too: 300 positions, one without its record (probe round 20: "records": 300
        # and "Records read 300" beside "record 42 is missing").
        doc = json.loads(sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, "--format", "json",
                               check=1).stdout)
        self.assertEqual((doc["records"], doc["missing_records"]), (300, 1))

    def test_two_records_reordered(self):
        self.assert_caught(self.tampered("swap", "10", "20"),
                           "record at position 10 carries sequence number 20")

    def test_forged_checkpoint(self):
        self.assert_caught(self.tampered("forge-checkpoint"),
                           "checkpoint at size 300: signature by the trusted key does not verify")

    def test_writer_refuses_tampered_log_unless_forced_and_records_it(self):
        db = self.tampered("flip", "7")
        p = sovgw("audit", "append", "--db", db, "--keys", self.keys, "--synthetic", "1", check=1)
        self.assertIn("refusing to open", p.stderr)
        self.assertIn("record 7", p.stderr)
        self.append(1, db=db, extra=("--force",))
        events = sovgw("audit", "query", "--db", db, "--since", "2020-01-01", "--format", "jsonl", check=0).stdout
        self.assertIn("forced-open: record 7", events)
        out = self.verify(db).stdout
        self.assertIn("FAILED", out)

    def test_proofs_from_before_tampering_expose_a_rewrite(self):
        proof = sovgw("audit", "prove", "--db", self.db, "--seq", "20", check=0).stdout
        path = os.path.join(self.tmp, "p")
        write_file(path, proof)
        db = self.tampered("flip", "20")
        # prove makes no proof of the rewritten record (probe round 25) ...
        self.assertIn("record 20 does not lead to the root of the latest stored checkpoint",
                      sovgw("audit", "prove", "--db", db, "--seq", "20", check=1).stderr)
        # ... and one made by hand, the rewritten record in the signed proof's place, fails offline.
        lines = proof.splitlines()
        at = next(i for i, line in enumerate(lines) if line.startswith("extra "))
        leaf = bytearray(base64.b64decode(lines[at][len("extra "):]))
        leaf[len(leaf) // 2] ^= 1
        lines[at] = "extra " + base64.b64encode(bytes(leaf)).decode()
        write_file(path, "\n".join(lines) + "\n")
        p = sovgw("audit", "verify-proof", path, "--pubkey", self.pub, check=1)
        self.assertIn("does not", p.stderr)


if __name__ == "__main__":
    unittest.main()
