"""The operator who controls the gateway host (its key directory, config and database) but neither the
process nor the auditor's secret key (probe round 48, tester 3, finding 1): switching the log's
auditor key to read new payloads, then re-sealing the data keys to the real auditor key to hide it.
The signed records commit every data key (its digest and the auditor key it was sealed to), so the
writer refuses the switch and `verify --payloads` finds the re-sealing without the auditor's key."""

import json
import os
import shutil
import unittest

from test_audit_support import TAMPER, audit_case, run, sovgw


class auditor_swap_test(audit_case):
    def setUp(self):
        super().setUp()
        # The operator's own auditor key pair, and a writer key directory with the log's signing key
        # and kek.key but the operator's auditor.pub.
        self.evil = os.path.join(self.tmp, "evil")
        self.evil_auditor_key = os.path.join(self.tmp, "evil-auditor", "auditor.key")
        sovgw("keys", "init", self.evil, "--name", "test.sovgw.local/audit", "--auditor-dir",
              os.path.dirname(self.evil_auditor_key), check=0)
        self.opkeys = os.path.join(self.tmp, "opkeys")
        os.mkdir(self.opkeys, 0o700)
        for f in ("signing.key", "signing.pub", "kek.key"):
            shutil.copy2(os.path.join(self.keys, f), self.opkeys)
        shutil.copy2(os.path.join(self.evil, "auditor.pub"), self.opkeys)

    def append(self, keys, n, run_name, *extra):
        return sovgw("audit", "append", "--db", self.db, "--keys", keys, "--synthetic", str(n), "--run", run_name,
                     *extra)

    def verify_json(self, *extra):
        p = sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--payloads", "--format", "json", *extra)
        return p.returncode, json.loads(p.stdout)

    def test_the_writer_refuses_another_auditor_key_even_without_the_meta_entry(self):
        self.assertEqual(self.append(self.keys, 5, "before").returncode, 0)
        refused = self.append(self.opkeys, 1, "x")
        self.assertEqual(refused.returncode, 2, refused.stdout + refused.stderr)
        run(TAMPER, self.db, "delete-meta", "auditor_key", check=0)  # unsigned: the operator can delete it
        refused = self.append(self.opkeys, 5, "after")
        self.assertEqual(refused.returncode, 2, refused.stdout + refused.stderr)
        self.assertIn("its signed records commit its data keys as sealed to sovgw-auditor-x25519 ", refused.stderr)
        # The log's own keys still write to it.
        self.assertEqual(self.append(self.keys, 2, "again").returncode, 0)
        rc, doc = self.verify_json("--auditor-key", self.auditor_key)
        self.assertEqual((rc, doc["problems"]), (0, []))

    def test_a_data_key_resealed_to_the_same_auditor_key_fails_verify_without_the_auditor_key(self):
        self.assertEqual(self.append(self.keys, 5, "before").returncode, 0)
        held = os.path.join(self.tmp, "held.cp")
        sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--save-checkpoint", held, check=0)
        # The cover-up of the probe: the data key opened and sealed again (new random bytes).
        run(TAMPER, self.db, "reseal-data-key", "acme", "1", self.auditor_key, os.path.join(self.keys, "auditor.pub"),
            check=0)
        for extra in ((), ("--auditor-key", self.auditor_key)):
            rc, doc = self.verify_json("--checkpoint", held, *extra)
            self.assertEqual(rc, 1)
            self.assertEqual([p["kind"] for p in doc["problems"]], ["data_key_not_committed_one"])
            self.assertIn("tenant 'acme' data key v1 is not the one the log committed at record ", doc["problems"][0]["text"])
        text = sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--payloads", check=1).stdout
        self.assertIn("it was replaced after it was sealed", text)
        report = os.path.join(self.tmp, "r.json")
        sovgw("audit", "report", "--db", self.db, "--pubkey", self.pub, "--payloads", "--format", "json", "--out",
              report)
        with open(report, encoding="utf-8") as f:
            doc = json.load(f)
        self.assertFalse(doc["ok"])
        self.assertEqual([p["kind"] for p in doc["verification"]["problems"]], ["data_key_not_committed_one"])

    def test_an_older_log_switched_at_its_first_commitment_is_found_with_the_auditor_key(self):
        # A log from before the commitments (no sealed payloads, no meta entry): the writer cannot tell
        # the operator's auditor.pub from the log's, and commits to it.
        self.assertEqual(self.append(self.keys, 3, "old", "--payload", "digest").returncode, 0)
        run(TAMPER, self.db, "delete-meta", "auditor_key", check=0)
        self.assertEqual(self.append(self.opkeys, 5, "after").returncode, 0)
        shown = sovgw("audit", "show", "--db", self.db, "--request-id", "after-1", "--auditor-key",
                      self.evil_auditor_key, check=0)
        self.assertIn("--- prompt", shown.stdout)  # the operator reads it
        rc, doc = self.verify_json("--auditor-key", self.auditor_key)
        self.assertEqual(rc, 1)
        self.assertIn("auditor_key_wrong", [p["kind"] for p in doc["problems"]])
        # The cover-up: every new data key re-sealed to the log's auditor.pub.
        for tenant in ("acme", "globex", "initech", "umbrella", "hooli"):
            run(TAMPER, self.db, "reseal-data-key", tenant, "1", self.evil_auditor_key,
                os.path.join(self.keys, "auditor.pub"), check=0)
        rc, doc = self.verify_json("--auditor-key", self.auditor_key)
        self.assertEqual(rc, 1)
        kinds = [p["kind"] for p in doc["problems"]]
        self.assertEqual(sorted(set(kinds)), ["data_key_not_committed_one", "data_key_other_auditor"])
        self.assertEqual(doc["payloads_opened"], 5)
        # Without the auditor key the re-sealing still shows: the stored keys are not the committed ones.
        rc, doc = self.verify_json()
        self.assertEqual(rc, 1)
        self.assertEqual(set(p["kind"] for p in doc["problems"]), {"data_key_not_committed_one"})

    def test_verify_and_report_say_what_the_requests_kept_of_their_payloads(self):
        self.assertEqual(self.append(self.keys, 3, "s").returncode, 0)
        self.assertEqual(self.append(self.keys, 2, "d", "--payload", "digest").returncode, 0)
        self.assertEqual(self.append(self.keys, 4, "n", "--payload", "none").returncode, 0)
        out = sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, check=0).stdout
        self.assertIn("request payloads: 3 sealed, 2 digest only, 4 not kept (of 9 request records", out)
        rc, doc = self.verify_json()
        self.assertEqual(doc["request_payloads"], {"sealed": 3, "digest": 2, "none": 4})
        self.assertEqual(doc["data_keys_committed"], 3)
        self.assertEqual(doc["data_keys_uncommitted"], 0)

    def test_query_and_show_print_the_commitment_the_record_signs(self):
        self.assertEqual(self.append(self.keys, 7, "c").returncode, 0)  # five tenants, the first two twice
        lines = sovgw("audit", "query", "--db", self.db, "--format", "jsonl", check=0).stdout.splitlines()
        records = [r for r in map(json.loads, lines) if r["kind"] == "request"]
        committed = [r for r in records if r["data_key_version"] != 0]
        self.assertEqual([r["request_id"] for r in committed], [f"c-{i}" for i in range(5)])
        with open(os.path.join(self.keys, "auditor.pub"), encoding="utf-8") as f:
            auditor_pub = f.read().split()[-1]
        for r in committed:
            self.assertEqual((r["data_key_version"], r["auditor_key"]), (1, auditor_pub))
            self.assertRegex(r["data_key_digest"], "^[0-9a-f]{64}$")
        self.assertEqual([(r["data_key_digest"], r["auditor_key"]) for r in records[5:]], [("", "")] * 2)
        csv = sovgw("audit", "query", "--db", self.db, "--format", "csv", check=0).stdout.splitlines()
        self.assertIn(",endpoint_address_country,data_key_version,data_key_digest,auditor_key,", csv[0])
        self.assertIn(f",1,{committed[0]['data_key_digest']},{auditor_pub}", "\n".join(csv))
        shown = sovgw("audit", "show", "--db", self.db, "--request-id", "c-0", "--auditor-key",
                      self.auditor_key, check=0).stdout
        self.assertIn(f"  data key:    {records[0]['tenant']}'s version 1, sha256 {committed[0]['data_key_digest']}, "
                      f"sealed to auditor key {auditor_pub}\n", shown)
        self.assertNotIn("data key:", sovgw("audit", "show", "--db", self.db, "--request-id", "c-6", "--auditor-key",
                                        self.auditor_key, check=0).stdout)


if __name__ == "__main__":
    unittest.main()
