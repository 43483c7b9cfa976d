"""`sovgw audit query`: every filter through the CLI, --scan against the indexes, and time parsing."""

import datetime
import json
import os
import shutil
import unittest

from test_audit_support import TAMPER, audit_case, run, sovgw


class query_test(audit_case):
    def setUp(self):
        super().setUp()
        self.append(40)
        self.all = self.jsonl()
        self.assertEqual([r["seq"] for r in self.all], list(range(40)))

    def jsonl(self, *args, db=None):
        out = sovgw("audit", "query", "--db", db or self.db, "--format", "jsonl", *args, check=0).stdout
        return [json.loads(line) for line in out.splitlines()]

    def seqs(self, *args, db=None):
        return [r["seq"] for r in self.jsonl(*args, db=db)]

    def expected(self, pred):
        return [r["seq"] for r in self.all if pred(r)]

    def test_an_index_entry_naming_a_deleted_record_does_not_hide_the_later_matches(self):
        # Probe round 37: after one deleted record, an index query stopped listing; every later
        # match was missing, the table had no footer, and nothing said the list was cut short.
        acme = self.expected(lambda r: r["tenant"] == "acme")
        run(TAMPER, self.db, "delete", "5", check=0)
        said = ("sovgw audit query: the tenant index names record 5, but record 5 is missing from the log: deleted, "
                "or the log is damaged (sovgw audit verify names what changed); the records of its other entries "
                "are listed\n")
        p = sovgw("audit", "query", "--db", self.db, "--tenant", "acme", "--format", "jsonl", check=1)
        self.assertEqual([json.loads(line)["seq"] for line in p.stdout.splitlines()], [s for s in acme if s != 5])
        self.assertIn(said, p.stderr)
        p = sovgw("audit", "query", "--db", self.db, "--tenant", "acme", check=1)
        self.assertIn(f"({len(acme) - 1} records)", p.stdout)
        self.assertIn(said, p.stderr)
        p = sovgw("audit", "query", "--db", self.db, "--tenant", "acme", "--scan", "--format", "jsonl", check=1)
        self.assertEqual([json.loads(line)["seq"] for line in p.stdout.splitlines()], [s for s in acme if s != 5])
        self.assertNotIn("index names", p.stderr)  # the scan names the gap itself
        self.assertIn("record 5 is missing from the log: deleted", p.stderr)

    def test_cluster_filter(self):
        want = self.expected(lambda r: r["cluster"] == "par-1")
        self.assertGreater(len(want), 5)
        self.assertEqual(self.seqs("--cluster", "par-1"), want)
        # Through the tenant index, then the cluster filter on each record.
        self.assertEqual(self.seqs("--tenant", "acme", "--cluster", "par-1"),
                         self.expected(lambda r: r["tenant"] == "acme" and r["cluster"] == "par-1"))
        self.assertEqual(self.seqs("--cluster", "nowhere-1"), [])

    def test_model_filter(self):
        want = self.expected(lambda r: r["model"] == "llama-3-70b")
        self.assertGreater(len(want), 5)
        self.assertEqual(self.seqs("--model", "llama-3-70b"), want)
        self.assertEqual(self.seqs("--decision", "permit", "--model", "mixtral-8x7b"),
                         self.expected(lambda r: r["decision"] == "permit" and r["model"] == "mixtral-8x7b"))

    def test_decision_takes_the_words_records_hold(self):
        self.assertEqual({r["decision"] for r in self.all}, {"permit", "deny"})  # as the gateway writes them
        denied = self.expected(lambda r: r["decision"] == "deny")
        self.assertGreater(len(denied), 0)
        self.assertEqual(self.seqs("--decision", "deny", "--country", "US"), denied)
        p = sovgw("audit", "query", "--db", self.db, "--decision", "", check=2)
        self.assertIn("option '--decision' needs a value, not an empty one", p.stderr)
        for word in ("forbid", "Deny", "allow"):
            p = sovgw("audit", "query", "--db", self.db, "--decision", word, check=2)
            self.assertIn(f"--decision must be one of permit, deny, no-policy, none (what the gateway records), "
                          f"not '{word}'", p.stderr)
            self.assertEqual(p.stdout, "")
        p = sovgw("audit", "query", "--db", self.db, "--decision", "forbid", check=2)
        self.assertIn("a forbid rule's denial is recorded as deny", p.stderr)

    def test_country_is_a_two_letter_code_in_any_case_or_a_special_value(self):
        us = self.expected(lambda r: r["client_country"] == "US")
        self.assertGreater(len(us), 0)
        self.assertEqual(self.seqs("--country", "us"), us)
        self.assertEqual(self.seqs("--country", "uS", "--scan"), us)
        self.assertEqual(self.seqs("--country", "private"), [])
        self.assertEqual(self.seqs("--country", "unknown"), [])
        p = sovgw("audit", "query", "--db", self.db, "--country", "", check=2)
        self.assertIn("option '--country' needs a value, not an empty one", p.stderr)
        for text in ("USA", "U", "XX1", "Private", "u5"):
            p = sovgw("audit", "query", "--db", self.db, "--country", text, check=2)
            self.assertIn(f"--country must be a two-letter country code (DE, us), private or unknown, not '{text}'",
                          p.stderr)
        # Two letters that are no country's code match no record: refused too, not an empty answer.
        for text, code in (("XX", "XX"), ("zz", "ZZ"), ("QQ", "QQ")):
            p = sovgw("audit", "query", "--db", self.db, "--country", text, check=2)
            self.assertIn(f"--country '{text}': {code} is not an ISO 3166-1 country code, so no record holds it",
                          p.stderr)
            self.assertEqual(p.stdout, "")
        # Codes geo data returns for some addresses (EU, AP, UK in Tor's geoip files) can be in a record.
        for text in ("EU", "ap", "UK", "gb", "XK"):
            self.assertEqual(self.seqs("--country", text), [])
        # EU is a record's code, not the member states: an empty answer says so.
        p = sovgw("audit", "query", "--db", self.db, "--country", "eu", check=0)
        self.assertIn("(0 records)", p.stdout)
        self.assertIn("--country EU matches only records whose client a geo database placed in no single country",
                      p.stderr)
        self.assertNotIn("note:", sovgw("audit", "query", "--db", self.db, "--country", "XK", check=0).stderr)
        # UK is what people write for GB (probe round 27: the note called it a group of countries).
        p = sovgw("audit", "query", "--db", self.db, "--country", "uk", check=0)
        self.assertIn("no record has the client country UK; the United Kingdom is GB", p.stderr)
        self.assertNotIn("member states", p.stderr)

    def test_the_table_columns_fit_their_content(self):
        self.append(3, run_name="0193a5c1e2f04b7c9d2e3f4a5b6c7d8e")  # request ids as long as the gateway's
        lines = sovgw("audit", "query", "--db", self.db, "--format", "table", check=0).stdout.splitlines()
        header, rows, footer = lines[0], lines[1:-1], lines[-1]
        self.assertEqual(footer, "(43 records)")
        self.assertEqual(len(rows), 43)
        # Every column starts where its header does, in every row: nothing overflows into the next.
        starts = [header.index(name) for name in ("request id", "tenant", "cc", "decision", "rules", "cluster")]
        for row in rows:
            for start in starts:
                self.assertEqual(row[start - 2:start], "  ", (row, start))
                self.assertNotEqual(row[start], " ", (row, start))
        self.assertIn("0193a5c1e2f04b7c9d2e3f4a5b6c7d8e-2", rows[-1])

    def test_until_is_exclusive_and_takes_microseconds(self):
        t10, t20 = self.all[10]["time"], self.all[20]["time"]
        self.assertEqual(self.seqs("--until", t20), list(range(20)))
        self.assertEqual(self.seqs("--since", t10, "--until", t20), list(range(10, 20)))
        self.assertEqual(self.seqs("--until", "2020-01-01"), [])
        self.assertEqual(self.seqs("--until", "1577836800"), [])  # 2020-01-01 in Unix seconds

    def test_since_must_be_before_until(self):
        t10 = self.all[10]["time"]
        for since, until in (("2026-12-05", "2026-12-04"), (t10, t10)):
            for command in ("query", "report"):
                extra = ("--pubkey", self.pub) if command == "report" else ()
                p = sovgw("audit", command, "--db", self.db, *extra, "--since", since, "--until", until, check=2)
                self.assertEqual(p.stderr, f"sovgw audit {command}: --since must be before --until\n")
                self.assertEqual(p.stdout, "")

    def test_times_with_an_offset_or_a_fraction_are_read_as_utc(self):
        t10, t20 = self.all[10]["time"], self.all[20]["time"]  # 2026-12-04T18:45:18.123456Z
        want = list(range(10, 20))

        def shifted(t, offset):
            # The same instant written in another zone: +01:00 is one hour ahead of UTC.
            stamp = datetime.datetime.fromisoformat(t.replace("Z", "+00:00"))
            sign = 1 if offset[0] == "+" else -1
            delta = datetime.timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
            return (stamp + sign * delta).strftime("%Y-%m-%dT%H:%M:%S.%f") + offset

        for offset in ("+01:00", "-05:30", "+00:00", "-00:00", "+14:00"):
            self.assertEqual(self.seqs("--since", shifted(t10, offset), "--until", shifted(t20, offset)), want,
                             offset)
        self.assertEqual(self.seqs("--since", t10.lower(), "--until", t20.replace("Z", "z")), want)
        # A fraction longer than microseconds rounds up to the next one (an instant after record 10's is not
        # "since" it; one after record 20's is "until" it); one shorter is padded.
        self.assertEqual(self.seqs("--since", t10.replace("Z", "000Z"), "--until", t20.replace("Z", "000Z")), want)
        self.assertEqual(self.seqs("--since", t10.replace("Z", "1Z"), "--until", t20.replace("Z", "0001Z")),
                         list(range(11, 21)))
        whole = t10[:19]  # the record's second, without its fraction
        self.assertIn(10, self.seqs("--since", whole + ".0+00:00"))
        for text in ("2026-12-04T19:45:18+1:00", "2026-12-04T19:45:18+01", "2026-12-04T19:45:18+0100",
                     "2026-12-04T19:45:18+24:00", "2026-12-04T19:45:18+01:60", "2026-12-04T19:45:18 +01:00",
                     "2026-12-04T19:45:18.+01:00"):
            p = sovgw("audit", "query", "--db", self.db, "--since", text, check=2)
            self.assertIn(f"--since: cannot read '{text}' as a time", p.stderr)
        # report reads times the same way.
        j = json.loads(sovgw("audit", "report", "--db", self.db, "--pubkey", self.pub, "--format", "json",
                             "--since", shifted(t10, "+01:00"), "--until", shifted(t20, "-05:30"), check=0).stdout)
        self.assertEqual(j["records_in_period"], 10)

    def test_the_table_prints_times_its_own_since_and_until_take_back(self):
        # Probe round 42 (5): the table printed "2026-12-07T14:46:46.729" (no zone), which --since refused;
        # and a space for the T was refused too. Zone-less times are UTC, as the table's header says.
        table = sovgw("audit", "query", "--db", self.db, check=0).stdout.splitlines()
        self.assertIn("time (UTC)", table[0])
        printed = table[1 + 10].split()[1]  # record 10's row
        self.assertRegex(printed, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertEqual(printed, self.all[10]["time"][:23] + "Z")
        self.assertIn(10, self.seqs("--since", printed))
        t10, t20 = self.all[10]["time"], self.all[20]["time"]  # 2026-12-04T18:45:18.123456Z
        want = list(range(10, 20))
        for since, until in ((t10[:-1], t20[:-1]),                                # no zone: UTC
                             (t10.replace("T", " "), t20.replace("T", " ")),      # a space for the T
                             (t10[:-1].replace("T", " "), t20[:-1].replace("T", " ")),
                             (t10[:-1].replace("T", " ") + " UTC", t20[:-1] + "UTC")):  # the report's form
            with self.subTest(since=since):
                self.assertEqual(self.seqs("--since", since, "--until", until), want)
        # Ambiguous or broken ones stay refused.
        for text in ("2026-12-04  18:45:18Z", "2026-12-04 18:45:18 +01:00", "2026-12-04T18:45", "2026-12-04 x"):
            p = sovgw("audit", "query", "--db", self.db, "--since", text, check=2)
            self.assertIn(f"--since: cannot read '{text}' as a time", p.stderr)

    def test_a_date_or_time_the_calendar_lacks_is_named_as_such(self):
        # Probe round 47: "cannot read '2026-02-30' as a time", with examples of the very form it has.
        for text, days in (("2026-02-30", "2026-02 has 28 days"), ("2024-02-30", "2024-02 has 29 days"),
                           ("2026-04-31T10:00:00Z", "2026-04 has 30 days"), ("2026-13-01", "2026-12 has 31 days"),
                           ("2026-12-07T24:00:00Z", ""), ("2026-12-07T00:14:60Z", ""), ("2026-12-07 10:61:00", "")):
            with self.subTest(text=text):
                p = sovgw("audit", "query", "--db", self.db, "--since", text, check=2)
                self.assertIn(f"--since: '{text}' is written as a date", p.stderr)
                self.assertIn("but names none the calendar has", p.stderr)
                self.assertIn(days, p.stderr)
        sovgw("audit", "query", "--db", self.db, "--since", "2024-02-29T23:59:59Z", check=0)  # a leap day is one

    def test_a_time_before_1970_is_refused_as_such(self):
        # Probe round 39 (finding 6): a well-formed time before 1970 (0001-01-01 for "everything") got
        # "cannot read ... as a time", which sends the reader hunting for a typo.
        for command, extra in (("query", ()), ("report", ("--pubkey", self.pub, "--format", "json"))):
            for text in ("1969-12-31", "0001-01-01", "1970-01-01T00:30:00+01:00", "1969-12-31T23:59:59.5Z"):
                with self.subTest(command=command, text=text):
                    p = sovgw("audit", command, "--db", self.db, *extra, "--since", text, check=2)
                    self.assertIn(f"--since: '{text}' is before 1970-01-01T00:00:00Z: times before 1970 are not "
                                  "accepted (no record is that old); for the whole log from its start, leave --since "
                                  "out", p.stderr)
                    p = sovgw("audit", command, "--db", self.db, *extra, "--until", text, check=2)
                    self.assertIn(f"--until: '{text}' is before 1970-01-01T00:00:00Z: times before 1970 are not "
                                  "accepted (no record is that old)\n", p.stderr)
        # The first instant that is accepted still is.
        sovgw("audit", "query", "--db", self.db, "--since", "1970-01-01T01:00:00+01:00", check=0)

    def test_a_compact_date_is_not_read_as_unix_seconds(self):
        for command in ("query", "report"):
            extra = ("--pubkey", self.pub) if command == "report" else ()
            for option in ("--since", "--until"):
                p = sovgw("audit", command, "--db", self.db, *extra, option, "20261206", check=2)
                self.assertEqual(p.stderr, f"sovgw audit {command}: {option}: '20261206' reads as Unix seconds in "
                                           "1970; for that date write 2026-12-06\n")
        self.assertEqual(self.seqs("--until", "99999999"), [])  # no date: Unix seconds (1973)
        self.assertEqual(self.seqs("--until", "20261306"), [])

    def test_an_age_is_a_time_before_now(self):
        self.assertEqual(self.seqs("--since", "1d"), list(range(40)))  # appended just now
        self.assertEqual(self.seqs("--until", "1d"), [])
        self.assertEqual(self.seqs("--since", "100000d"), list(range(40)))  # before 1970: from the start
        p = sovgw("audit", "query", "--db", self.db, "--since", "15x", check=2)
        self.assertIn("an age such as 15m", p.stderr)

    def test_scan_agrees_with_every_index(self):
        for args, plan in ((["--tenant", "acme"], "index:tenant"), (["--decision", "deny"], "index:decision"),
                           (["--country", "FR"], "index:country"), (["--request-id", "req-7"], "index:request_id"),
                           (["--since", self.all[5]["time"]], "index:time"), (["--model", "llama-3-70b"], "scan")):
            p = sovgw("audit", "query", "--db", self.db, "--explain", *args, check=0)
            self.assertIn(f"plan: {plan}", p.stderr, args)
            p = sovgw("audit", "query", "--db", self.db, "--explain", "--scan", *args, check=0)
            self.assertIn("plan: scan", p.stderr, args)
            self.assertEqual(self.seqs("--scan", *args), self.seqs(*args), args)
        self.assertEqual(self.seqs("--scan", "--tenant", "acme", "--limit", "2"), [0, 5])
        self.assertIn("--scan", sovgw("audit", "--help", check=0).stdout)

    def test_scan_finds_what_a_tampered_index_misses(self):
        db = os.path.join(self.tmp, "swapped")
        shutil.copytree(self.db, db)
        run(TAMPER, db, "swap", "3", "4", check=0)  # umbrella's record 3 now sits where the index has hooli's 4
        p = sovgw("audit", "query", "--db", db, "--format", "jsonl", "--tenant", "umbrella", check=1)
        self.assertNotIn('"request_id":"req-3"', p.stdout)
        self.assertIn("the record stored at position 3 is not record 3: it carries seq 4", p.stderr)
        # The scan finds it, at the position it is stored at (the one `audit prove --seq` proves,
        # and fails on), and says the records were moved (probe round 34: it was listed as seq 3,
        # where record 3 is hooli's, and the query said nothing).
        p = sovgw("audit", "query", "--db", db, "--format", "jsonl", "--tenant", "umbrella", "--scan", check=1)
        found = [json.loads(line) for line in p.stdout.splitlines()]
        self.assertIn(("req-3", 4), [(r["request_id"], r["seq"]) for r in found])
        self.assertIn("the record stored at position 3 is not record 3: it carries seq 4", p.stderr)
        self.assertIn("the record stored at position 4 is not record 4: it carries seq 3", p.stderr)

    def test_an_undecodable_record_is_named_and_the_query_goes_on_past_it(self):
        # Probe round 29 (medium 4): one record that does not decode stopped every scan and index
        # plan that reached it (the rows before it, then exit 1), and the request id fallback too.
        db = os.path.join(self.tmp, "damaged")
        shutil.copytree(self.db, db)
        run(TAMPER, db, "append-byte", "10", check=0)
        tenant = self.all[10]["tenant"]
        for args, want in (((), [r["seq"] for r in self.all]), (("--scan",), [r["seq"] for r in self.all]),
                           (("--since", "2020-01-01"), [r["seq"] for r in self.all]),
                           (("--tenant", tenant), self.expected(lambda r: r["tenant"] == tenant))):
            with self.subTest(args=args):
                p = sovgw("audit", "query", "--db", db, "--format", "jsonl", *args, check=1)
                self.assertEqual([json.loads(line)["seq"] for line in p.stdout.splitlines()],
                                 [seq for seq in want if seq != 10])
                self.assertIn("record 10 does not decode (", p.stderr)
                self.assertIn("skipped", p.stderr)
        table = sovgw("audit", "query", "--db", db, check=1)
        self.assertIn("(39 records)", table.stdout)
        self.assertIn("req-39", table.stdout)
        # A request id whose index entry is gone, or names a record the log does not hold: the lookup
        # reads the whole log, past the undecodable record, and says so.
        run(TAMPER, db, "delete-index", "request", "33", check=0)
        run(TAMPER, db, "repoint-index", "request", "34", "1000", check=0)
        for seq in (33, 34):
            with self.subTest(seq=seq):
                rid = self.all[seq]["request_id"]
                p = sovgw("audit", "query", "--db", db, "--request-id", rid, "--format", "jsonl", check=1)
                self.assertEqual([json.loads(line)["seq"] for line in p.stdout.splitlines()], [seq])
                self.assertIn("the index is damaged", p.stderr)
                self.assertIn("record 10 does not decode", p.stderr)
                proof = sovgw("audit", "prove", "--db", db, "--request-id", rid, check=0)
                self.assertIn("the index is damaged", proof.stderr)
                self.assertEqual(proof.stdout.splitlines()[2], f"index {seq}")
                shown = sovgw("audit", "show", "--db", db, "--request-id", rid, "--auditor-key", self.auditor_key,
                              check=0)
                self.assertIn(f"record {seq}", shown.stdout)
                self.assertIn("the index is damaged", shown.stderr)

    def test_a_scan_that_passes_a_deleted_record_names_it_and_fails(self):
        # Probe round 32 (finding 2): a full listing skipped a deleted record without a word, exit 0.
        db = os.path.join(self.tmp, "deleted")
        shutil.copytree(self.db, db)
        run(TAMPER, db, "delete", "10", check=0)
        for n in (20, 21, 22):
            run(TAMPER, db, "delete", str(n), check=0)
        cluster = self.all[5]["cluster"]
        for args, want in (((), self.expected(lambda r: True)), (("--scan",), self.expected(lambda r: True)),
                           # A filter skips records; the scan under it still sees the gap.
                           (("--cluster", cluster), self.expected(lambda r: r["cluster"] == cluster))):
            with self.subTest(args=args):
                p = sovgw("audit", "query", "--db", db, "--format", "jsonl", *args, check=1)
                self.assertEqual([json.loads(line)["seq"] for line in p.stdout.splitlines()],
                                 [seq for seq in want if seq not in (10, 20, 21, 22)])
                self.assertIn("sovgw audit query: record 10 is missing from the log: deleted, or the log is damaged "
                              "(sovgw audit verify names what changed)", p.stderr)
                self.assertIn("records 20..22 are missing from the log", p.stderr)
        table = sovgw("audit", "query", "--db", db, check=1)
        self.assertIn("(36 records)", table.stdout)
        self.assertIn("record 10 is missing from the log", table.stderr)
        # A listing that stops before the gap saw none; one that stops after it did.
        p = sovgw("audit", "query", "--db", db, "--limit", "10", check=0)
        self.assertEqual(p.stderr, "")
        p = sovgw("audit", "query", "--db", db, "--limit", "11", check=1)
        self.assertIn("record 10 is missing from the log", p.stderr)
        self.assertNotIn("records 20..22", p.stderr)

    def test_impossible_dates_and_overflowing_seconds_are_refused(self):
        # (Well-formed but not in the calendar: said so, test_a_date_or_time_the_calendar_lacks_is_named_as_such.)
        for text in ("2026-02-30", "2025-02-29", "2026-02-31T00:00:00Z", "2026-04-31", "2026-13-01", "2026-00-10",
                     "2026-01-01T24:00:00Z", "2026-01-01T24:00:00"):
            p = sovgw("audit", "query", "--db", self.db, "--since", text, check=2)
            self.assertIn(f"--since: '{text}' is written as a date", p.stderr)
        for text in ("2026-01-01T00:00:00.Z", "2026-1-01", "2026-01-01 "):
            p = sovgw("audit", "query", "--db", self.db, "--since", text, check=2)
            self.assertIn(f"--since: cannot read '{text}' as a time", p.stderr)
        for text in ("18446744073710", "99999999999999999999999"):
            p = sovgw("audit", "query", "--db", self.db, "--until", text, check=2)
            self.assertIn(f"--until: {text} Unix seconds is too far in the future (at most 18446744073709)",
                          p.stderr)
        # Leap days that exist, the largest Unix seconds and fractions still parse.
        for text in ("2024-02-29", "2000-02-29T12:00:00Z", "18446744073709", "2026-01-01T00:00:00.123456789Z"):
            sovgw("audit", "query", "--db", self.db, "--until", text, check=0)


if __name__ == "__main__":
    unittest.main()
