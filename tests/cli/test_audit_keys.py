"""Key custody with the real CLI: the auditor's key goes to a directory of its own; with only the
gateway's keys and the database no command opens a payload; unsafe key files and an audit
directory others can enter are not made or used."""

import os
import shutil
import stat
import unittest

from test_audit_support import audit_case, sovgw


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


class key_custody_test(audit_case):
    def test_keys_init_puts_the_auditor_key_apart_and_says_where(self):
        out = sovgw("keys", "init", os.path.join(self.tmp, "gw"), check=0).stdout
        auditor_dir = os.path.join(self.tmp, "gw-auditor")
        self.assertIn(f"the auditor's secret key is in {auditor_dir}/auditor.key", out)
        self.assertIn("belongs OFF the gateway host", out)
        self.assertEqual(sorted(os.listdir(os.path.join(self.tmp, "gw"))),
                         ["auditor.pub", "kek.key", "signing.key", "signing.pub"])
        self.assertEqual(sorted(os.listdir(auditor_dir)), ["auditor.key", "signing.pub"])
        for d in (os.path.join(self.tmp, "gw"), auditor_dir):
            self.assertEqual(mode(d), 0o700, d)
        self.assertEqual(mode(os.path.join(auditor_dir, "auditor.key")), 0o600)
        chosen = os.path.join(self.tmp, "offline", "auditors")
        out = sovgw("keys", "init", os.path.join(self.tmp, "gw2"), f"--auditor-dir={chosen}", check=0).stdout
        self.assertIn(f"{chosen}/auditor.key", out)
        self.assertTrue(os.path.exists(os.path.join(chosen, "auditor.key")))
        p = sovgw("keys", "init", os.path.join(self.tmp, "gw3"), "--auditor-dir", os.path.join(self.tmp, "gw3", "a"),
                  check=2)  # a mistake in what was asked (exit 2), not in the file system
        self.assertIn("is inside the gateway's key directory", p.stderr)

    def test_the_gateway_keys_and_the_database_open_no_payload(self):
        self.append(10)
        self.assertFalse(os.path.exists(os.path.join(self.keys, "auditor.key")))
        # Everything the gateway host holds, tried as the key that opens payloads: none does.
        for name in sorted(os.listdir(self.keys)):
            p = sovgw("audit", "show", "--db", self.db, "--seq", "1", "--auditor-key", os.path.join(self.keys, name))
            self.assertIn(p.returncode, (1, 2, 3), name)  # 2: a public key named for the secret one
            self.assertNotIn("--- prompt", p.stdout, name)
        p = sovgw("audit", "show", "--db", self.db, "--seq", "1", "--auditor-key", self.auditor_key, check=0)
        self.assertIn("--- prompt (", p.stdout)

    def test_a_restarted_writer_seals_new_payloads_the_auditor_opens(self):
        self.append(4, run_name="before")
        self.append(4, run_name="after")
        for seq in ("1", "5"):
            sovgw("audit", "show", "--db", self.db, "--seq", seq, "--auditor-key", self.auditor_key, check=0)

    def test_the_audit_database_directory_is_0700(self):
        self.append(1)
        self.assertEqual(mode(self.db), 0o700)

    def test_a_world_readable_private_key_is_refused(self):
        self.append(1)
        os.chmod(self.auditor_key, 0o644)
        p = sovgw("audit", "show", "--db", self.db, "--seq", "0", "--auditor-key", self.auditor_key, check=3)
        self.assertIn(f"refusing to use secret key {self.auditor_key}: its mode 0644", p.stderr)
        self.assertIn("chmod 600", p.stderr)
        os.chmod(os.path.join(self.keys, "signing.key"), 0o644)
        p = sovgw("audit", "append", "--db", self.db, "--keys", self.keys, "--synthetic", "1", check=3)
        self.assertIn("signing.key: its mode 0644", p.stderr)

    def test_a_key_file_given_in_the_wrong_place_and_numbers_out_of_range_are_named(self):
        # Probe round 40: --checkpoint signing.pub said "malformed signed note", --pubkey signing.key
        # "not a signed-note verifier key"; a 20-digit --old "must be a non-negative integer" and a huge
        # --older-than "cannot read".
        self.append(3)
        p = sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--checkpoint", self.pub, check=2)
        self.assertIn("this is a public key file (a signing.pub: give it to --pubkey), not a checkpoint", p.stderr)
        secret = os.path.join(self.keys, "signing.key")
        p = sovgw("audit", "verify", "--db", self.db, "--pubkey", secret, check=2)
        self.assertIn(f"{secret} is a secret key file, not the public key", p.stderr)
        p = sovgw("audit", "prove", "--db", self.db, "--old", "99999999999999999999", check=2)
        self.assertIn("--old is out of range", p.stderr)
        self.assertNotIn("non-negative integer", p.stderr)
        p = sovgw("audit", "retain", "--db", self.db, "--keys", self.keys, "--older-than", "99999999999d", check=2)
        self.assertIn("--older-than 99999999999d is out of range", p.stderr)

    def test_a_public_key_given_for_the_auditor_key_is_named_as_such(self):
        self.append(3)
        for key, what in ((os.path.join(self.keys, "auditor.pub"), "the auditor's auditor.pub"),
                          (self.pub, "a checkpoint verifier key")):
            p = sovgw("audit", "show", "--db", self.db, "--seq", "0", "--auditor-key", key)
            self.assertEqual(p.returncode, 2, p.stderr)  # the wrong file named: bad usage, not unreadable
            self.assertIn(f"{key} is a public key ({what}): give the auditor's secret key, auditor.key", p.stderr)
            self.assertNotIn("chmod", p.stderr)  # its mode is right for a public key
            p = sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--payloads", "--auditor-key", key)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn(f"{key} is a public key ({what})", p.stderr)
        other = os.path.join(self.tmp, "notes.txt")
        with open(other, "w") as f:
            f.write("hello\n")
        p = sovgw("audit", "show", "--db", self.db, "--seq", "0", "--auditor-key", other)
        self.assertIn(f"{other} is not a sovgw secret key file", p.stderr)
        self.assertNotIn("chmod", p.stderr)

    def test_a_public_key_others_can_write_is_refused(self):
        self.append(1)
        os.chmod(self.pub, 0o666)
        p = sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, check=3)
        self.assertIn(f"refusing to use public key {self.pub}: its mode 0666 lets group or others change it",
                      p.stderr)
        self.assertIn("chmod go-w", p.stderr)
        os.chmod(self.pub, 0o644)
        os.chmod(os.path.join(self.keys, "auditor.pub"), 0o620)
        p = sovgw("audit", "append", "--db", self.db, "--keys", self.keys, "--synthetic", "1", check=3)
        self.assertIn("auditor.pub: its mode 0620", p.stderr)
        # A folder named as the key is named as a folder, whatever its mode (/tmp is 1777).
        p = sovgw("audit", "verify", "--db", self.db, "--pubkey", "/tmp", check=3)
        self.assertIn("the public key file /tmp is a directory, not a file", p.stderr)

    def test_a_writer_refuses_a_key_directory_holding_the_auditor_key(self):
        shutil.copy(self.auditor_key, os.path.join(self.keys, "auditor.key"))
        p = sovgw("audit", "append", "--db", self.db, "--keys", self.keys, "--synthetic", "1", check=3)
        self.assertIn("belongs off the gateway host", p.stderr)
        self.assertFalse(os.path.exists(self.db))


if __name__ == "__main__":
    unittest.main()
