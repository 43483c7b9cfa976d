"""Shared helpers for the audit CLI tests, and a check that their executables were built."""

import os
import shutil
import subprocess
import tempfile
import unittest

BUILD_DIR = os.environ.get("SOVGW_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
SOURCE_DIR = os.environ.get("SOVGW_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
SOVGW = os.path.join(BUILD_DIR, "sovgw")
CRASH_WRITER = os.path.join(BUILD_DIR, "tests", "unit", "audit", "audit_crash_writer")
TAMPER = os.path.join(BUILD_DIR, "tests", "unit", "audit", "audit_tamper")
AUDIT_BENCH = os.path.join(BUILD_DIR, "bench", "audit_bench", "audit_bench")


def run(*args, check=None, timeout=120, **kwargs):
    """Runs a command; returns CompletedProcess. check=int asserts that exit code."""
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, **kwargs)
    if check is not None and proc.returncode != check:
        raise AssertionError(
            f"{' '.join(map(str, args))}: exit {proc.returncode}, expected {check}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def read_file(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def write_file(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def sovgw(*args, **kwargs):
    return run(SOVGW, *args, **kwargs)


class audit_case(unittest.TestCase):
    """A test case with a temp dir holding keys/ and an empty place for db/."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sovgw-audit-cli-")
        self.keys = os.path.join(self.tmp, "keys")
        self.db = os.path.join(self.tmp, "db")
        self.pub = os.path.join(self.keys, "signing.pub")
        self.auditor_key = os.path.join(self.tmp, "keys-auditor", "auditor.key")
        sovgw("keys", "init", self.keys, "--name", "test.sovgw.local/audit", check=0)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def append(self, n, run_name="req", db=None, extra=()):
        """N synthetic records written the way a gateway writes records (`sovgw audit append` also records
        an event and marks them: test_audit_maintenance covers it). `extra`: --force, --payload MODE."""
        return run(TAMPER, db or self.db, "append-synthetic", self.keys, run_name, n, *extra, check=0)

    def verify(self, db=None):
        return sovgw("audit", "verify", "--db", db or self.db, "--pubkey", self.pub)


class tampered_log_case(audit_case):
    """A 300-record log from three writer sessions (checkpoints at 100, 200 and 300), and copies
    of it changed by the tamper tool."""

    def setUp(self):
        super().setUp()
        for i in range(3):
            self.append(100, run_name=f"s{i}")
        self.assertIn("OK: 300 records", self.verify().stdout)

    def tampered(self, *op):
        copy = os.path.join(self.tmp, "copy-" + "-".join(op))
        shutil.copytree(self.db, copy)
        run(TAMPER, copy, *op, check=0)
        return copy

    def failed(self, db):
        """verify's output on a log it must reject (exit 1)."""
        p = self.verify(db)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("FAILED", p.stdout)
        return p.stdout


class support_test(unittest.TestCase):
    def test_executables_exist_and_usage_is_printed(self):
        for path in (SOVGW, CRASH_WRITER, TAMPER, AUDIT_BENCH):
            self.assertTrue(os.access(path, os.X_OK), f"{path} was not built")
        self.assertIn("verify-proof", sovgw("audit", "--help", check=0).stdout)
        self.assertIn("keys init DIR", sovgw("keys", "--help", check=0).stdout)
        sovgw("audit", check=2)


if __name__ == "__main__":
    unittest.main()
