"""`sovgw config check` and `sovgw serve --config` on files that cannot be read or parsed: the same
exit codes and messages as the policy tools."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

from test_audit_support import BUILD_DIR, SOURCE_DIR, SOVGW

POLICY_WITH_TAB = "version: 1\nrules:\n\t- id: a\n    effect: permit\n"


def run(*args, cwd=None):
    return subprocess.run([SOVGW, *args], capture_output=True, text=True, timeout=60, cwd=cwd)


class config_check_test(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.default = run("config", "default").stdout
        self.assertIn("tls:", self.default)

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_a_tab_in_the_indentation_is_named_by_both_checkers(self):
        lines = self.default.split("\n")
        # audit.payload indented with a tab instead of its spaces (yaml-cpp alone: "end of map not found"
        # at column 2), and a cluster's country (yaml-cpp alone: "end of sequence not found").
        n = next(i for i, line in enumerate(lines) if line.startswith("  payload:"))
        lines[n] = "\t" + lines[n][2:]
        config = self.write("tab.yaml", "\n".join(lines))
        r = run("config", "check", config)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(r.stderr, f"{config}:{n + 1}:1: YAML syntax error: illegal tab when looking for indentation\n")
        r = run("serve", "--config", config)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertEqual(r.stderr, f"{config}:{n + 1}:1: YAML syntax error: illegal tab when looking for indentation\n")
        policy = self.write("policy.yaml", POLICY_WITH_TAB)  # yaml-cpp alone: "illegal block entry"
        r = run("policy", "check", policy)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(r.stderr, f"{policy}:3:1: error: YAML syntax error: illegal tab when looking for "
                                   "indentation\n")
        lines = self.default.split("\n")
        n = next(i for i, line in enumerate(lines) if line.startswith("    country:"))
        lines[n] = "\t" + lines[n][2:]
        config = self.write("tab-in-a-list.yaml", "\n".join(lines))
        self.assertEqual(run("config", "check", config).stderr,
                         f"{config}:{n + 1}:1: YAML syntax error: illegal tab when looking for indentation\n")
        config = self.write("tab-seq.yaml", POLICY_WITH_TAB)
        self.assertEqual(run("config", "check", config).stderr,
                         f"{config}:3:1: YAML syntax error: illegal tab when looking for indentation\n")

    def test_a_second_yaml_document_is_refused_in_every_file_kind(self):
        """Every reader used to take the first document and drop the rest without a word."""
        second = "---\npolicy: /nonexistent\n"
        message = ("error: a second YAML document is not supported: a file holds one document (remove this "
                   "'---' and what follows, or merge it into the first)")
        lines = self.default.count("\n")
        config = self.write("config.yaml", self.default + second)
        for argv, code in ((["config", "check", config], 1), (["serve", "--config", config], 2)):
            r = run(*argv)
            self.assertEqual(r.returncode, code, r.stderr)
            self.assertEqual(r.stderr, f"{config}:{lines + 1}:1: {message[len('error: '):]}\n")
        policy = self.write("policy.yaml", "rules: []\n---\nrules:\n  - {id: a, effect: permit}\n")
        r = run("policy", "check", policy)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stderr, f"{policy}:2:1: {message}\n")
        # After the first document's end marker, not a '---' (probe round 34: "remove this '---'").
        ended = self.write("ended.yaml", "---\nrules: []\n...\nrules:\n  - {id: a, effect: permit}\n")
        r = run("policy", "check", ended)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("this follows its end marker '...'", r.stderr)
        self.assertNotIn("'---'", r.stderr)
        good_policy = self.write("good.yaml", "rules:\n  - {id: a, effect: permit}\n")
        tests = self.write("tests.yaml", "tests: []\n--- # more tests\ntests: []\n")
        r = run("policy", "test", good_policy, tests)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stderr, f"{tests}:2:1: {message}\n")
        clusters = self.write("clusters.yaml", "clusters:\n  - {name: a, endpoints: [\"h:1\"], country: FR, "
                                               "operator_jurisdiction: FR}\n---\n")
        r = run("policy", "check", good_policy, "--clusters", clusters)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stderr, f"{clusters}:3:1: {message}\n")
        tests = self.write("tests2.yaml", "clusters: clusters.yaml\ntests:\n  - {name: t, request: {}, expect: {effect: permit}}\n")
        r = run("policy", "test", good_policy, tests)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stderr, f"{clusters}:3:1: {message}\n")
        tenants = self.write("tenants.yaml", "tenants:\n  - name: acme\n---\ntenants:\n  - name: globex\n")
        os.chmod(tenants, 0o600)
        r = run("tenants", "check", tenants)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertTrue(r.stderr.startswith(f"{tenants}:3:1: {message}\n"), r.stderr)

    def test_an_audit_db_that_is_a_file_is_named_at_its_key(self):
        # serve would refuse it (a lock file cannot go in it): config check says so first.
        lines = self.default.split("\n")
        n = next(i for i, line in enumerate(lines) if line.startswith("  db:"))
        not_a_folder = self.write("not-a-folder", "x")
        lines[n] = f"  db: {not_a_folder}"
        config = self.write("dbfile.yaml", "\n".join(lines))
        r = run("config", "check", config)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(f"{config}:{n + 1}:7: audit.db {not_a_folder} is a file, not a folder", r.stderr)

    def test_an_audit_db_serve_could_not_make_or_would_share_is_named_at_its_key(self):
        # Probe round 34: config check said ok to both; serve failed on the first and wrote the log
        # among the second's files.
        lines = self.default.split("\n")
        n = next(i for i, line in enumerate(lines) if line.startswith("  db:"))
        other = os.path.join(self.dir, "other")
        os.makedirs(other)
        self.write(os.path.join("other", "notes.txt"), "hello")
        for db, message in (("/proc/sovgw-audit", "audit.db /proc/sovgw-audit cannot be created: /proc takes no "
                                                  "new folder"),
                            (other, f"audit.db {other} holds other files (notes.txt) and no audit log: the log "
                                    "needs a folder of its own")):
            lines[n] = f"  db: {db}"
            config = self.write("db.yaml", "\n".join(lines))
            r = run("config", "check", config)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn(f"{config}:{n + 1}:7: {message}", r.stderr)
        self.assertEqual(os.listdir(other), ["notes.txt"])
        # An empty folder, or a missing one under a folder that exists, is made into the log.
        for db in (os.path.join(self.dir, "empty"), os.path.join(self.dir, "new", "audit")):
            os.makedirs(os.path.join(self.dir, "empty"), exist_ok=True)
            lines[n] = f"  db: {db}"
            config = self.write("db.yaml", "\n".join(lines))
            r = run("config", "check", config)
            self.assertNotIn("audit.db", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "new")))

    def test_every_missing_file_is_named_at_its_key_in_one_run(self):
        # Probe round 35: the default config copied into an empty folder named four missing files;
        # once they were there, a second run named three more (the request-signing key, the audit
        # keys, the admin token), without line:col.
        r = run("config", "check", self.write("default.yaml", self.default), cwd=self.dir)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        lines = self.default.split("\n")
        for key, what in (("certificate:", "tls.certificate"), ("private_key:", "tls.private_key"),
                          ("policy:", "policy"), ("tenants:", "tenants"), ("key:", "signing.key"),
                          ("keys:", "audit.keys"), ("token_file:", "admin.token_file")):
            with self.subTest(key=what):
                n = next(i for i, line in enumerate(lines) if line.strip().startswith(key))
                column = lines[n].index(key) + len(key) + 2
                self.assertRegex(r.stderr, rf"(?m)^{re.escape(self.dir)}/default.yaml:{n + 1}:{column}: "
                                           rf"{re.escape(what)}: cannot open \S+: No such file or directory$")

    def test_a_key_or_token_file_that_cannot_be_used_is_named_at_its_key(self):
        # Probe round 39 left alone: a key file that exists but cannot be used (a missing kek.key in
        # audit.keys, an unsafe mode, a short token) was named without line:col by config check and
        # serve, unlike every other problem of the file.
        certs = os.path.join(self.dir, "certs")
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "certs", "make-dev-certs.sh")
        subprocess.run([script, certs], check=True, capture_output=True, timeout=60)
        keys = os.path.join(self.dir, "keys")
        subprocess.run([SOVGW, "keys", "init", keys], check=True, capture_output=True, timeout=60)
        os.remove(os.path.join(keys, "kek.key"))
        http_key, hmac_key = os.path.join(self.dir, "http.key"), os.path.join(self.dir, "hmac.key")
        subprocess.run([SOVGW, "keys", "http-new", http_key], check=True, capture_output=True, timeout=60)
        subprocess.run([SOVGW, "keys", "hmac-new", hmac_key], check=True, capture_output=True, timeout=60)
        os.chmod(http_key, 0o644)
        os.chmod(hmac_key, 0o640)
        token = self.write("admin.token", "short\n")
        os.chmod(token, 0o600)
        bearer = self.write("bearer", "sk-cluster\n")
        os.chmod(bearer, 0o604)
        text = f"""listen: {{address: 127.0.0.1, port: 0}}
tls: {{certificate: {certs}/gateway.pem, private_key: {certs}/gateway.key}}
admin: {{address: 127.0.0.1, port: 0, token_file: {token}}}
audit: {{db: {self.dir}/db, keys: {keys}}}
signing:
  key: {http_key}
  cluster_hmac_keys: {{b: {hmac_key}}}
clusters:
  - {{name: a, endpoints: ["127.0.0.1:9"], country: FR, operator_jurisdiction: FR, on_premises: true,
     models: ["*"], tls: {{ca: {certs}/ca.pem}}}}
  - name: b
    endpoints: ["127.0.0.1:9"]
    country: FR
    operator_jurisdiction: FR
    on_premises: true
    tls: {{ca: {certs}/ca.pem}}
    auth: {{bearer_file: {bearer}}}
"""
        config = self.write("keys.yaml", text)
        lines = text.split("\n")

        def at(needle, what):
            n = next(i for i, line in enumerate(lines) if needle in line)
            return f"{config}:{n + 1}:{lines[n].index(needle) + 1}: {what}"

        expected = [at(bearer, f"cluster 'b': {bearer}: the credential file is accessible by group or others"),
                    at(http_key, f"signing.key: refusing to use secret key {http_key}: its mode 0644"),
                    at(keys, f"audit.keys: cannot open secret key {keys}/kek.key: No such file or directory"),
                    at(token, f"admin.token_file {token} must hold one token of at least 32 characters")]
        r = run("config", "check", config)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        for line in expected:
            self.assertIn(line, r.stderr)
        # serve stops at the first, in the same words, as an environment problem.
        r = run("serve", "--config", config)
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertIn(expected[0], r.stderr)
        # The signing keys are read in turn: with signing.key fixed, a cluster's hmac key.
        os.chmod(http_key, 0o600)
        r = run("config", "check", config)
        self.assertIn(at(hmac_key, f"signing.cluster_hmac_keys.b: refusing to use secret key {hmac_key}: its mode 0640"),
                      r.stderr)

    def test_a_secret_pasted_where_its_file_belongs_is_not_echoed(self):
        # Probe round 29: `token_file: <the token>` was printed back whole by config check.
        certs = os.path.join(self.dir, "certs")
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "certs", "make-dev-certs.sh")
        subprocess.run([script, certs], check=True, capture_output=True, timeout=60)
        # Probe round 36: a secret holding '/' (a base64 key) or a space (a pasted header value) too.
        for secret in ("c60cab5e9f2d4b7a8e1f0d3c6b9a2e5dab", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                       "'Bearer sk-proj-4f9Ab82kQz7T1mXw'"):
            with self.subTest(secret=secret):
                config = self.write("secret.yaml", f"""listen: {{address: 127.0.0.1, port: 0}}
tls: {{certificate: {certs}/gateway.pem, private_key: {certs}/gateway.key}}
admin: {{address: 127.0.0.1, port: 0, token_file: {secret}}}
clusters:
  - {{name: a, endpoints: ["127.0.0.1:9"], country: FR, operator_jurisdiction: FR, on_premises: true,
     models: ["*"], tls: {{ca: {certs}/ca.pem}}}}
""")
                r = run("config", "check", config, cwd=self.dir)
                self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertNotIn(secret.strip("'")[4:], r.stdout + r.stderr)
                self.assertIn(f"'{secret.strip(chr(39))[:4]}...' (this looks like a secret, not a file name", r.stderr)

    def test_a_config_others_could_change_is_refused_and_its_values_are_shown_escaped(self):
        config = self.write("open.yaml", self.default)
        os.chmod(config, 0o666)
        r = run("config", "check", config)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(f"refusing the configuration file {config}: the file {config} (mode 0666) lets group or others "
                      "change it", r.stderr)
        self.assertEqual(run("serve", "--config", config).returncode, 2)
        # A value quoted in a message cannot forge a line or reorder what follows.
        lines = self.default.split("\n")
        n = next(i for i, line in enumerate(lines) if line.startswith("  - name:"))
        lines[n] = '  - name: "de\\u202e\\r\\nX-Evil: 1"'
        config = self.write("bidi.yaml", "\n".join(lines))
        r = run("config", "check", config)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("cluster name 'de\\u202e\\r\\nX-Evil: 1' is not a name", r.stderr)
        self.assertNotIn("\u202e", r.stderr)

    def test_a_number_in_quotes_is_named_as_the_string_it_is(self):
        config = self.write("quoted.yaml", self.default.replace("  port: 8443", '  port: "8443"', 1))
        r = run("config", "check", config)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertRegex(r.stderr, rf'{config}:7:9: listen.port must be a whole number, not the string "8443" '
                                   r'\(remove the quotes\)')
        # A boolean in quotes likewise (probe round 22: accepted), and a negative number is out of range.
        quoted = self.default.replace("on_premises: true", 'on_premises: "true"', 1)
        config = self.write("quoted-bool.yaml", quoted)
        r = run("config", "check", config)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn('on_premises must be true or false, not the string "true" (remove the quotes)', r.stderr)
        config = self.write("negative.yaml", self.default.replace("  port: 8443", "  port: -1", 1))
        r = run("config", "check", config)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(f"{config}:7:9: listen.port must be between 0 and 65535, not -1", r.stderr)
        tenants = self.write("tenants.yaml", "tenants:\n  - name: acme\n    limits:\n      requests_per_minute: '600'\n")
        r = run("tenants", "check", tenants)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(f"{tenants}:4:28: error: limits.requests_per_minute must be a whole number, not the string \"600\"",
                      r.stderr)

    def test_a_number_with_a_leading_zero_is_refused(self):
        # Probe round 34: 048300 and threads: 010 were read as decimal; YAML 1.1 tools read them as octal.
        config = self.write("zero.yaml", self.default.replace("  port: 8443", "  port: 08443", 1))
        r = run("config", "check", config)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(f"{config}:7:9: listen.port must be a whole number, not '08443' (no leading zero: YAML 1.1 "
                      "tools read 010 as the octal 8)", r.stderr)
        tenants = self.write("tenants.yaml", "tenants:\n  - name: acme\n    limits:\n      requests_per_minute: 0600\n")
        r = run("tenants", "check", tenants)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("limits.requests_per_minute must be a whole number from 1 to 10^12, not '0600'", r.stderr)

    def test_an_option_without_its_value_does_not_take_the_next_option(self):
        r = run("audit", "query", "--db", self.dir, "--since", "--limit", "10")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("option '--since' needs a value", r.stderr)

    def test_a_missing_file_is_exit_3_with_the_reason(self):
        missing = os.path.join(self.dir, "nowhere.yaml")
        for argv, what in ((["config", "check", missing], "configuration"), (["serve", "--config", missing],
                                                                             "configuration"),
                           (["policy", "check", missing], "policy")):
            r = run(*argv)
            self.assertEqual(r.returncode, 3, argv)
            self.assertEqual(r.stderr, f"{missing}: cannot open the {what} file: No such file or directory\n")
        os.mkdir(os.path.join(self.dir, "adir"))
        r = run("config", "check", os.path.join(self.dir, "adir"))
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)

    def test_every_command_refuses_an_unknown_argument(self):
        r = run("version", "--bogus")
        self.assertEqual(r.returncode, 2, r.stdout)
        self.assertIn("unexpected argument '--bogus'", r.stderr)
        self.assertEqual(run("version").returncode, 0)
        self.assertTrue(run("version", "--help").stdout.startswith("usage: sovgw version"))
        # The overview lists every audit subcommand, the report among them.
        self.assertIn("report", run("--help").stdout)


if __name__ == "__main__":
    unittest.main()


class reference_config_test(unittest.TestCase):
    """docs/configuration.md's reference block, with every file it names made: `config check` says ok
    (probe round 32: a loopback endpoint under on_premises: false, a region and a cluster the policy
    it names did not know)."""

    def test_the_reference_configuration_passes_config_check(self):
        with open(os.path.join(SOURCE_DIR, "docs", "configuration.md"), encoding="utf-8") as f:
            doc = f.read()
        blocks = re.findall(r"```yaml\n(.*?)```", doc, re.S)
        reference, tenants = blocks[0], next(b for b in blocks if b.startswith("tenants:"))
        with tempfile.TemporaryDirectory() as d:
            etc, var = os.path.join(d, "etc", "sovgw"), os.path.join(d, "var", "lib")
            for folder in (etc, os.path.join(var, "GeoIP"), os.path.join(var, "sovgw"),
                           os.path.join(d, "examples", "policies")):
                os.makedirs(folder)
            script = os.path.join(SOURCE_DIR, "certs", "make-dev-certs.sh")
            subprocess.run([script, os.path.join(d, "certs", "out")], check=True, capture_output=True, timeout=60)
            shutil.copy(os.path.join(SOURCE_DIR, "examples", "policies", "eu_policy.yaml"),
                        os.path.join(d, "examples", "policies"))
            subprocess.run([os.path.join(BUILD_DIR, "tests", "unit", "policy", "write_mmdb"),
                            os.path.join(var, "GeoIP", "GeoLite2-Country.mmdb"), "4", "9.9.9.0/24=FR"],
                           check=True, capture_output=True, timeout=60)
            for name in ("admin.token", "paris.token"):
                with open(os.open(os.path.join(etc, name), os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                    f.write("0123456789abcdef" * 4 + "\n")
            with open(os.open(os.path.join(etc, "tenants.yaml"), os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                parts = tenants.split("blake2b-256:…")
                f.write(parts[0] + "".join(f"blake2b-256:{n:064x}{rest}" for n, rest in enumerate(parts[1:], 1)))
            for args in (("keys", "init", os.path.join(etc, "keys")),
                         ("keys", "http-new", os.path.join(etc, "http-signing.key")),
                         ("keys", "hmac-new", os.path.join(etc, "paris.hmac")),
                         ("keys", "pseudonym-new", os.path.join(etc, "pseudonym.key"))):
                r = run(*args, cwd=d)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            # signing.publish: the next key's public half, as a rotation publishes it.
            r = run("keys", "http-new", os.path.join(d, "next-signing.key"), cwd=d)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            r = run("keys", "http-public", os.path.join(d, "next-signing.key"), "--format", "jwk", cwd=d)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            with open(os.path.join(etc, "next-signing.jwk"), "w") as f:
                f.write(r.stdout)
            config = reference.replace("/etc/sovgw", etc).replace("/var/lib", var)
            config = config.replace("x.pem", "certs/out/client.pem").replace("x.key", "certs/out/client.key")
            path = os.path.join(d, "gw.yaml")
            with open(path, "w") as f:
                f.write(config)
            r = run("config", "check", path, cwd=d)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(r.stderr, "")  # not a warning either

            # The one config error that had no position: a cluster left no endpoint it may use is named at
            # its first endpoint, file:line:col like the others.
            config = config.replace("    on_premises: true ", "    on_premises: false")
            with open(path, "w") as f:
                f.write(config)
            line = next(n for n, text in enumerate(config.split("\n"), 1) if '["127.0.0.1:9443"]' in text)
            r = run("config", "check", path, cwd=d)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn(f"{path}:{line}:17: cluster 'standin-paris' has no endpoint it may use: 127.0.0.1 is a "
                          "loopback or private address and cluster 'standin-paris' is not on_premises\n", r.stderr)
