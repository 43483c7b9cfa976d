"""`sovgw audit verify --format json` and `verify-proof --format json`: one stable JSON document on
stdout, the same exit codes as the text output."""

import base64
import json
import os
import unittest

from test_audit_support import read_file, sovgw, tampered_log_case, write_file


class json_test(tampered_log_case):
    def verify_json(self, db, *extra, check):
        p = sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, "--format", "json", *extra, check=check)
        self.assertEqual(p.stderr, "")
        return json.loads(p.stdout)

    def verify_proof_json(self, text, check):
        path = os.path.join(self.tmp, "proof")
        write_file(path, text)
        p = sovgw("audit", "verify-proof", path, "--pubkey", self.pub, "--format=json", check=check)
        self.assertEqual(p.stderr, "")
        return json.loads(p.stdout)

    def assert_key(self, doc):
        vkey = read_file(self.pub).strip()
        name, key_id, _ = vkey.split("+", 2)  # the base64 key may hold '+' too
        self.assertEqual(doc["key"], {"name": name, "id": key_id, "vkey": vkey,
                                      "fingerprint": doc["key"]["fingerprint"]})
        self.assertRegex(doc["key"]["fingerprint"], r"^[A-Za-z0-9_-]{43}$")  # RFC 7638 SHA-256, base64url

    def test_verify_an_intact_log(self):
        doc = self.verify_json(self.db, "--payloads", check=0)
        self.assertEqual(doc["command"], "verify")
        self.assertIs(doc["ok"], True)
        self.assertEqual(doc["records"], 300)
        self.assertEqual(doc["checkpoints"], 3)
        self.assertEqual(doc["checkpoint"]["size"], 300)
        self.assertEqual(doc["checkpoint"]["origin"], "test.sovgw.local/audit")
        self.assertEqual(len(base64.b64decode(doc["checkpoint"]["root"])), 32)
        self.assertEqual(doc["index_entries"], 1500)
        self.assertEqual(doc["payloads_checked"], 273)
        self.assertEqual(doc["uncovered_records"], 0)
        self.assertIsNone(doc["first_bad_record"])
        self.assertEqual(doc["problems"], [])
        self.assert_key(doc)
        # The text output reports the same log.
        text = sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, check=0).stdout
        self.assertIn(f"latest checkpoint: size 300 root {doc['checkpoint']['root']}", text)

    def test_verify_names_each_problem_with_kind_and_record(self):
        doc = self.verify_json(self.tampered("flip", "150"), check=1)
        self.assertIs(doc["ok"], False)
        self.assertEqual(doc["first_bad_record"], 150)
        altered = [p for p in doc["problems"] if p["kind"] == "record_altered"]
        self.assertEqual([p["record"] for p in altered], [150])
        self.assertIn("record 150: its leaf hash does not match", altered[0]["text"])
        doc = self.verify_json(self.tampered("delete-newest", "7"), check=1)
        self.assertIn({"kind": "records_truncated", "record": 293,
                       "text": "the log holds 293 records but a signed checkpoint covers 300: records 293..299 are "
                               "missing (deleted)"}, doc["problems"])

    def test_verify_with_the_wrong_key(self):
        other = os.path.join(self.tmp, "other")
        sovgw("keys", "init", other, "--name", "test.sovgw.local/audit", check=0)
        p = sovgw("audit", "verify", "--db", self.db, "--pubkey", os.path.join(other, "signing.pub"), "--format",
                  "json", check=1)
        doc = json.loads(p.stdout)
        kinds = {p["kind"] for p in doc["problems"]}
        self.assertEqual(kinds, {"checkpoint_unknown_key", "no_checkpoint"})
        self.assertEqual(doc["checkpoints"], 0)
        self.assertIsNone(doc["checkpoint"])

    def test_verify_proof_inclusion_and_consistency(self):
        inclusion = sovgw("audit", "prove", "--db", self.db, "--seq", "42", check=0).stdout
        doc = self.verify_proof_json(inclusion, check=0)
        self.assertEqual((doc["command"], doc["ok"], doc["proof"]), ("verify-proof", True, "inclusion"))
        self.assertEqual(doc["records"], 300)
        self.assertEqual(doc["checkpoint"]["size"], 300)
        self.assertIsNone(doc["old_checkpoint"])
        self.assertEqual(doc["record"]["seq"], 42)
        self.assertEqual(doc["problems"], [])
        self.assert_key(doc)
        consistency = sovgw("audit", "prove", "--db", self.db, "--old", "100", check=0).stdout
        doc = self.verify_proof_json(consistency, check=0)
        self.assertEqual((doc["ok"], doc["proof"]), (True, "consistency"))
        self.assertEqual((doc["old_checkpoint"]["size"], doc["checkpoint"]["size"]), (100, 300))
        self.assertIsNone(doc["record"])

    def test_verify_proof_failures_have_a_kind(self):
        consistency = sovgw("audit", "prove", "--db", self.db, "--old", "100", check=0).stdout
        head, new_note = consistency.split("\n\n", 1)
        lines = head.split("\n")
        truncated = "\n".join(lines[:-1]) + "\n\n" + new_note
        doc = self.verify_proof_json(truncated, check=1)
        self.assertIs(doc["ok"], False)
        self.assertEqual([p["kind"] for p in doc["problems"]], ["proof_too_short"])
        self.assertIn("the consistency proof does not fit its checkpoint", doc["problems"][0]["text"])
        self.assertIsNone(doc["checkpoint"])
        doc = self.verify_proof_json("c2sp.org/tlog-proof@v1\nnot a proof\n", check=1)
        self.assertEqual([p["kind"] for p in doc["problems"]], ["malformed"])

    def test_bad_format_is_a_usage_error(self):
        p = sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--format", "xml", check=2)
        self.assertIn("--format must be text or json, not 'xml'", p.stderr)
        p = sovgw("audit", "verify-proof", self.pub, "--pubkey", self.pub, "--format", "yaml", check=2)
        self.assertIn("--format must be text or json", p.stderr)


if __name__ == "__main__":
    unittest.main()
