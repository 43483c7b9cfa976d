"""The writing commands: shred, retain and checkpoint never create a log; what shred and retention
leave behind; retention under a day only when forced; what `append --synthetic` marks and announces."""

import json
import os
import subprocess
import time
import unittest

from test_audit_support import CRASH_WRITER, TAMPER, audit_case, run, sovgw, write_file


class missing_log_test(audit_case):
    def test_maintenance_refuses_a_directory_without_a_log(self):
        for args in (["shred", "--tenant", "acme"], ["retain", "--older-than", "90d"], ["checkpoint"]):
            for db in (os.path.join(self.tmp, "typo"), self.tmp):  # missing, and a directory holding no log
                p = sovgw("audit", args[0], "--db", db, "--keys", self.keys, *args[1:], check=3)
                self.assertIn(f"no audit log at {db}", p.stderr, args)
            self.assertFalse(os.path.exists(os.path.join(self.tmp, "typo")), args)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "CURRENT")))

    def test_append_still_creates_a_log(self):
        self.append(3)
        self.assertIn("OK: 3 records", self.verify().stdout)
        self.assertIn("checkpoint: size 3", sovgw("audit", "checkpoint", "--db", self.db, "--keys", self.keys,
                                                  check=0).stdout)


class busy_log_test(audit_case):
    def test_a_log_held_by_a_running_writer_is_busy_exit_3(self):
        self.append(3)
        writer = subprocess.Popen([CRASH_WRITER, self.db, self.keys, "busy", "1"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        try:
            first = writer.stdout.readline()  # printed once the writer holds the log
            if not first.startswith("open "):
                writer.kill()
                self.fail(f"the writer did not open the log: {first!r} {writer.stderr.read()}")
            for args in (["shred", "--tenant", "acme"], ["retain", "--older-than", "90d"], ["checkpoint"],
                         ["append", "--synthetic", "1"]):
                p = sovgw("audit", args[0], "--db", self.db, "--keys", self.keys, *args[1:], check=3)
                self.assertIn(f"the audit log at {self.db} is in use by another writer", p.stderr, args)
                self.assertIn("/admin/audit/shred", p.stderr)
            # Readers are not locked out.
            sovgw("audit", "query", "--db", self.db, "--limit", "1", check=0)
        finally:
            writer.kill()
            writer.wait(10)
            writer.stdout.close()
            writer.stderr.close()
        sovgw("audit", "checkpoint", "--db", self.db, "--keys", self.keys, check=0)


class shred_test(audit_case):
    def setUp(self):
        super().setUp()
        self.append(20)

    def records(self):
        return sovgw("audit", "query", "--db", self.db, "--format", "csv", check=0).stdout.count("\n") - 1

    def shred(self, tenant, check):
        return sovgw("audit", "shred", "--db", self.db, "--keys", self.keys, "--tenant", tenant, check=check)

    def test_unknown_tenant_fails_and_records_nothing(self):
        before = self.records()
        p = self.shred("acmee", check=1)
        self.assertIn("tenant 'acmee' has no data key in this log", p.stderr)
        self.assertNotIn("shredded:", p.stdout)
        self.assertEqual(self.records(), before)

    def test_second_shred_of_a_tenant_fails_and_records_nothing(self):
        self.assertIn("shredded: tenant 'acme'", self.shred("acme", check=0).stdout)
        after_first = self.records()
        p = self.shred("acme", check=1)
        self.assertIn("tenant 'acme' was already crypto-shredded", p.stderr)
        self.assertEqual(self.records(), after_first)
        self.assertIn("OK: 21 records", self.verify().stdout)

    def test_empty_tenant_is_a_usage_error(self):
        for args in (["--tenant", ""], ["--tenant="]):
            p = sovgw("audit", "shred", "--db", self.db, "--keys", self.keys, *args, check=2)
            self.assertIn("option '--tenant' needs a value, not an empty one", p.stderr)
        p = sovgw("audit", "shred", "--db", self.db, "--keys", self.keys, check=2)
        self.assertIn("missing --tenant", p.stderr)


class retention_test(audit_case):
    def test_retain_zero_seconds_drops_payloads_and_records_stay_provable(self):
        self.append(10)  # all permitted (DE, FR clients): 10 sealed payloads
        auditor_key = self.auditor_key
        sovgw("audit", "show", "--db", self.db, "--seq", "4", "--auditor-key", auditor_key, check=0)
        time.sleep(0.05)  # the newest record is a few ms old; 0s keeps only what is younger than now
        p = sovgw("audit", "retain", "--db", self.db, "--keys", self.keys, "--older-than", "0s", "--below-minimum",
                  check=0)
        self.assertIn("dropped 10 payloads older than 0s", p.stdout)
        events = [json.loads(line) for line in sovgw("audit", "query", "--db", self.db, "--format", "jsonl",
                                                     check=0).stdout.splitlines() if '"kind":"event"' in line]
        # The event names the cut-off as a time (it is now less the age), not as raw microseconds, and
        # exactly: verify --payloads holds the log to it.
        self.assertRegex(events[-1]["note"], r"^retention: dropped 10 stored payload\(s\) of records older than "
                                             r"20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z; below the 1d "
                                             r"minimum \(sovgw audit retain --below-minimum\)$")

        proof = sovgw("audit", "prove", "--db", self.db, "--seq", "4", check=0).stdout
        path = os.path.join(self.tmp, "r4.tlog-proof")
        write_file(path, proof)
        out = sovgw("audit", "verify-proof", path, "--pubkey", self.pub, check=0).stdout
        self.assertIn("OK: record 4 is included", out)
        self.assertIn("payload:     sealed sha256", out)

        p = sovgw("audit", "show", "--db", self.db, "--seq", "4", "--auditor-key", auditor_key)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("the payload of record 4 was dropped by retention", p.stderr)
        self.assertIn("payloads: 0 stored payloads match",
                      sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--payloads",
                            check=0).stdout)
        p = sovgw("audit", "retain", "--db", self.db, "--keys", self.keys, "--older-than", "0s", "--below-minimum",
                  check=0)
        self.assertIn("dropped 0 payloads", p.stdout)

    def test_retention_under_a_day_is_refused_unless_forced_as_the_admin_listener_does(self):
        self.append(3)
        for age in ("0s", "3600s", "23h"):
            p = sovgw("audit", "retain", "--db", self.db, "--keys", self.keys, "--older-than", age, check=2)
            self.assertIn(f"--older-than {age} is under the 1d minimum", p.stderr)
        # --force is the writers' flag to open a log that does not verify: it does not shorten
        # retention (nor does a short retention open a damaged log by the way).
        p = sovgw("audit", "retain", "--db", self.db, "--keys", self.keys, "--older-than", "1h", "--force", check=2)
        self.assertIn("give --below-minimum", p.stderr)
        self.assertNotIn("retention",
                         sovgw("audit", "query", "--db", self.db, "--format", "jsonl", check=0).stdout)
        p = sovgw("audit", "retain", "--db", self.db, "--keys", self.keys, "--older-than", "1d", check=0)
        self.assertIn("dropped 0 payloads", p.stdout)


class synthetic_append_test(audit_case):
    def test_synthetic_records_are_marked_and_announced_by_an_event(self):
        self.append(5, run_name="real")  # a log with records of its own (the test fixture writes them)
        p = sovgw("audit", "append", "--db", self.db, "--keys", self.keys, "--synthetic", "3", "--run", "fake",
                  check=0)
        self.assertIn("appended 3 synthetic records (6..8), announced by the event at record 5", p.stdout)
        records = [json.loads(line) for line in sovgw("audit", "query", "--db", self.db, "--format", "jsonl",
                                                      check=0).stdout.splitlines()]
        self.assertEqual(records[5]["kind"], "event")
        self.assertEqual(records[5]["note"], "synthetic: records 6..8 are synthetic traffic written by sovgw audit "
                                             "append --synthetic (run 'fake'), not requests a gateway served")
        for r in records[6:]:
            self.assertEqual(r["note"], "synthetic: written by sovgw audit append, not a gateway request")
        for r in records[:5]:
            self.assertEqual(r["note"], "")
        self.assertIn("OK: 9 records", self.verify().stdout)
        # show and verify-proof print the note, escaped as every record value; a record without one has no line.
        note = "  note:        synthetic: written by sovgw audit append, not a gateway request\n"
        proof = os.path.join(self.tmp, "fake.proof")
        write_file(proof, sovgw("audit", "prove", "--db", self.db, "--seq", "7", check=0).stdout)
        self.assertIn(note, sovgw("audit", "verify-proof", proof, "--pubkey", self.pub, check=0).stdout)
        self.assertIn(note, sovgw("audit", "show", "--db", self.db, "--seq", "7", "--auditor-key", self.auditor_key)
                      .stdout)
        self.assertNotIn("  note:", sovgw("audit", "show", "--db", self.db, "--seq", "2", "--auditor-key",
                                          self.auditor_key, check=0).stdout)

    def test_the_announced_range_follows_the_events_a_forced_open_writes_first(self):
        self.append(5, run_name="a")
        self.append(5, run_name="b")  # a checkpoint at 5 and one at 10
        run(TAMPER, self.db, "delete-newest", "2", check=0)  # records 8 and 9 gone; the signed tree goes on
        p = sovgw("audit", "append", "--db", self.db, "--keys", self.keys, "--synthetic", "2", "--force",
                  check=0)
        # The forced open's event took 10, the announcing event 11: the range is what was written.
        self.assertIn("appended 2 synthetic records (12..13), announced by the event at record 11", p.stdout)
        # The listing still names the deleted records (a forced open announces them; they stay gone).
        q = sovgw("audit", "query", "--db", self.db, "--format", "jsonl", check=1)
        self.assertIn("records 8..9 are missing from the log", q.stderr)
        records = {r["seq"]: r for r in (json.loads(line) for line in q.stdout.splitlines())}
        self.assertTrue(records[10]["note"].startswith("forced-open: "), records[10])
        self.assertTrue(records[11]["note"].startswith("synthetic: records 12..13 are synthetic traffic"),
                        records[11])
        self.assertEqual([records[s]["request_id"] for s in (12, 13)], ["req-0", "req-1"])

    def test_a_run_whose_request_ids_the_log_holds_is_refused_and_the_default_run_is_new_each_time(self):
        def append(*extra, check):
            return sovgw("audit", "append", "--db", self.db, "--keys", self.keys, "--synthetic", "2", *extra,
                         check=check)

        append(check=0)
        append(check=0)  # without --run: a run of its own, not req-0 and req-1 again
        append("--run", "w1", check=0)
        p = append("--run", "w1", check=2)
        self.assertIn("the log already holds request id 'w1-0' of a run named 'w1'", p.stderr)
        self.assertIn("nothing appended", p.stderr)
        records = [json.loads(line) for line in sovgw("audit", "query", "--db", self.db, "--format", "jsonl",
                                                      check=0).stdout.splitlines()]
        self.assertEqual(len(records), 9)  # three runs of an event and 2 records each: none of the refused one
        self.assertEqual([r["request_id"] for r in records if r["kind"] != "event"],
                         ["req-0", "req-1", "req2-0", "req2-1", "w1-0", "w1-1"])
        self.assertIn("(run 'req2')", records[3]["note"])
        out = self.verify().stdout
        self.assertIn("OK: 9 records", out)
        self.assertNotIn("forged or replayed", out)
        # A run that overlaps only in part (w1-0, w1-1 held; w1-2 not) is refused too.
        p = sovgw("audit", "append", "--db", self.db, "--keys", self.keys, "--synthetic", "3", "--run", "w1", check=2)
        self.assertIn("request id 'w1-0'", p.stderr)

    def test_zero_synthetic_records_is_refused_and_creates_no_log(self):
        p = sovgw("audit", "append", "--db", self.db, "--keys", self.keys, "--synthetic", "0", check=2)
        self.assertIn("--synthetic must be at least 1", p.stderr)
        self.assertFalse(os.path.exists(self.db))


if __name__ == "__main__":
    unittest.main()
