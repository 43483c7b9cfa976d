"""SIGKILL the writer at random moments under load; every acknowledged record survives, the
tree verifies, and nothing was invented."""

import csv
import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import threading
import time
import unittest

from test_audit_support import CRASH_WRITER, TAMPER, audit_case, run, sovgw

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


PENDING = ["0a" * 16, "0b" * 16]


class pending_in_flight_test(audit_case):
    """Probe round 42 (3): requests a killed gateway was forwarding exist only as notes in DB.in-flight
    until a writer opens the log. Readers said nothing of them (verify OK, prove "no record"), and the
    CLI writers signed checkpoints past them without recording them."""

    def setUp(self):
        super().setUp()
        self.append(3)
        self.in_flight = self.db + ".in-flight"
        run(TAMPER, self.db, "note-in-flight", self.keys, *PENDING, check=0)
        self.assertTrue(os.path.isdir(self.in_flight))

    def test_readers_report_the_pending_notes_and_exit_0(self):
        v = self.verify()
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        self.assertIn("OK: 3 records", v.stdout)
        self.assertIn(f"WARNING: 2 requests a gateway that stopped was serving are not on the log yet "
                      f"({self.in_flight}): forwarded to a cluster, or answered by the gateway while its audit log "
                      f"could not write; the gateway's next start records them", v.stdout)
        j = json.loads(sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--format", "json",
                             check=0).stdout)
        self.assertEqual((j["ok"], j["pending_in_flight"]["count"], j["pending_in_flight"]["request_ids"]),
                         (True, 2, PENDING))
        r = json.loads(sovgw("audit", "report", "--db", self.db, "--pubkey", self.pub, "--format", "json",
                             check=0).stdout)
        self.assertEqual(r["verification"]["pending_in_flight"]["request_ids"], PENDING)
        page = sovgw("audit", "report", "--db", self.db, "--pubkey", self.pub, check=0)
        self.assertIn("Not on the log yet", page.stdout)
        self.assertIn("2 requests a gateway that stopped was serving", page.stdout)
        for command, extra in (("prove", ()), ("show", ("--auditor-key", self.auditor_key))):
            p = sovgw("audit", command, "--db", self.db, "--request-id", PENDING[0], *extra, check=2)
            self.assertIn(f"request id {PENDING[0]}", p.stderr)
            self.assertIn(f"has no record on the log yet: it is pending in {self.in_flight}", p.stderr)
            self.assertNotIn("removed", p.stderr)
        q = sovgw("audit", "query", "--db", self.db, "--request-id", PENDING[1], check=0)
        self.assertIn("(0 records)", q.stdout)
        self.assertIn(f"has no record on the log yet: it is pending in {self.in_flight}", q.stderr)
        # Another request id is still "no record", exit 1.
        p = sovgw("audit", "prove", "--db", self.db, "--request-id", "0c" * 16, check=1)
        self.assertIn("no record with request id", p.stderr)

    def test_readers_create_no_notes(self):
        shutil.rmtree(self.in_flight)
        v = self.verify()
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        self.assertNotIn("WARNING", v.stdout)
        sovgw("audit", "query", "--db", self.db, check=0)
        self.assertFalse(os.path.exists(self.in_flight))

    def test_writers_record_the_pending_notes_before_they_sign(self):
        for command in (["checkpoint"], ["retain", "--older-than", "1d"], ["shred", "--tenant", "globex"]):
            with self.subTest(command=command[0]):
                copy = os.path.join(self.tmp, "copy-" + command[0])
                shutil.copytree(self.db, copy)
                shutil.copytree(self.in_flight, copy + ".in-flight")
                w = sovgw("audit", *command, "--db", copy, "--keys", self.keys)
                self.assertIn(f"recorded 2 requests a stopped gateway left in {copy}.in-flight", w.stderr)
                rows = [json.loads(x) for x in sovgw("audit", "query", "--db", copy, "--format", "jsonl",
                                                     check=0).stdout.splitlines()]
                stopped = [r for r in rows if r["error_kind"] == "gateway_stopped"]
                self.assertEqual(sorted(r["request_id"] for r in stopped), PENDING)
                # Recorded before the command's own event and its checkpoint: signed, and said once.
                self.assertLess(max(r["seq"] for r in stopped), 5 if command[0] == "checkpoint" else 6)
                v = self.verify(copy)
                self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
                self.assertNotIn("WARNING", v.stdout)
                self.assertNotIn("UNSIGNED", v.stdout)
                again = sovgw("audit", "checkpoint", "--db", copy, "--keys", self.keys, check=0)
                self.assertNotIn("recorded", again.stderr)

    def test_writers_create_no_notes(self):
        shutil.rmtree(self.in_flight)
        sovgw("audit", "checkpoint", "--db", self.db, "--keys", self.keys, check=0)
        self.assertFalse(os.path.exists(self.in_flight))


if __name__ == "__main__":
    unittest.main()
