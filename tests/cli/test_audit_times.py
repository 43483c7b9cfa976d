"""Record times a gateway's clock (or a forger) got wrong: verify names them, and every output keeps
its format: JSON times are RFC 3339 or null, the report keeps to its 96 bars."""

import datetime
import json
import re
import time
import unittest

from test_audit_support import TAMPER, audit_case, run, sovgw, tampered_log_case

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
FAR = str(2 ** 64 - 1)  # a time in the year 586524


class times_test(tampered_log_case):
    def setUp(self):
        super().setUp()
        run(TAMPER, self.db, "append-at", self.keys, "5000000", check=0)  # 1970: a clock never set
        run(TAMPER, self.db, "append-at", self.keys, FAR, check=0)

    def assert_times(self, value, path="$"):
        """Every value under a key that names a time is RFC 3339 or null."""
        if isinstance(value, dict):
            for k, v in value.items():
                if k in ("time", "start", "first", "last", "since", "until", "generated"):
                    self.assertTrue(v is None or RFC3339.match(v), f"{path}.{k} = {v!r}")
                else:
                    self.assert_times(v, f"{path}.{k}")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                self.assert_times(v, f"{path}[{i}]")

    def test_verify_names_the_records_whose_times_are_implausible(self):
        out = self.failed(self.db)
        self.assertIn("record 300: its time 1970-01-01T00:00:05Z is before 2020-01-01", out)
        self.assertIn(f"record 301: it ended after 9999-12-31 ({FAR} us since 1970), more than 10 min after this "
                      "verification's time", out)
        doc = json.loads(sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--format", "json",
                               check=1).stdout)
        self.assertEqual([(p["kind"], p["record"]) for p in doc["problems"]],
                         [("time_implausible", 300), ("time_implausible", 301)])

    def test_outputs_keep_their_formats(self):
        rows = sovgw("audit", "query", "--db", self.db, "--format", "jsonl", check=0).stdout.splitlines()
        records = [json.loads(line) for line in rows]
        self.assert_times(records)
        self.assertEqual(records[301]["time"], None)
        self.assertEqual(records[300]["time"], "1970-01-01T00:00:05.000000Z")
        table = sovgw("audit", "query", "--db", self.db, check=0).stdout
        self.assertRegex(table, r"\n\s*301  after 9999-12-31\s+at-")
        csv = sovgw("audit", "query", "--db", self.db, "--format", "csv", check=0).stdout
        self.assertIn(f"301,after 9999-12-31 ({FAR} us since 1970),request,", csv)
        report = json.loads(sovgw("audit", "report", "--db", self.db, "--pubkey", self.pub, "--format", "json",
                                  check=1).stdout)
        self.assert_times(report)
        self.assertLessEqual(len(report["series"]["buckets"]), 96)
        self.assertEqual(report["verification"]["problems"][0]["kind"], "time_implausible")
        html = sovgw("audit", "report", "--db", self.db, "--pubkey", self.pub, check=1).stdout
        self.assertLess(len(html), 1 << 20)
        self.assertNotIn("586524", html)



class synthetic_times_test(audit_case):
    def test_a_large_synthetic_run_stays_within_100_s_of_the_clock(self):
        # Probe round 50: records 1 ms apart from now on ran 11.7 minutes ahead for 700,000, so verify
        # failed until the clock caught up, and for good once a gateway wrote to the log.
        started = time.time()
        sovgw("audit", "append", "--db", self.db, "--keys", self.keys, "--synthetic", "150000", "--payload", "none",
              check=0)
        lines = sovgw("audit", "query", "--db", self.db, "--format", "jsonl", "--limit", "1000000",
                      check=0).stdout.splitlines()
        last = json.loads(lines[-1])
        stamped = datetime.datetime.fromisoformat(last["time"].replace("Z", "+00:00")).timestamp()
        self.assertLessEqual(stamped, time.time() + 101, last)
        self.assertGreaterEqual(stamped, started + 99, last)  # spread over the 100 s, not bunched
        # Small runs keep 1 ms between records.
        sovgw("audit", "append", "--db", self.db, "--keys", self.keys, "--synthetic", "3", "--payload", "none",
              "--run", "small", check=0)
        small = [json.loads(sovgw("audit", "query", "--db", self.db, "--format", "jsonl", "--request-id", f"small-{i}",
                                  check=0).stdout) for i in range(3)]
        times = [datetime.datetime.fromisoformat(r["time"].replace("Z", "+00:00")).timestamp() for r in small]
        self.assertAlmostEqual(times[2] - times[0], 0.002, places=5)


if __name__ == "__main__":
    unittest.main()
