"""CLI tests for `sovgw tenants ...`: keys are printed once, stored as hashes, listed and revoked;
bad files and bad usage get specific errors and the house exit codes."""

import os
import stat
import subprocess
import tempfile
import unittest
from pathlib import Path

BUILD = Path(os.environ.get("SOVGW_BUILD_DIR", "build"))
SOVGW = str(BUILD / "sovgw")

TENANTS = """# tenants of the test
tenants:
  - name: acme
  - name: globex  # comments survive appends
"""


def run(*args):
    return subprocess.run([SOVGW, *args], capture_output=True, text=True, timeout=60)


class TenantsCliTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="sovgw-tenants-")
        self.addCleanup(self.dir.cleanup)
        self.file = os.path.join(self.dir.name, "tenants.yaml")
        with open(self.file, "w") as f:
            f.write(TENANTS)
        os.chmod(self.file, 0o640)

    def create(self, tenant, *extra):
        r = run("tenants", "key", "create", tenant, "--file", self.file, *extra)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.strip()

    def test_check_counts_in_words(self):
        r = run("tenants", "check", self.file)
        self.assertEqual(r.stdout, f"{self.file}: 2 tenants, 0 keys\n")
        self.create("acme")
        with open(self.file) as f:
            text = f.read()
        with open(self.file, "w") as f:
            f.write(text.replace("  - name: globex  # comments survive appends\n", ""))
        self.assertEqual(run("tenants", "check", self.file).stdout, f"{self.file}: 1 tenant, 1 key\n")

    def test_a_file_with_no_tenant_warns_that_every_request_will_be_refused(self):
        with open(self.file, "w") as f:
            f.write("tenants: []\n")
        r = run("tenants", "check", self.file)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"{self.file}:1:10: warning: the tenants file names no tenant: every request is refused",
                      r.stderr)

    def test_create_prints_the_key_once_and_stores_only_its_hash(self):
        key = self.create("acme")
        self.assertRegex(key, r"^sk-sovgw-[A-Za-z0-9_-]{43}$")
        second = self.create("globex", "--expires", "90d")
        text = Path(self.file).read_text()
        self.assertTrue(text.startswith(TENANTS))  # appended: comments and layout kept
        self.assertNotIn(key, text)
        self.assertNotIn(key[17:], text)
        self.assertIn(f"id: {key[:17]}", text)
        self.assertEqual(text.count("hash: \"blake2b-256:"), 2)
        self.assertEqual(stat.S_IMODE(os.stat(self.file).st_mode), 0o640)  # mode kept
        self.assertEqual(run("tenants", "check", self.file).returncode, 0)
        listed = run("tenants", "key", "list", "--file", self.file)
        self.assertEqual(listed.returncode, 0, listed.stderr)
        self.assertNotIn(key, listed.stdout)
        rows = [line.split() for line in listed.stdout.splitlines()[1:]]
        self.assertEqual([(r[0], r[1], r[3], r[4]) for r in rows][0], (key[:17], "acme", "never", "active"))
        self.assertEqual((rows[1][0], rows[1][1], rows[1][4]), (second[:17], "globex", "active"))
        only = run("tenants", "key", "list", "--file", self.file, "--tenant", "globex").stdout
        self.assertNotIn(key[:17], only)
        self.assertIn(second[:17], only)

    def test_a_key_that_cannot_be_printed_is_not_stored(self):
        # Probe round 18: with standard output on a full disk (`> demo.key`), `key create` said it had
        # created a key, exit 0, and stored an active key nobody holds. /dev/full is opened for
        # writing only, as a shell redirection does.
        with open("/dev/full", "w") as full:
            r = subprocess.run([SOVGW, "tenants", "key", "create", "acme", "--file", self.file], stdout=full,
                               stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("cannot write the new key to standard output", r.stderr)
        self.assertIn("no key was added", r.stderr)
        self.assertEqual(Path(self.file).read_text(), TENANTS)
        # Any command whose output is lost says so and exits 3.
        self.create("acme")
        with open("/dev/full", "w") as full:
            r = subprocess.run([SOVGW, "tenants", "key", "list", "--file", self.file], stdout=full,
                               stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("cannot write to standard output", r.stderr)

    def test_expires_takes_rfc3339_times_with_an_offset_and_stores_them_in_utc(self):
        for text, stored in (("2099-03-01T01:00:00+01:00", "2099-03-01T00:00:00Z"),
                             ("2099-02-28T19:30:00-04:30", "2099-03-01T00:00:00Z"),
                             ("2099-03-01T00:00:00.75Z", "2099-03-01T00:00:00Z"),
                             ("2099-03-01t00:00:00z", "2099-03-01T00:00:00Z")):
            key = self.create("acme", "--expires", text)
            self.assertIn(f"id: {key[:17]}, hash: ", Path(self.file).read_text())
            entry = [line for line in Path(self.file).read_text().splitlines() if key[:17] in line][0]
            self.assertIn(f"expires: {stored}}}", entry, text)
        for text in ("2099-03-01T00:00:00", "2099-03-01T00:00:00+25:00", "2099-02-30T00:00:00Z"):
            r = run("tenants", "key", "create", "acme", "--file", self.file, "--expires", text)
            self.assertEqual(r.returncode, 2, text)
            self.assertIn(f"--expires '{text}': give a duration (90d, 12h, 30m) or an RFC 3339 time", r.stderr)

    def test_create_with_limits_of_the_key_s_own(self):
        key = self.create("acme", "--tokens-per-minute", "500", "--requests-per-minute", "6")
        text = Path(self.file).read_text()
        self.assertIn(f"id: {key[:17]}", text)
        self.assertIn("limits: {requests_per_minute: 6, tokens_per_minute: 500}}", text)
        self.assertEqual(run("tenants", "check", self.file).returncode, 0)
        plain = self.create("acme")
        rows = {r.split()[0]: r.split() for r in run("tenants", "key", "list", "--file", self.file).stdout.splitlines()}
        self.assertEqual(rows["ID"][-1], "LIMITS")
        self.assertEqual(rows[key[:17]][-1], "requests_per_minute=6,tokens_per_minute=500")
        self.assertEqual(rows[plain[:17]][-1], "-")  # only its tenant's limits apply
        # A key with limits is still one line: revoke can mark it.
        self.assertEqual(run("tenants", "key", "revoke", key[:17], "--file", self.file).returncode, 0)
        self.assertEqual(run("tenants", "check", self.file).returncode, 0)
        before = Path(self.file).read_text()
        for bad in ("0", "-3", "1e3", "1000000000001"):
            r = run("tenants", "key", "create", "acme", "--file", self.file, "--tokens-per-month", bad)
            self.assertEqual(r.returncode, 2, bad)
            self.assertIn(f"--tokens-per-month '{bad}': give a whole number from 1 to 10^12", r.stderr)
            self.assertEqual(r.stdout, "")  # no key printed
        self.assertEqual(Path(self.file).read_text(), before)  # nothing appended

    def test_revoke(self):
        key = self.create("acme")
        r = run("tenants", "key", "revoke", key[:17], "--file", self.file)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("revoked", run("tenants", "key", "list", "--file", self.file).stdout.splitlines()[1])
        again = run("tenants", "key", "revoke", key[:17], "--file", self.file)
        self.assertEqual(again.returncode, 1)
        self.assertIn("already revoked", again.stderr)
        self.assertEqual(run("tenants", "key", "revoke", "sk-sovgw-nothere0", "--file", self.file).returncode, 2)

    def test_a_revoked_value_that_is_no_time_is_one_error(self):
        # Probe round 22: `revoked: true` was also "revoked before it was created" (its time read as 0).
        key = self.create("acme")
        text = Path(self.file).read_text()
        Path(self.file).write_text(text.replace(f"id: {key[:17]},", f"id: {key[:17]}, revoked: true,"))
        r = run("tenants", "check", self.file)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("revoked 'true' is not a UTC time", r.stderr)
        self.assertNotIn("before it was created", r.stderr)
        self.assertEqual(r.stderr.count("error:"), 1, r.stderr)

    def test_revoke_by_the_whole_key_never_prints_it(self):
        # An operator pastes the leaked key itself: it revokes its entry, and no message echoes it.
        key = self.create("acme")
        r = run("tenants", "key", "revoke", key, "--file", self.file)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(key, r.stdout + r.stderr)
        self.assertIn("revoked", run("tenants", "key", "list", "--file", self.file).stdout.splitlines()[1])
        other = self.create("acme")
        unknown = other[:-4] + ("AAAA" if not other.endswith("AAAA") else "BBBB")  # same id, another secret
        r = run("tenants", "key", "revoke", unknown, "--file", self.file)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertNotIn(unknown[17:], r.stdout + r.stderr)
        self.assertIn(f"no key {unknown[:17]}... in", r.stderr)
        self.assertNotIn("revoked", run("tenants", "key", "list", "--file", self.file).stdout.splitlines()[2])

    def test_revoke_marks_the_entry_whatever_follows_it(self):
        # A comment after the entry holding braces, a quoted value holding one: revoked: goes into
        # the mapping itself, and the command checks that the key is revoked before it says so.
        key = self.create("acme")
        text = Path(self.file).read_text().rstrip("\n") + "  # laptop key {alice}\n"
        Path(self.file).write_text(text)
        r = run("tenants", "key", "revoke", key[:17], "--file", self.file)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("revoked", run("tenants", "key", "list", "--file", self.file).stdout.splitlines()[1])
        self.assertIn("# laptop key {alice}", Path(self.file).read_text())

    def test_a_file_given_through_a_symbolic_link_is_edited_where_it_is(self):
        # Probe round 29: the rename replaced the link with a regular file; the file the gateway
        # reads kept the key active, while the command said "revoked".
        os.makedirs(os.path.join(self.dir.name, "deploy"))
        link = os.path.join(self.dir.name, "deploy", "tenants.yaml")
        os.symlink(self.file, link)
        key = self.create("acme")
        r = run("tenants", "key", "revoke", key[:17], "--file", link)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.islink(link))
        self.assertIn("revoked", run("tenants", "key", "list", "--file", self.file).stdout.splitlines()[1])
        second = run("tenants", "key", "create", "globex", "--file", link)
        self.assertEqual(second.returncode, 0, second.stderr)
        self.assertTrue(os.path.islink(link))
        self.assertIn(second.stdout.strip()[:17], Path(self.file).read_text())

    def test_a_whole_key_written_as_its_id_is_never_printed(self):
        # Probe round 29: the key pasted into `id:` was printed whole (and logged on SIGHUP).
        key = self.create("acme")
        text = Path(self.file).read_text()
        Path(self.file).write_text(text.replace(f"id: {key[:17]},", f"id: {key},"))
        r = run("tenants", "check", self.file)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertNotIn(key[17:], r.stdout + r.stderr)
        self.assertIn(f"key id '{key[:17]}...' is a whole key, not its id", r.stderr)

    def test_concurrent_commands_lose_no_key_and_no_revocation(self):
        first = self.create("acme")
        procs = [subprocess.Popen([SOVGW, "tenants", "key", "create", "globex", "--file", self.file],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(12)]
        procs.append(subprocess.Popen([SOVGW, "tenants", "key", "revoke", first[:17], "--file", self.file],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        outs = [p.communicate(timeout=60) for p in procs]
        self.assertEqual([p.returncode for p in procs], [0] * 13, [o[1] for o in outs])
        listing = run("tenants", "key", "list", "--file", self.file).stdout.splitlines()[1:]
        self.assertEqual(len(listing), 13)
        states = {line.split()[0]: line.split()[4] for line in listing}
        self.assertEqual(states[first[:17]], "revoked")
        for out, _ in outs[:12]:
            self.assertEqual(states[out.strip()[:17]], "active")

    def test_a_file_others_may_write_is_refused_and_the_mode_is_kept(self):
        self.create("acme")
        self.assertEqual(stat.S_IMODE(os.stat(self.file).st_mode), 0o640)
        os.chmod(self.file, 0o666)
        for args in (("check", self.file), ("key", "create", "acme", "--file", self.file)):
            r = run("tenants", *args)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("lets group or others change it", r.stderr)
            self.assertIn(f"chmod go-w {self.file}", r.stderr)

    def test_an_expiry_past_the_year_9999_is_bad_usage(self):
        before = Path(self.file).read_text()
        for text in ("99999999d", "10000-01-01T00:00:00Z"):
            r = run("tenants", "key", "create", "acme", "--file", self.file, "--expires", text)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(f"--expires '{text}' is after the year 9999", r.stderr)
            self.assertEqual((r.stdout, Path(self.file).read_text()), ("", before))

    def test_an_expiry_before_1970_is_in_the_past_as_a_later_one_is(self):
        # Probe round 50: 1969 was told to "give ... an RFC 3339 time", 1970 "in the past".
        before = Path(self.file).read_text()
        for text in ("1969-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "0001-12-31T23:59:59+01:00"):
            with self.subTest(text):
                r = run("tenants", "key", "create", "acme", "--file", self.file, "--expires", text)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("--expires is in the past", r.stderr)
                self.assertEqual((r.stdout, Path(self.file).read_text()), ("", before))

    def test_bad_usage_and_bad_files(self):
        r = run("tenants", "key", "create", "initech", "--file", self.file)
        self.assertEqual(r.returncode, 2)
        self.assertIn("tenant 'initech' is not declared", r.stderr)
        self.assertNotIn("did you mean", r.stderr)
        r = run("tenants", "key", "create", "ACME", "--file", self.file)
        self.assertEqual(r.returncode, 2)
        self.assertIn("tenant 'ACME' is not declared in", r.stderr)
        self.assertIn("did you mean 'acme'? (tenant names are compared exactly)", r.stderr)
        r = run("tenants", "key", "create", "acme", "--file", self.file, "--expires", "soon")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--expires 'soon'", r.stderr)
        self.assertEqual(run("tenants", "key", "create", "acme").returncode, 2)  # no --file
        self.assertEqual(run("tenants", "key", "create", "acme", "--file", self.file + ".missing").returncode, 3)
        with open(self.file, "a") as f:
            f.write("  - name: acme\n")
        r = run("tenants", "check", self.file)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"{self.file}:5:5: error: tenant 'acme' is declared twice", r.stderr)
        r = run("tenants", "key", "create", "acme", "--file", self.file)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")  # no key printed for a key that was not stored

    def test_keys_must_be_the_last_section_to_append(self):
        with open(self.file, "w") as f:
            f.write("keys:\ntenants:\n  - name: acme\n")
        before = Path(self.file).read_text()
        r = run("tenants", "key", "create", "acme", "--file", self.file)
        self.assertEqual(r.returncode, 1)  # the file's layout, not I/O
        self.assertIn("keys: must be the last section", r.stderr)
        self.assertEqual(Path(self.file).read_text(), before)

    def test_an_empty_flow_list_of_keys_takes_the_first_key(self):
        # `keys: []` is how many write "none yet"; the first key turns it into a block list.
        with open(self.file, "a") as f:
            f.write("keys: [ ]  # none yet")
        self.assertEqual(run("tenants", "check", self.file).returncode, 0)
        first = run("tenants", "key", "create", "acme", "--file", self.file)
        self.assertEqual(first.returncode, 0, first.stderr)
        second = run("tenants", "key", "create", "acme", "--file", self.file)
        self.assertEqual(second.returncode, 0, second.stderr)
        text = Path(self.file).read_text()
        self.assertIn("keys:   # none yet\n  - {tenant: acme, id: ", text)
        self.assertEqual(text.count("- {tenant: acme"), 2)
        r = run("tenants", "check", self.file)
        self.assertEqual(r.stdout, f"{self.file}: 2 tenants, 2 keys\n")

    def test_a_flow_list_with_keys_is_named_as_such(self):
        self.create("acme")
        head, entry = Path(self.file).read_text().split("keys:\n")
        Path(self.file).write_text(head + "keys: [" + entry.strip()[2:] + "]\n")
        self.assertEqual(run("tenants", "check", self.file).returncode, 0)
        before = Path(self.file).read_text()
        r = run("tenants", "key", "create", "acme", "--file", self.file)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, f"sovgw tenants key create: {self.file}:5:7: keys: is a flow list ([...]): write "
                                   "it as a block list, one '- {...}' per line, for keys to be appended\n")
        self.assertEqual(Path(self.file).read_text(), before)

    def test_layouts_an_appended_line_cannot_extend_are_refused_before_a_key_exists(self):
        # Probe round 37: a flow-style file or one ending in '...' got "add it by hand" and an entry
        # whose key was never printed; a byte order mark before `keys: []` read as a flow list.
        for text, message in (("{tenants: [{name: acme}], keys: []}\n", ":1:1: the file is one flow mapping"),
                              ("tenants:\n  - name: acme\nkeys:\n...\n", ": the file ends with the document end "
                                                                           "marker '...'")):
            Path(self.file).write_text(text)
            self.assertEqual(run("tenants", "check", self.file).returncode, 0)
            r = run("tenants", "key", "create", "acme", "--file", self.file)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(r.stdout, "")
            self.assertIn(self.file + message, r.stderr)
            self.assertNotIn("by hand", r.stderr)
            self.assertEqual(Path(self.file).read_text(), text)
        Path(self.file).write_bytes(b"\xef\xbb\xbftenants:\n  - name: acme\nkeys: []\n")
        r = run("tenants", "key", "create", "acme", "--file", self.file)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("sk-sovgw-"))
        self.assertEqual(run("tenants", "check", self.file).stdout, f"{self.file}: 1 tenant, 1 key\n")

    def test_a_folder_others_may_write_is_refused(self):
        # They could not edit the file, but could replace it with one that gives them a key.
        os.chmod(self.dir.name, 0o777)
        r = run("tenants", "check", self.file)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stderr, f"sovgw tenants check: {self.file}: the tenants file's folder {self.dir.name} "
                                   f"(mode 0777) lets group or others replace the file (and so add keys); run "
                                   f"`chmod go-w {self.dir.name}`\n")
        os.chmod(self.dir.name, 0o1777)  # sticky, as /tmp: only the owner may replace it
        self.assertEqual(run("tenants", "check", self.file).returncode, 0)

    def test_probe_round_39_wording(self):
        # `keys: []` becomes `keys:` with no space left at the end of its line.
        with open(self.file, "a") as f:
            f.write("keys: []\n")
        self.create("acme")
        self.assertIn("\nkeys:\n  - {tenant: acme", Path(self.file).read_text())
        # A duration of nothing, or in seconds, is told as such, not as a malformed time.
        for text, message in (("0d", "--expires '0d': a duration must be at least 1 (90d, 12h, 30m)"),
                              ("0m", "--expires '0m': a duration must be at least 1 (90d, 12h, 30m)"),
                              ("1s", "--expires '1s': seconds are not a unit here: give minutes, hours or days "
                                     "(30m, 12h, 90d)")):
            r = run("tenants", "key", "create", "acme", "--file", self.file, "--expires", text)
            self.assertEqual(r.returncode, 2, text)
            self.assertIn(message, r.stderr)

    def test_a_key_whose_entry_has_another_id_is_named_at_revoke(self):
        # Probe round 39: an entry whose id: is not its key's (a copy-paste) could not be revoked by
        # the leaked key's id, and revoking it by the whole key named only the wrong id.
        key = self.create("acme")
        other = self.create("globex")
        text = Path(self.file).read_text()
        lines = text.splitlines(keepends=True)
        # the acme entry takes the globex key's id, and the globex entry goes
        lines = [line.replace(key[:17], "sk-sovgw-Wrong1d0") for line in lines if other[:17] not in line]
        Path(self.file).write_text("".join(lines))
        r = run("tenants", "key", "revoke", key[:17], "--file", self.file)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("an entry whose id: is not its key's first 17 characters is found by the whole key", r.stderr)
        r = run("tenants", "key", "revoke", key, "--file", self.file)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(key[17:], r.stdout + r.stderr)
        self.assertIn(f"the key given starts with {key[:17]} but its entry (line 6) says id: sk-sovgw-Wrong1d0: "
                      f"correct the id", r.stderr)


if __name__ == "__main__":
    unittest.main()
