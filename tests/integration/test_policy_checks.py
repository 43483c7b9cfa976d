"""One check of a policy against the gateway it runs in, with the same verdict everywhere: `sovgw policy
check --clusters CONFIG`, `sovgw config check CONFIG`, `sovgw serve` at start and every SIGHUP reload
prove the invariants on the configured clusters, cross-check the clusters routes name and the tenants
rules name, and show (or log) the policy's warnings. Start refuses a failing policy (exit 2, every
problem as file:line:col); a reload keeps the last good policy and logs the file and the problems."""

import os
import signal
import subprocess
import unittest

from support import (SOVGW, Gateway, TempDir, chat_request, cluster_yaml, exchange, gateway_yaml, make_certs,
                     start_standin, wait_until)

GOOD = """rules:
  - {id: forbid-sanctioned, effect: forbid, when: {client.country: [SANCTIONED]}}
  - {id: permit-internal, effect: permit, when: {client.country: [private]}}
country_sets:
  SANCTIONED: [RU, BY]
invariants:
  - id: sanctioned-denied
    for: {client.country: [SANCTIONED]}
    require: {effect: deny}
"""
# Everyone permitted, the forbid forgotten: the invariant fails.
VIOLATED = GOOD.replace("  - {id: forbid-sanctioned, effect: forbid, when: {client.country: [SANCTIONED]}}\n", "").replace(
    "{id: permit-internal, effect: permit, when: {client.country: [private]}}", "{id: permit-all, effect: permit}")
VIOLATION = ("error: invariant 'sanctioned-denied' is violated: counterexample {\"client.country\":\"BY\"}; "
             "decision: permit rules [permit-all] clusters [paris]; violation: the request is permitted")
TYPO_CLUSTER = GOOD.replace("rules:\n", "rules:\n  - {id: pin, effect: restrict, route: {cluster: [pariss]}}\n")
TYPO_TENANT = GOOD.replace("rules:\n", "rules:\n  - {id: pin, effect: restrict, when: {tenant: [acmee]}, "
                                       "route: {cluster: [paris]}}\n")
WARNED = GOOD.replace("rules:\n", "data_classes:\n  public: {permit_on_declaration: true}\nrules:\n  - {id: "
                                  "public-anywhere, effect: permit, when: {data.class: [public]}}\n")
TENANTS = "tenants:\n  - name: acme\n  - name: globex\n"


def run(*args):
    return subprocess.run([SOVGW, *args], capture_output=True, text=True, timeout=120)


def position(text, needle):
    """line:col of `needle` in `text`, as the checks report it."""
    lines = text.splitlines()
    i = next(n for n, line in enumerate(lines) if needle in line)
    return f"{i + 1}:{lines[i].index(needle) + 1}"


class PolicyChecksTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.certs = make_certs(os.path.join(cls.tmp.path, "certs"))
        cls.standin = start_standin(cls.certs)
        cls.tenants = os.path.join(cls.tmp.path, "tenants.yaml")
        with open(cls.tenants, "w") as f:
            f.write(TENANTS)
        os.chmod(cls.tenants, 0o600)

    @classmethod
    def tearDownClass(cls):
        cls.standin.stop()
        cls.tmp.cleanup()

    def deployment(self, name, policy_text, tenants=False):
        """A policy file and a gateway config that runs it; their paths."""
        policy = os.path.join(self.tmp.path, f"{name}.policy.yaml")
        with open(policy, "w") as f:
            f.write(policy_text)
        extra = f"policy: {policy}\n" + (f"tenants: {self.tenants}\n" if tenants else "")
        config = os.path.join(self.tmp.path, f"{name}.gateway.yaml")
        with open(config, "w") as f:
            f.write(gateway_yaml(self.certs, cluster_yaml("paris", f"127.0.0.1:{self.standin.port}", self.certs),
                                 extra=extra))
        return policy, config

    def refused_everywhere(self, policy, config, errors):
        """policy check --clusters, config check and serve all refuse, each naming every error."""
        r = run("policy", "check", policy, "--clusters", config)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("FAILED", r.stdout)
        r = run("config", "check", config)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(r.stderr, "".join(f"{policy}:{e}\n" for e in errors))
        r = run("serve", "--config", config)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertEqual(r.stderr, "".join(f"{policy}:{e}\n" for e in errors))

    def test_a_violated_invariant_is_refused_everywhere(self):
        policy, config = self.deployment("violated", VIOLATED)
        r = run("policy", "check", policy, "--clusters", config)
        self.assertIn("VIOLATED  sanctioned-denied", r.stdout)
        self.refused_everywhere(policy, config, [f"{position(VIOLATED, 'id: sanctioned-denied')}: {VIOLATION}"])

    def test_a_route_to_an_undefined_cluster_is_refused_everywhere(self):
        policy, config = self.deployment("typo-cluster", TYPO_CLUSTER)
        # The misspelled name is the one error, with the name it meant; that the route then admits
        # no cluster is its consequence, not a second error said first (probe round 25).
        self.refused_everywhere(policy, config, [
            f"{position(TYPO_CLUSTER, 'pariss')}: error: route of rule 'pin' names cluster 'pariss', which the config "
            "does not define; did you mean 'paris'?"])

    def test_tenants_the_tenants_file_does_not_declare_are_refused_everywhere(self):
        policy, config = self.deployment("typo-tenant", TYPO_TENANT, tenants=True)
        self.refused_everywhere(policy, config, [
            f"{position(TYPO_TENANT, 'acmee')}: error: rule 'pin' names tenant 'acmee', which the tenants file "
            f"{self.tenants} does not declare: it never matches; did you mean 'acme'?"])
        # Without a tenants file, the names are only held to the tenant-name syntax.
        policy, config = self.deployment("typo-tenant-no-file", TYPO_TENANT)
        self.assertEqual(run("config", "check", config).returncode, 0)

    def test_files_others_could_change_are_refused_everywhere(self):
        # Who may change the policy may permit anything; the tenants file, give themselves a key; a CA
        # bundle, add a CA. A file others may write, one in a folder they may write (they could replace
        # it), or reached through a link into such a folder is refused, however it is named.
        policy, config = self.deployment("loose", GOOD)
        os.chmod(policy, 0o666)
        r = run("config", "check", config)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(f"refusing the policy file {policy}: the file {policy} (mode 0666) lets group or others change it",
                      r.stderr)
        self.assertEqual(run("serve", "--config", config).returncode, 2)
        # Group write by the owner's own private group (umask 002: root:root here) lets nobody else in.
        os.chmod(policy, 0o664)
        self.assertEqual(run("config", "check", config).returncode, 0, run("config", "check", config).stderr)
        os.chmod(policy, 0o644)
        self.assertEqual(run("config", "check", config).returncode, 0)
        open_dir = os.path.join(self.tmp.path, "open")
        os.makedirs(open_dir, exist_ok=True)
        os.chmod(open_dir, 0o777)
        for name, target in (("policy", policy), ("tenants", self.tenants)):
            with self.subTest(name=name):
                moved = os.path.join(open_dir, f"{name}.yaml")
                with open(target) as src, open(moved, "w") as dst:
                    dst.write(src.read())
                os.chmod(moved, 0o600)
                link = os.path.join(self.tmp.path, f"{name}.link.yaml")
                if os.path.lexists(link):
                    os.remove(link)
                os.symlink(moved, link)
                extra = f"policy: {link if name == 'policy' else policy}\ntenants: {link if name == 'tenants' else self.tenants}\n"
                linked = os.path.join(self.tmp.path, f"{name}.linked.gateway.yaml")
                with open(linked, "w") as f:
                    f.write(gateway_yaml(self.certs, cluster_yaml("paris", f"127.0.0.1:{self.standin.port}", self.certs),
                                         extra=extra))
                if name == "policy":
                    os.chmod(moved, 0o606)
                r = run("config", "check", linked)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                self.assertIn(f"its folder {open_dir} (mode 0777) lets group or others replace what is in it", r.stderr)
                if name == "policy":  # every problem on the way in one run: the folder, and the file
                    self.assertIn(f"the file {moved} (mode 0606) lets group or others change it", r.stderr)
                    os.chmod(moved, 0o600)
        # A folder link (a deploy's `current -> releases/r1`) kept in a folder others may write: they
        # could point it at another release, or at their own policy.
        releases = os.path.join(self.tmp.path, "releases", "r1")
        os.makedirs(releases, exist_ok=True)
        with open(policy) as src, open(os.path.join(releases, "policy.yaml"), "w") as dst:
            dst.write(src.read())
        current = os.path.join(open_dir, "current")
        if not os.path.lexists(current):
            os.symlink(releases, current)
        deployed = os.path.join(self.tmp.path, "deployed.gateway.yaml")
        with open(deployed, "w") as f:
            f.write(gateway_yaml(self.certs, cluster_yaml("paris", f"127.0.0.1:{self.standin.port}", self.certs),
                                 extra=f"policy: {current}/policy.yaml\n"))
        r = run("config", "check", deployed)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(f"its folder {open_dir} (mode 0777) lets group or others replace what is in it", r.stderr)
        os.chmod(open_dir, 0o755)
        self.assertEqual(run("config", "check", deployed).returncode, 0)
        os.chmod(open_dir, 0o777)
        # A CA bundle for a cluster.
        ca = os.path.join(self.certs, "ca.pem")
        mode = os.stat(ca).st_mode & 0o777
        os.chmod(ca, 0o666)
        try:
            r = run("config", "check", config)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn(f"{ca} (mode 0666) lets group or others change it", r.stderr)
        finally:
            os.chmod(ca, mode)

    def test_warnings_are_shown_by_every_check_and_logged_by_the_gateway(self):
        policy, config = self.deployment("warned", WARNED)
        warning = (f"{policy}:{position(WARNED, '{id: public-anywhere')}: warning: permit rule 'public-anywhere' "
                   "is granted by a client's own declaration of 'public' (permit_on_declaration): any client may "
                   "declare it, whatever its body holds\n")
        r = run("policy", "check", policy, "--clusters", config)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stderr, warning)
        r = run("config", "check", config)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stderr, warning)
        with open(config) as f:
            g = Gateway(f.read(), self.tmp.path)
        self.addCleanup(g.stop)
        logged = g.wait_for_json(lambda o: o.get("msg") == "the policy has warnings")
        self.assertEqual(logged["warnings"], warning)
        self.assertEqual(logged["file"], policy)

    def test_a_reload_that_fails_a_check_keeps_the_last_good_policy(self):
        policy, config = self.deployment("reloaded", GOOD, tenants=True)
        with open(config) as f:
            g = Gateway(f.read(), self.tmp.path)
        self.addCleanup(g.stop)
        version = g.wait_for_json(lambda o: o.get("msg") == "listening")["policy_version"]
        def failures():
            return [o for o in g.logs() if o.get("msg", "").startswith("policy reload failed")]

        for n, (text, error) in enumerate((
                (VIOLATED, f"{position(VIOLATED, 'id: sanctioned-denied')}: {VIOLATION}"),
                (TYPO_TENANT, f"{position(TYPO_TENANT, 'acmee')}: error: rule 'pin' names tenant 'acmee'"),
                (TYPO_CLUSTER, f"{position(TYPO_CLUSTER, 'pariss')}: error: route of rule 'pin' names cluster "
                               "'pariss'")), 1):
            with open(policy, "w") as f:
                f.write(text)
            g.signal(signal.SIGHUP)
            self.assertTrue(wait_until(lambda: len(failures()) == n), g.logs())
            failed = failures()[-1]
            self.assertEqual(failed["file"], policy)
            self.assertEqual(failed["version"], version)
            self.assertIn(f"{policy}:{error}", failed["errors"])
        self.assertFalse(any(o.get("msg") == "policy reloaded" for o in g.logs()))
        # The last good policy still decides: an internal client is served.
        key = run("tenants", "key", "create", "acme", "--file", self.tenants)
        self.assertEqual(key.returncode, 0, key.stderr)
        g.signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: len(failures()) == 4), g.logs())
        request = chat_request(extra_headers={"Authorization": f"Bearer {key.stdout.strip()}"})
        self.assertEqual(exchange(g.port, self.certs, request).status, 200)

    def test_sigterm_does_not_wait_for_a_reload_in_progress(self):
        # A policy whose proofs cover 8 times some 13 million request classes (4096 data-class states
        # x 8 methods x 41 tenants x 5 models x 2 countries): about 20 s of work for a reload here.
        # SIGTERM drains at once and the proofs are abandoned, not waited for.
        classes = [f"c{i}" for i in range(12)]
        tenants = [f"t{i}" for i in range(40)]
        heavy = ("data_classes:\n" + "".join(f"  {c}: {{}}\n" for c in classes) +
                 "rules:\n  - id: forbid-many\n    effect: forbid\n    when:\n"
                 f"      tenant: [{', '.join(tenants)}]\n"
                 "      method: [GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS]\n"
                 "      model: [m1, m2, m3, m4]\n"
                 f"      data.class: [{', '.join(classes)}]\n"
                 "      client.country: [FR]\n"
                 "invariants:\n" + "".join(f"  - {{id: all-denied-{i}, require: {{effect: deny}}}}\n" for i in range(8)))
        policy, config = self.deployment("heavy", GOOD)
        with open(config) as f:
            g = Gateway(f.read(), self.tmp.path)
        self.addCleanup(g.stop)
        with open(policy, "w") as f:
            f.write(heavy)
        g.signal(signal.SIGHUP)
        g.wait_for_json(lambda o: o.get("msg") == "reloading")
        g.signal(signal.SIGTERM)
        self.assertEqual(g.proc.wait(timeout=60), 0)
        g._reader.join(timeout=5)
        messages = [o.get("msg") for o in g.logs()]
        self.assertIn("stopped", messages)
        self.assertIn("policy reload abandoned: the gateway is stopping", messages)
        self.assertNotIn("policy reloaded", messages)
        self.assertLess(messages.index("draining"), messages.index("policy reload abandoned: the gateway is stopping"))


if __name__ == "__main__":
    unittest.main()
