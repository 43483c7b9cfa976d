"""The receipt workflow looks records up by request id: `prove`, `show` and `query --request-id`
find the record even when the request id index lost it (and say the index is damaged), and never
pick one of two records that carry the same id."""

import json
import unittest

from test_audit_support import sovgw, tampered_log_case


class request_id_test(tampered_log_case):
    damaged = ("the request id index does not list request id 's0-77', but record 77 carries it: the index is "
               "damaged (sovgw audit verify names the damage)")

    def test_a_record_the_index_lost_is_still_found(self):
        db = self.tampered("delete-index", "request", "77")
        p = sovgw("audit", "prove", "--db", db, "--request-id", "s0-77", check=0)
        self.assertIn("index 77\n", p.stdout)
        self.assertIn(self.damaged, p.stderr)
        p = sovgw("audit", "show", "--db", db, "--request-id", "s0-77", "--auditor-key", self.auditor_key, check=0)
        self.assertIn("record 77 (request)", p.stdout)
        self.assertIn(self.damaged, p.stderr)
        p = sovgw("audit", "query", "--db", db, "--request-id", "s0-77", "--format", "jsonl", check=0)
        self.assertEqual([json.loads(line)["seq"] for line in p.stdout.splitlines()], [77])
        self.assertIn("the request id index lists no record for 's0-77', but reading the whole log found 1: the "
                      "index is damaged (sovgw audit verify names the damage)", p.stderr)
        # Intact, the index answers alone and nothing is said.
        p = sovgw("audit", "prove", "--db", self.db, "--request-id", "s0-77", check=0)
        self.assertEqual(p.stderr, "")

    def test_a_request_id_no_record_carries_is_not_found_after_reading_the_whole_log(self):
        # An answer about the log (exit 1): a request the gateway answered has a record.
        p = sovgw("audit", "prove", "--db", self.db, "--request-id", "no-such-request", check=1)
        self.assertIn("no record with request id 'no-such-request': the request id index lists none, and none of "
                      "the log's 300 records carries it", p.stderr)
        p = sovgw("audit", "query", "--db", self.db, "--request-id", "no-such-request", check=0)
        self.assertIn("(0 records)", p.stdout)
        # Probe round 45: an id copied with quotes or in upper case read as a removed record.
        for mistyped in ("'01a251e66d01d13e589cac71f04c26b5'", "01A251E66D01D13E589CAC71F04C26B5"):
            p = sovgw("audit", "prove", "--db", self.db, "--request-id", mistyped, check=1)
            self.assertTrue(p.stderr.startswith(f"sovgw audit prove: '{mistyped}' is not a request id the gateway "
                                                "writes (32 lower-case hex digits"), p.stderr)
        p = sovgw("audit", "prove", "--db", self.db, "--request-id", "01a251e66d01d13e589cac71f04c26b5", check=1)
        self.assertNotIn("is not a request id the gateway writes", p.stderr)

    def test_two_records_with_one_request_id_are_not_resolved_to_either(self):
        self.append(10, run_name="s0")  # records 300..309 repeat s0-0..s0-9
        for cmd in (["prove"], ["show", "--auditor-key", self.auditor_key]):
            p = sovgw("audit", cmd[0], "--db", self.db, "--request-id", "s0-5", *cmd[1:], check=1)
            self.assertIn("request id 's0-5' is carried by records 5 and 305: a gateway gives every request its "
                          "own id, so one of them was forged or replayed; name one with --seq", p.stderr)
            self.assertEqual(p.stdout, "")
        rows = sovgw("audit", "query", "--db", self.db, "--request-id", "s0-5", "--format", "jsonl", check=0).stdout
        self.assertEqual([json.loads(line)["seq"] for line in rows.splitlines()], [5, 305])
        out = self.failed(self.db)
        self.assertIn("records 5 and 305 carry the same request id 's0-5': a gateway gives every request its own "
                      "random id, so one of them was forged or replayed", out)
        self.assertNotIn("first record that does not match", out)  # the records are as they were signed


if __name__ == "__main__":
    unittest.main()
