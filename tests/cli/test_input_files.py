"""Every file the tools read is a regular file of bounded size: a FIFO, a device, a directory or a
huge file named by mistake is refused at once with its reason (exit 3), never read without end or
waited on (each command runs under a timeout: a hang fails the test)."""

import os
import subprocess
import tempfile
import unittest
from pathlib import Path

from test_policy_cli import CLUSTERS, POLICY, SOURCE, SOVGW


def run(*args, cwd=None):
    return subprocess.run([SOVGW, *args], capture_output=True, text=True, timeout=20, cwd=cwd)


class input_files_test(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)
        self.fifo = str(self.dir / "named.fifo")
        os.mkfifo(self.fifo)
        self.huge = str(self.dir / "huge.yaml")
        with open(self.huge, "wb") as f:
            f.truncate(1 << 30)  # sparse: 1 GiB that takes no room
        self.tests = str(self.dir / "t.yaml")
        Path(self.tests).write_text("tests:\n  - {name: t, request: {}, expect: {effect: deny}}\n")
        self.requests = str(self.dir / "r.jsonl")
        Path(self.requests).write_text('{"client.country":"FR"}\n')

    def tearDown(self):
        self.tmp.cleanup()

    def refused(self, argv, path, what, kind):
        r = run(*argv)
        self.assertEqual(r.returncode, 3, (argv, r.stdout, r.stderr))
        self.assertIn(f"{path}: the {what} is {kind}, not a regular file\n", r.stderr, argv)

    def test_policy_tools_refuse_fifos_devices_and_directories(self):
        for path, kind in ((self.fifo, "a FIFO"), ("/dev/zero", "a character device"), (self.tmp.name, "a directory")):
            self.refused(["policy", "check", path], path, "policy file", kind)
            self.refused(["policy", "check", POLICY, "--clusters", path], path, "configuration file", kind)
            self.refused(["policy", "test", POLICY, path], path, "test file", kind)
            self.refused(["policy", "test", POLICY, self.tests, "--clusters", path], path, "configuration file", kind)
            self.refused(["policy", "explain", path, "--request", "{}"], path, "policy file", kind)
            self.refused(["policy", "diff", POLICY, path, "--requests", self.requests], path, "policy file", kind)
            self.refused(["policy", "diff", POLICY, POLICY, "--requests", path], path, "requests file", kind)
            self.refused(["config", "check", path], path, "configuration file", kind)
            self.refused(["serve", "--config", path], path, "configuration file", kind)
            r = run("tenants", "check", path)
            self.assertEqual(r.returncode, 3, r.stderr)
            self.assertIn(f"cannot read {path}: the file is {kind}, not a regular file", r.stderr)

    def test_huge_files_are_refused_unread(self):
        r = run("policy", "check", self.huge)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertEqual(r.stderr, f"{self.huge}: larger than 64 MiB: not a policy file\n")
        r = run("policy", "check", POLICY, "--clusters", self.huge)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertEqual(r.stderr, f"{self.huge}: larger than 16 MiB: not a configuration file\n")
        r = run("config", "check", self.huge)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertEqual(r.stderr, f"{self.huge}: larger than 16 MiB: not a configuration file\n")

    def test_a_test_files_clusters_entry_is_read_the_same_way(self):
        Path(self.tests).write_text(f"clusters: {self.fifo}\ntests:\n  - {{name: t, request: {{}}, expect: {{effect: deny}}}}\n")
        r = run("policy", "test", POLICY, self.tests)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stderr, f"{self.tests}:1:11: error: clusters: {self.fifo}: the configuration file is a "
                                   "FIFO, not a regular file\n")
        Path(self.tests).write_text("clusters: nowhere.yaml\ntests:\n  - {name: t, request: {}, expect: {effect: deny}}\n")
        r = run("policy", "test", POLICY, self.tests)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stderr, f"{self.tests}:1:11: error: clusters: {self.dir / 'nowhere.yaml'}: cannot open the "
                                   "configuration file: No such file or directory\n")

    def test_files_a_config_names_are_refused_at_their_key(self):
        config = (SOURCE / "examples" / "demo" / "sovgw.yaml").read_text()
        for key, value in (("policy", "examples/policies/eu_policy.yaml"), ("tenants", "demo/tenants.yaml")):
            for path, kind in ((self.fifo, "a FIFO"), ("/dev/zero", "a character device")):
                text = config.replace(f"{key}: {value}", f"{key}: {path}")
                self.assertNotEqual(text, config)
                gw = self.dir / "gw.yaml"
                gw.write_text(text)
                line = next(n for n, l in enumerate(text.splitlines(), 1) if l.startswith(f"{key}: "))
                # serve: a file it cannot use is the environment's problem (3), the config being valid
                for argv, code in ((["config", "check", str(gw)], 1), (["serve", "--config", str(gw)], 3)):
                    r = run(*argv, cwd=SOURCE)
                    self.assertEqual(r.returncode, code, (argv, r.stderr))
                    self.assertIn(f"{gw}:{line}:{len(key) + 3}: {key}: {path} is {kind}, not a regular file\n",
                                  r.stderr)


if __name__ == "__main__":
    unittest.main()
