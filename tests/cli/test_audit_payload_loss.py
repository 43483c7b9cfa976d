"""Every way a stored payload or data key can disappear is either explained by an event the log
records (retention, crypto-shredding) or reported: `verify --payloads` fails and `show` says what
is missing rather than blaming a process that never ran."""

import json
import os
import re
import unittest

from test_audit_support import TAMPER, run, sovgw, tampered_log_case


class payload_loss_test(tampered_log_case):
    # In each writer session of tampered_log_case's log, record 1 and record 6 are globex's and
    # permitted, so sealed: the first session's globex payloads use its data key version 1.

    def verify_payloads(self, db, *extra, check):
        return sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, "--payloads", *extra, check=check)

    def show(self, db, seq, check):
        return sovgw("audit", "show", "--db", db, "--seq", seq, "--auditor-key", self.auditor_key, check=check)

    def problems(self, db, *extra):
        doc = json.loads(self.verify_payloads(db, "--format", "json", *extra, check=1).stdout)
        return [(p["kind"], p["record"]) for p in doc["problems"]]

    def test_a_payload_deleted_outside_retention_is_missing(self):
        db = self.tampered("delete-payload", "6")
        out = self.verify_payloads(db, check=1).stdout
        self.assertIn("record 6: its sealed payload is missing, and no retention event logged after it covers "
                      "its time: deleted outside retention", out)
        self.assertEqual(self.problems(db), [("payload_missing", 6)])
        p = self.show(db, "6", check=1)
        self.assertNotIn("dropped by retention", p.stderr)
        self.assertIn("the payload of record 6 is missing, and no retention event logged after it covers its "
                      "time: it was deleted outside retention", p.stderr)

    def test_retention_explains_the_payloads_it_dropped_and_no_others(self):
        retain = sovgw("audit", "retain", "--db", self.db, "--keys", self.keys, "--older-than", "0s", "--below-minimum",
                       check=0).stdout
        dropped = re.search(r"dropped (\d+) payload", retain).group(1)
        ok = self.verify_payloads(self.db, check=0).stdout
        self.assertIn(f"{dropped} dropped by retention", ok)
        p = self.show(self.db, "6", check=1)
        self.assertRegex(p.stderr, r"the payload of record 6 was dropped by retention \(the event at record 300: "
                                   r"payloads of records older than 20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z\)")
        # A payload of a record logged after the retention ran is not covered by it.
        self.append(10, run_name="later")
        db = self.tampered("delete-payload", "307")
        self.assertEqual(self.problems(db), [("payload_missing", 307)])

    def test_an_event_no_signature_covers_explains_nothing(self):
        # Whoever can write the database, without the signing key, could append a "retention" after
        # the last checkpoint and delete every payload under it: an unsigned event explains nothing.
        sovgw("audit", "retain", "--db", self.db, "--keys", self.keys, "--older-than", "0s", "--below-minimum",
              check=0)
        run(TAMPER, self.db, "delete-checkpoints-from", "301", check=0)
        if os.path.exists(self.db + ".checkpoint"):
            os.remove(self.db + ".checkpoint")
        out = self.verify_payloads(self.db, check=1).stdout
        # ... but it is named: right after a retention ran, before the next checkpoint, it is this.
        self.assertIn("record 6: its sealed payload is missing; the retention event at record 300 would explain "
                      "this, but no signed checkpoint covers it yet: verify again after the next checkpoint", out)
        self.assertNotIn("no retention event logged", out)
        self.assertIn(("payload_missing", 6), self.problems(self.db))

    def test_a_shred_event_no_signature_covers_yet_is_named_but_explains_nothing(self):
        # Right after an admin shred, before the gateway's next checkpoint: the event is in the log,
        # so "no crypto-shred event logged" would be false; it still counts for nothing.
        sovgw("audit", "shred", "--db", self.db, "--keys", self.keys, "--tenant", "globex", check=0)
        run(TAMPER, self.db, "delete-checkpoints-from", "301", check=0)
        if os.path.exists(self.db + ".checkpoint"):
            os.remove(self.db + ".checkpoint")
        out = self.verify_payloads(self.db, check=1).stdout
        self.assertIn("tenant 'globex' data key v1 is missing from the data key store (record 1 needs it); a "
                      "crypto-shred event of tenant 'globex' at record 300 would explain this, but no signed "
                      "checkpoint covers it yet: verify again after the next checkpoint", out)
        self.assertNotIn("no crypto-shred event logged", out)
        self.assertNotIn("deleted outside shredding", out)
        self.assertNotIn("unreadable after crypto-shredding", out)
        self.assertEqual(self.problems(self.db), [("data_key_missing", 1), ("data_key_missing", 101),
                                                  ("data_key_missing", 201)])

    def test_data_keys_deleted_outside_shredding_are_missing(self):
        db = self.tampered("delete-data-keys", "globex")
        out = self.verify_payloads(db, check=1).stdout
        self.assertIn("tenant 'globex' data key v1 is missing from the data key store (record 1 needs it), and no "
                      "crypto-shred event logged after record 1 destroyed it: deleted outside shredding", out)
        self.assertEqual(self.problems(db), [("data_key_missing", 1), ("data_key_missing", 101),
                                             ("data_key_missing", 201)])
        p = self.show(db, "1", check=1)
        self.assertNotIn("crypto-shredded", p.stderr)
        self.assertIn("tenant 'globex' data key v1 is missing, and no crypto-shred event logged after the record "
                      "destroyed it: it was deleted outside shredding", p.stderr)

    def test_shredding_explains_the_data_keys_it_destroyed(self):
        shred = sovgw("audit", "shred", "--db", self.db, "--keys", self.keys, "--tenant", "globex", check=0).stdout
        self.assertIn("recorded as record 300", shred)
        events = sovgw("audit", "query", "--db", self.db, "--tenant", "globex", "--format", "jsonl",
                       check=0).stdout
        self.assertIn("crypto-shred: data key version(s) 1-3 of the tenant destroyed; its payloads are unreadable",
                      events)
        ok = self.verify_payloads(self.db, check=0).stdout
        self.assertIn("60 unreadable after crypto-shredding", ok)  # globex's 60 sealed payloads
        # ... which the auditor key does not open either: "every" payload is not claimed (round 11, L12).
        opened = self.verify_payloads(self.db, "--auditor-key", self.auditor_key, check=0).stdout
        self.assertIn("60 unreadable after crypto-shredding", opened)
        self.assertRegex(opened, r"; every stored payload not crypto-shredded \(\d+\) opens with the auditor key\n")
        self.assertNotIn("every stored payload opens", opened)
        p = self.show(self.db, "1", check=1)
        self.assertIn("tenant 'globex' data key v1 was destroyed by crypto-shredding (the event at record 300)",
                      p.stderr)

    def test_retention_after_a_shred_leaves_the_shredded_payloads_counted_as_shredded(self):
        # Probe round 42 (6): a retention run after a crypto-shred counted the shredded payloads as
        # "dropped by retention", and verify said "0 unreadable after crypto-shredding" beside the shred.
        sovgw("audit", "shred", "--db", self.db, "--keys", self.keys, "--tenant", "globex", check=0)
        retain = sovgw("audit", "retain", "--db", self.db, "--keys", self.keys, "--older-than", "0s",
                       "--below-minimum", check=0).stdout
        dropped = int(re.search(r"dropped (\d+) payload", retain).group(1))
        self.assertGreater(dropped, 60)
        ok = self.verify_payloads(self.db, check=0).stdout
        self.assertIn(f"{dropped - 60} dropped by retention, 60 unreadable after crypto-shredding (60 of them since "
                      "dropped by retention too)", ok)
        doc = json.loads(self.verify_payloads(self.db, "--format", "json", check=0).stdout)
        self.assertEqual((doc["payloads_dropped_by_retention"], doc["payloads_shredded"],
                          doc["payloads_shredded_then_dropped"]), (dropped - 60, 60, 60))
        # A shred after the retention run changes nothing of what the retention dropped.
        sovgw("audit", "shred", "--db", self.db, "--keys", self.keys, "--tenant", "acme", check=0)
        doc = json.loads(self.verify_payloads(self.db, "--format", "json", check=0).stdout)
        self.assertEqual((doc["payloads_dropped_by_retention"], doc["payloads_shredded"]), (dropped - 60, 60))

    def test_a_replaced_data_key_is_found_with_the_auditor_key(self):
        db = self.tampered("replace-data-key", "globex", "1", os.path.join(self.keys, "auditor.pub"))
        # Without the auditor key, the commitment in record 1 (globex's first) tells (probe round 48).
        out = self.verify_payloads(db, check=1).stdout
        self.assertIn("tenant 'globex' data key v1 is not the one the log committed at record 1: it was replaced "
                      "after it was sealed", out)
        self.assertEqual(self.problems(db), [("data_key_not_committed_one", 1)])
        out = self.verify_payloads(db, "--auditor-key", self.auditor_key, check=1).stdout
        self.assertIn("records 1, 6, 11, 16, 21, 26, 31, 36, 41, 46 and 10 more: the stored payloads match the "
                      "hashes their records commit to but none of them opens under tenant 'globex' data key v1: the "
                      "data key was replaced", out)
        self.assertIn(("payload_undecryptable", 1), self.problems(db, "--auditor-key", self.auditor_key))
        p = self.show(db, "1", check=1)
        self.assertIn("the payload of record 1 matches the hash its record commits to but does not open under "
                      "tenant 'globex' data key v1, nor do the tenant's other payloads under it that were tried: the "
                      "data key was replaced", p.stderr)
        ok = self.verify_payloads(self.db, "--auditor-key", self.auditor_key, check=0).stdout
        self.assertIn("every stored payload opens with the auditor key", ok)
        p = sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, "--auditor-key", self.auditor_key, check=2)
        self.assertIn("--auditor-key needs --payloads", p.stderr)

    def test_an_auditor_key_that_opens_no_data_key_is_named_once_and_blames_no_record(self):
        # Another log's auditor key on an intact log: the auditor's mistake, not record 0's.
        other = os.path.join(self.tmp, "other")
        sovgw("keys", "init", os.path.join(other, "keys"), "--name", "other.gw/audit", check=0)
        wrong = os.path.join(other, "keys-auditor", "auditor.key")
        out = self.verify_payloads(self.db, "--auditor-key", wrong, check=1).stdout
        self.assertIn(f"FAILED: the payloads of the audit log at {self.db} could not be checked: its records and "
                      "checkpoints verify, but the auditor key given is not this log's\n", out)
        self.assertIn("  - the auditor key given opens none of the 15 data keys the stored payloads need: it is not "
                      "this log's auditor key (or every data key was replaced); no payload was opened, so none was "
                      "checked against its record\n", out)
        self.assertNotIn("first record that does not match", out)
        self.assertNotIn("data key v1 does not open", out)
        doc = json.loads(self.verify_payloads(self.db, "--auditor-key", wrong, "--format", "json", check=1).stdout)
        self.assertEqual([(p["kind"], p["record"]) for p in doc["problems"]], [("auditor_key_wrong", None)])
        self.assertIsNone(doc["first_bad_record"])
        # One data key replaced under another auditor's key while the right key opens the rest: that
        # key was replaced, and its first record is named.
        db = self.tampered("replace-data-key", "globex", "1", os.path.join(other, "keys", "auditor.pub"))
        out = self.verify_payloads(db, "--auditor-key", self.auditor_key, check=1).stdout
        self.assertIn("tenant 'globex' data key v1 does not open with the auditor key (record 1 needs it), though "
                      "the auditor key opens the log's other data keys: the data key was replaced", out)
        self.assertIn(("payload_undecryptable", 1), self.problems(db, "--auditor-key", self.auditor_key))

    def test_a_missing_current_version_entry_is_reported(self):
        # Without it the next writer would start the tenant's data keys at version 1 again.
        db = self.tampered("delete-data-keys", "globex")
        run(TAMPER, db, "replace-data-key", "globex", "1", os.path.join(self.keys, "auditor.pub"), check=0)
        self.assertIn(("data_key_missing", None), self.problems(db))
        self.assertIn("the data key store holds tenant 'globex' data keys up to v1 but no current-version entry for "
                      "it", self.verify_payloads(db, check=1).stdout)

    def report(self, db, *extra, check):
        return sovgw("audit", "report", "--db", db, "--pubkey", self.pub, *extra, check=check).stdout

    def test_a_period_report_names_the_events_after_the_period_that_took_its_payloads(self):
        # Probe round 42 (4): report --since --until --payloads listed only the events in the period and
        # whole-log totals: that a retention run (or a shred) after the period took most of the period's
        # payloads was said nowhere.
        rows = [json.loads(x) for x in sovgw("audit", "query", "--db", self.db, "--format", "jsonl",
                                             check=0).stdout.splitlines()]
        since, until = rows[0]["time"], rows[100]["time"]  # the first writer session's records
        sealed = [r for r in rows[:100] if r["payload"] == "sealed"]
        globex = [r for r in sealed if r["tenant"] == "globex"]
        self.assertTrue(sealed and globex and len(globex) < len(sealed))
        sovgw("audit", "shred", "--db", self.db, "--keys", self.keys, "--tenant", "globex", check=0)  # record 300
        sovgw("audit", "retain", "--db", self.db, "--keys", self.keys, "--older-than", "0s", "--below-minimum",
              check=0)  # record 301
        period = ("--payloads", "--since", since, "--until", until)
        doc = json.loads(self.report(self.db, *period, "--format", "json", check=0))
        p = doc["payloads_in_period"]
        self.assertEqual((p["sealed"], p["dropped_by_retention"], p["shredded"]),
                         (len(sealed), len(sealed) - len(globex), len(globex)))
        self.assertEqual([(e["seq"], e["kind"], e["tenant"], e["payloads"]) for e in p["events"]],
                         [(300, "crypto-shred", "globex", len(globex)), (301, "retention", None, len(sealed) - len(globex))])
        self.assertTrue(all(e["time"] > until for e in p["events"]))
        html = self.report(self.db, *period, check=0)
        self.assertIn(f"Payloads of the period</dt><dd class=\"warn\">{len(sealed)} of the period's {len(sealed)} "
                      f"sealed payloads are gone: {len(sealed) - len(globex)} dropped by retention, {len(globex)} "
                      f"unreadable after crypto-shredding ({len(globex)} by the crypto-shred of tenant globex at "
                      f"record 300 (", html)
        self.assertIn(f"{len(sealed) - len(globex)} by the retention event at record 301 (", html)
        # Without a period, or without --payloads, nothing is claimed about one.
        self.assertIsNone(json.loads(self.report(self.db, "--payloads", "--format", "json", check=0))
                          ["payloads_in_period"])
        self.assertIsNone(json.loads(self.report(self.db, "--since", since, "--format", "json", check=0))
                          ["payloads_in_period"])

    def test_the_report_says_whether_it_checked_the_payloads(self):
        db = self.tampered("flip-payload", "6")
        html = self.report(db, check=0)  # the records verify; the payloads were not read
        self.assertIn("The log verifies: 300 records, none altered, missing or reordered up to its newest signed "
                      "checkpoint (size 300); its stored payloads were NOT checked (--payloads)", html)
        self.assertIn("sovgw audit verify --db " + db + " --pubkey " + self.pub + " --payloads", html)
        html = self.report(db, "--payloads", check=1)
        self.assertIn("The log does NOT verify", html)
        self.assertIn("record 6: the stored payload does not match the hash its record commits to", html)
        doc = json.loads(self.report(db, "--payloads", "--format", "json", check=1))
        self.assertIs(doc["ok"], False)
        self.assertIs(doc["verification"]["ok"], False)
        self.assertEqual(doc["verification"]["payloads_checked"], 273)
        self.assertIn(("payload_altered", 6), [(p["kind"], p["record"]) for p in doc["verification"]["problems"]])
        self.assertIsNone(json.loads(self.report(db, "--format", "json", check=0))["verification"]["payloads_checked"])
        html = self.report(self.db, "--payloads", check=0)
        self.assertIn("The log verifies: 300 records, none altered, missing or reordered; its 273 stored payloads "
                      "match their records", html)


if __name__ == "__main__":
    unittest.main()
