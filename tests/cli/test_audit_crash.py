"""SIGKILL the writer at random moments under load; every acknowledged record survives, the
tree verifies, and nothing was invented."""

import csv
import io
import os
import random
import re
import signal
import subprocess
import threading
import time
import unittest

from test_audit_support import CRASH_WRITER, audit_case, sovgw

KILLS = 20
TENANTS = ["acme", "globex", "initech", "umbrella", "hooli"]
MODELS = ["mistral-small", "llama-3-70b", "mixtral-8x7b"]


class crash_test(audit_case):
    def run_and_kill(self, run_name, rng):
        proc = subprocess.Popen([CRASH_WRITER, self.db, self.keys, run_name, "4"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        lines = []
        opened = threading.Event()

        def reader():
            for line in proc.stdout:
                lines.append(line)
                if line.startswith("open "):
                    opened.set()

        t = threading.Thread(target=reader)
        t.start()
        self.assertTrue(opened.wait(30), "writer did not open: " + (proc.stderr.read() if proc.poll() else ""))
        time.sleep(rng.uniform(0.02, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        t.join(10)
        err = proc.stderr.read()
        self.assertEqual(proc.returncode, -signal.SIGKILL, err)
        opened_size = int(lines[0].split()[1])
        acked = {}
        for line in lines[1:]:
            m = re.fullmatch(r"(\d+) (\S+)\n", line)
            if m:  # a line cut by the kill is not an acknowledgement
                acked[m.group(2)] = int(m.group(1))
        return opened_size, acked

    def test_sigkill_under_load(self):
        rng = random.Random(int(os.environ.get("SOVGW_CRASH_SEED", "4")))
        all_acked = {}
        for k in range(KILLS):
            opened_size, acked = self.run_and_kill(f"crash{k}", rng)
            # Reopening after the previous kill verified the tree and kept every acknowledged record.
            self.assertGreater(opened_size, max(all_acked.values(), default=-1))
            all_acked.update(acked)
        self.assertGreater(len(all_acked), KILLS)

        v = self.verify()
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        out = sovgw("audit", "query", "--db", self.db, "--format", "csv", check=0).stdout
        rows = list(csv.DictReader(io.StringIO(out)))
        by_id = {}
        for i, row in enumerate(rows):
            self.assertEqual(int(row["seq"]), i)  # dense, ordered
            m = re.fullmatch(r"crash(\d+)-(\d+)", row["request_id"])
            self.assertIsNotNone(m, f"invented record {row}")
            n = int(m.group(2))
            self.assertEqual(row["tenant"], TENANTS[n % 5], row)
            self.assertEqual(row["model"], MODELS[n % 3], row)
            self.assertNotIn(row["request_id"], by_id, "duplicated record")
            by_id[row["request_id"]] = int(row["seq"])
        for rid, seq in all_acked.items():
            self.assertIn(rid, by_id, f"acknowledged record {rid} (seq {seq}) lost")
            self.assertEqual(by_id[rid], seq, rid)


if __name__ == "__main__":
    unittest.main()
