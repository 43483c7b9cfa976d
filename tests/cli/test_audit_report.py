"""`sovgw audit report`: the sovereignty report of a log the real gateway wrote, rendered in headless
Chromium as a person would see it (every section, no console error, no fetch, a screenshot and a
print), its JSON checked against the records themselves, a tampered log reported in red, the
period options and the usage errors."""

import collections
import csv
import datetime
import io
import json
import os
import re
import shutil
import socket
import stat
import tempfile
import unittest
from html import unescape

import report_log
from chromium_page import Page
from test_audit_support import SOVGW, TAMPER, audit_case, read_file, run, sovgw, write_file

SECTIONS = ["verification", "summary", "flows", "decisions", "denials-by-rule", "policies", "tenants", "evidence",
            "recent-denials"]


def outcome(r):
    if r["error_kind"] == "policy_denied" or r["decision"] in ("deny", "forbid"):
        return "denied"
    return "failed" if r["error_kind"] else "permitted"


def reached(r):
    """Whether the request reached its cluster: an endpoint recorded, or (older records) an outcome
    only a cluster that was sent the request gives."""
    after_sending = ("", "upstream_timeout", "upstream_reset", "upstream_protocol", "upstream_reset_mid_body",
                     "upstream_stream_timeout", "upstream_bad_chunking")
    return outcome(r) != "denied" and bool(r["endpoint"] or (r["cluster"] and r["error_kind"] in after_sending))


class gateway_log_report_test(unittest.TestCase):
    """One log written by the gateway (report_log.py), shared by the tests of this class."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sovgw-report-")
        cls.log = report_log.make_log(os.path.join(cls.tmp, "demo"), requests=120)
        records = sovgw("audit", "query", "--db", cls.log["db"], "--scan", "--format", "jsonl", check=0).stdout
        cls.records = [json.loads(line) for line in records.splitlines()]
        cls.requests = [r for r in cls.records if r["kind"] == "request"]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def report(self, *args, check=0):
        return sovgw("audit", "report", "--db", self.log["db"], "--pubkey", self.log["pubkey"], "--policy",
                     self.log["policy"], *args, check=check)

    def test_the_log_has_what_the_report_is_about(self):
        outcomes = collections.Counter(outcome(r) for r in self.requests)
        self.assertEqual(len(self.requests), 120)
        self.assertGreater(outcomes["permitted"], 40)
        self.assertGreater(outcomes["denied"], 10)
        self.assertGreater(outcomes["failed"], 0)
        listings = [r for r in self.requests if r["path"] == "/v1/models"]
        self.assertEqual((len(listings), {outcome(r) for r in listings}, {r["cluster"] for r in listings}),
                         (3, {"permitted"}, {""}))
        self.assertEqual(len({r["policy_version"] for r in self.requests if r["policy_version"]}), 2)

    def test_the_report_renders_in_chromium_with_every_section_and_no_console_error(self):
        html = os.path.join(self.tmp, "report.html")
        png = os.path.join(self.tmp, "report.png")
        self.report("--out", html)
        with Page() as page:
            page.load(html)
            sections = json.loads(page.evaluate(
                "JSON.stringify(Array.from(document.querySelectorAll('body > section'))"
                ".map(s => [s.id, s.innerText.trim().length, s.getBoundingClientRect().height]))"))
            banner = page.evaluate("document.querySelector('#verification .banner').innerText")
            bands = page.evaluate("document.querySelectorAll('#flows svg path').length")
            bars = page.evaluate("document.querySelectorAll('#decisions svg rect').length")
            text = page.evaluate("document.body.innerText")
            size = page.screenshot(png)
            pdf = page.print_pdf()
            self.assertEqual(page.problems(), [])
        self.assertEqual([s[0] for s in sections], SECTIONS)
        for name, length, height in sections:
            self.assertGreater(length, 40, name)
            self.assertGreater(height, 40, name)
        self.assertIn("The log verifies: 120 records", banner)
        self.assertGreater(bands, 5)
        self.assertGreater(bars, 1)
        self.assertIn("Requests from sanctioned countries are refused.", text)  # a reason from --policy
        self.assertIn("forbid-unapproved-models", text)  # the rule only the second version has
        self.assertIn("km of the gateway", text)  # the RTT distance bound of the evidence section
        with open(png, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        self.assertGreater(size["height"], 1500)
        self.assertTrue(pdf.startswith(b"%PDF"))

    def test_the_page_fetches_nothing(self):
        page = self.report().stdout  # without --out: on stdout
        self.assertIn("Content-Security-Policy\" content=\"default-src 'none'", page)
        self.assertIsNone(re.search(r"""(src|href)\s*=|url\(|@import|<script|<link""", page, re.IGNORECASE))

    def test_the_json_aggregates_match_the_records(self):
        j = json.loads(self.report("--format", "json").stdout)
        self.assertTrue(j["ok"])
        self.assertEqual(j["verification"]["records"], len(self.records))
        self.assertEqual(j["records_in_period"], len(self.records))
        counts = collections.Counter(outcome(r) for r in self.requests)
        self.assertEqual(j["outcomes"], {"requests": len(self.requests), **{k: counts[k] for k in
                                                                            ("permitted", "denied", "failed")}})
        self.assertEqual(sum(b["requests"] for b in j["series"]["buckets"]), len(self.requests))
        self.assertEqual(sum(b["denied"] for b in j["series"]["buckets"]), counts["denied"])

        flows = collections.Counter()
        for r in self.requests:
            dest = ("refused" if outcome(r) == "denied" else r["cluster_country"] if reached(r) else
                    "answered by the gateway" if outcome(r) == "permitted" and not r["cluster"] else "not served")
            flows[(r["client_country"] or "unknown", dest, tuple(sorted(r["data_classes"])))] += 1
        self.assertEqual({(f["client_country"], f["destination"], tuple(f["data_classes"])): f["requests"]
                          for f in j["flows"]}, dict(flows))
        # The model listings the gateway answered itself are not failures before a cluster (round 12, L7).
        self.assertEqual(sum(n for (c, dest, k), n in flows.items() if dest == "answered by the gateway"), 3)

        tenants = collections.defaultdict(collections.Counter)
        for r in self.requests:
            tenants[r["tenant"]][outcome(r)] += 1
        self.assertEqual({t["tenant"]: (t["requests"], t["permitted"], t["denied"], t["failed"]) for t in j["tenants"]},
                         {t: (sum(c.values()), c["permitted"], c["denied"], c["failed"]) for t, c in tenants.items()})
        # Redactions per tenant, from the records (version 3 carries them).
        redactions = collections.Counter()
        for r in self.requests:
            redactions[r["tenant"]] += r["redactions"]
        self.assertEqual({t["tenant"]: t["redactions"] for t in j["tenants"]}, dict(redactions))

        versions = collections.Counter(r["policy_version"] for r in self.requests)
        self.assertEqual({v["version"]: v["requests"] for v in j["policy_versions"]}, dict(versions))
        given = [v for v in j["policy_versions"] if v["given_policy"]]
        self.assertEqual(len(given), 1)
        self.assertEqual(given[0]["version"], j["policy"]["version"])

        # A denial decided under the given policy's version counts under the forbid rules its record
        # names; else, when a permit matched, under the restrict rules that left no cluster; else it is
        # a default deny. One decided under another version counts under every rule it names.
        denied = [r for r in self.requests if outcome(r) == "denied"]
        effects = dict(re.findall(r"- id: (\S+)\n\s+effect: (\w+)", read_file(self.log["policy"])))
        by_rule, default, other = collections.Counter(), 0, 0
        by_kind = collections.Counter(r["error_kind"] for r in denied if r["error_kind"] not in ("", "policy_denied"))
        self.assertEqual({d["error_kind"]: d["denials"] for d in j["denials_by_kind"]}, dict(by_kind))
        denied = [r for r in denied if r["error_kind"] in ("", "policy_denied")]  # the rules' denials
        for r in denied:
            given = r["policy_version"] == j["policy"]["version"]
            forbids = [x for x in r["rule_ids"] if effects.get(x) == "forbid"]
            permitted = any(effects.get(x) == "permit" for x in r["rule_ids"])
            deciding = (r["rule_ids"] if not given else
                        forbids or ([x for x in r["rule_ids"] if effects.get(x) != "permit"] if permitted else []))
            by_rule.update((x, given) for x in deciding)
            default += 0 if deciding else 1
            other += 0 if given else 1
        self.assertEqual({(d["rule"], d["by_given_policy"]): d["denials"] for d in j["denials_by_rule"]},
                         dict(by_rule))
        self.assertEqual((j["default_denials"], j["denials_other_versions"]), (default, other))
        self.assertGreater(by_rule[("forbid-sanctioned-origins", True)], 0)
        self.assertGreater(other, 0)
        self.assertTrue(all(d["reason"] and d["effect"] == (effects[d["rule"]] if d["by_given_policy"] else None)
                            for d in j["denials_by_rule"]))
        bare = json.loads(sovgw("audit", "report", "--db", self.log["db"], "--pubkey", self.log["pubkey"], "--format",
                                "json", check=0).stdout)
        self.assertEqual({d["rule"]: d["denials"] for d in bare["denials_by_rule"]},
                         dict(collections.Counter(x for r in denied for x in r["rule_ids"])))
        denied = [r for r in self.requests if outcome(r) == "denied"]
        newest = sorted(denied, key=lambda r: (r["time"], r["seq"]), reverse=True)[:20]
        self.assertEqual([d["request_id"] for d in j["recent_denials"]], [r["request_id"] for r in newest])

        served = collections.Counter(r["cluster"] for r in self.requests if reached(r))
        self.assertEqual({e["cluster"]: e["requests"] for e in j["evidence"]}, dict(served))
        # The evidence of where each cluster served: the endpoints the records name, where their addresses
        # geolocate (loopback: the report's clusters are on-premises) and the loosest RTT distance bound.
        for e in j["evidence"]:
            served_by = [r for r in self.requests if r["cluster"] == e["cluster"] and reached(r)]
            forwarded = [r for r in served_by if r["endpoint"]]
            self.assertTrue(forwarded, e["cluster"])
            self.assertEqual(sorted(e["endpoints"]), sorted({r["endpoint"] for r in forwarded}))
            self.assertEqual(e["verified_country"], "private")
            # ... and the addresses the connections went to, each with where it alone geolocates
            self.assertEqual(e["addresses"], ["127.0.0.1 private"])
            self.assertEqual(e["addresses_not_listed"], 0)
            bounds = [r["distance_bound_km"] for r in served_by if r["endpoint_rtt_us"]]
            self.assertEqual(len(bounds), len(forwarded))  # every forwarded request has its bound
            self.assertEqual(e["requests_with_distance_bound"], len(bounds))
            self.assertEqual((e["max_distance_km"], e["min_distance_km"]), (max(bounds), min(bounds)))
        for r in self.requests:
            # rtt/2 x 200 km/ms, rounded up: rtt_us / 10 km
            self.assertEqual(r["distance_bound_km"], -(-r["endpoint_rtt_us"] // 10))

    def test_a_rule_the_given_policy_does_not_define_is_never_a_default_deny(self):
        # A reload renamed the sanctions rule: the file given now was never in force for any record.
        # The denials that name the old id are counted under it, effect unknown, and the page says
        # that the records were decided under other versions (probe round 12, M2).
        renamed = os.path.join(self.tmp, "renamed.yaml")
        write_file(renamed, read_file(self.log["policy"]).replace("forbid-sanctioned-origins", "forbid-sanctioned-v2"))
        j = json.loads(sovgw("audit", "report", "--db", self.log["db"], "--pubkey", self.log["pubkey"], "--policy",
                             renamed, "--format", "json", check=0).stdout)
        denied = [r for r in self.requests if outcome(r) == "denied"]
        sanctions = sum("forbid-sanctioned-origins" in r["rule_ids"] for r in denied)
        self.assertGreater(sanctions, 0)
        rules = {(d["rule"], d["by_given_policy"]): d for d in j["denials_by_rule"]}
        self.assertEqual(rules[("forbid-sanctioned-origins", False)]["denials"], sanctions)
        self.assertIsNone(rules[("forbid-sanctioned-origins", False)]["effect"])
        self.assertNotIn("forbid-sanctioned-v2", {d["rule"] for d in j["denials_by_rule"]})
        self.assertEqual(j["default_denials"], sum(not r["rule_ids"] for r in denied))
        self.assertEqual(j["denials_other_versions"], len(denied))
        page = sovgw("audit", "report", "--db", self.log["db"], "--pubkey", self.log["pubkey"], "--policy", renamed,
                     check=0).stdout
        row = re.search(r"<tr><td><code>forbid-sanctioned-origins</code></td><td>(.*?)</td>", page)
        self.assertIn("unknown (not in --policy)", row.group(1))
        # A rule the given file has, decided under another version: its reason is said to be the given
        # version's words (probe round 20).
        known = [d["rule"] for d in j["denials_by_rule"]
                 if not d["by_given_policy"] and f"id: {d['rule']}\n" in read_file(renamed)]
        self.assertGreater(len(known), 0)
        for rule in known:
            row = re.search(rf"<tr><td><code>{re.escape(rule)}</code></td>.*?</tr>", page)
            self.assertIn("its reason in the version given with --policy", row.group(0))
        self.assertIn(f"{len(denied)} of the denials were decided under another policy version than", page)
        decided = sum(bool(r["policy_version"]) for r in self.requests)
        self.assertIn(f"{decided} requests were decided under another policy version than", page)

    def test_the_denials_footnote_says_the_attribution_the_counts_use(self):
        # Probe round 37: with a --policy of another version, the counts were "every rule the record
        # names", but the footnote described the forbid/restrict attribution of a matching policy.
        def page(*policy):
            return sovgw("audit", "report", "--db", self.log["db"], "--pubkey", self.log["pubkey"], *policy,
                         check=0).stdout
        deciding = "counts under the rules that made it: the forbid rules its record names"
        every = "counts under every rule its record names (permits and restrictions included)."
        edited = os.path.join(self.tmp, "edited.yaml")
        write_file(edited, read_file(self.log["policy"]) + "# edited: same rules, another version\n")
        other = page("--policy", edited)
        self.assertIn("None of these denials was decided under the policy version given with --policy, so each "
                      + every, other)
        self.assertNotIn(deciding, other)
        # The log holds two versions: the one given counts by the deciding rules, the other by every rule.
        mixed = page("--policy", self.log["policy"])
        self.assertIn("A denial decided under the policy version given with --policy " + deciding, mixed)
        self.assertIn("One decided under another version " + every, mixed)
        self.assertIn("Without --policy a denial " + every, page())

    def test_without_a_policy_the_rules_table_does_not_say_a_rule_denied(self):
        # Probe round 38 (tester 3, #4): without --policy a restrict rule named by denied records was
        # listed under "Denials by rule" with a 100% share, though it denied nothing.
        without = sovgw("audit", "report", "--db", self.log["db"], "--pubkey", self.log["pubkey"], check=0).stdout
        section = re.search(r'<section id="denials-by-rule">(.*?)</section>', without, re.S).group(1)
        self.assertIn("<h2>Rules named by denied requests</h2>", section)
        self.assertNotIn("Denials by rule", section)
        self.assertIn("cannot tell which rule denied", section)
        self.assertIn("may have denied nothing", section)
        self.assertIn("unknown (give --policy)", section)
        given = sovgw("audit", "report", "--db", self.log["db"], "--pubkey", self.log["pubkey"], "--policy",
                      self.log["policy"], check=0).stdout
        self.assertIn("<h2>Denials by rule</h2>", given)
        self.assertNotIn("cannot tell which rule denied", given)

    def test_csv_carries_every_field_jsonl_does(self):
        out = sovgw("audit", "query", "--db", self.log["db"], "--scan", "--format", "csv", check=0).stdout
        rows = list(csv.reader(io.StringIO(out, newline="")))
        header = rows[0]
        self.assertEqual(header[:27], [
            "seq", "time", "kind", "request_id", "tenant", "client_country", "country_source", "client_ip", "method",
            "path", "model", "data_classes", "decision", "rule_ids", "policy_version", "cluster", "cluster_country",
            "status", "bytes_in", "bytes_out", "latency_us", "prompt_tokens", "completion_tokens", "error_kind",
            "payload", "payload_sha256", "note"])  # the columns before the evidence, in their order
        self.assertEqual(sorted(header), sorted(self.records[0].keys()))
        self.assertEqual(len(rows) - 1, len(self.records))
        for row, record in zip(rows[1:], self.records):
            expected = {k: ";".join(v) if isinstance(v, list) else str(v).lower() if isinstance(v, bool) else str(v)
                        for k, v in record.items()}
            self.assertEqual(dict(zip(header, row)), expected)
        forwarded = [r for r in self.requests if r["endpoint"]]
        self.assertTrue(forwarded and all(r["endpoint_rtt_us"] > 0 and r["distance_bound_km"] > 0 for r in forwarded))

    def test_a_denial_in_the_table_can_be_proved(self):
        j = json.loads(self.report("--format", "json").stdout)
        request_id = j["recent_denials"][0]["request_id"]
        proof = os.path.join(self.tmp, "denial.tlog-proof")
        write_file(proof, sovgw("audit", "prove", "--db", self.log["db"], "--request-id", request_id, check=0).stdout)
        out = sovgw("audit", "verify-proof", proof, "--pubkey", self.log["pubkey"], check=0).stdout
        self.assertIn("OK: record", out)


class report_options_test(audit_case):
    def report(self, *args, db=None, check=None):
        return sovgw("audit", "report", "--db", db or self.db, "--pubkey", self.pub, *args, check=check)

    def test_an_output_never_overwrites_the_log_or_an_input(self):
        # An auditor's typo must not destroy the evidence or a trust anchor they hold.
        self.append(10)
        before = sorted(os.listdir(self.db))
        current = read_file(os.path.join(self.db, "CURRENT"))
        for args in (("--out", os.path.join(self.db, "CURRENT")), ("--out", os.path.join(self.db, "new.html")),
                     ("--out", self.pub), ("--out", self.db + ".checkpoint"),
                     ("--out", os.path.join(self.db, "..", os.path.basename(self.db) + ".checkpoint"))):
            with self.subTest(args=args):
                p = self.report(*args, check=2)
                self.assertIn("write it elsewhere", p.stderr)
        p = sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--save-checkpoint",
                  os.path.join(self.db, "CURRENT"), check=2)
        self.assertIn("is inside the audit log", p.stderr)
        p = sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--save-checkpoint", self.pub, check=2)
        self.assertIn("is the file given to --pubkey", p.stderr)
        self.assertEqual((sorted(os.listdir(self.db)), read_file(os.path.join(self.db, "CURRENT"))), (before, current))
        self.assertIn("OK: 10 records", sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, check=0).stdout)
        # Written beside and renamed over the name: a link, a FIFO or a device there would be replaced.
        # (Never a real device such as /dev/null here: a binary without the check, run as root,
        # would replace it.)
        fifo, link, sock = (os.path.join(self.tmp, name) for name in ("fifo", "link", "sock"))
        os.mkfifo(fifo)
        os.symlink(self.pub, link)
        listener = socket.socket(socket.AF_UNIX)
        self.addCleanup(listener.close)
        listener.bind(sock)
        for out, what in ((fifo, "a FIFO"), (link, "a symbolic link"), (sock, "a device or socket")):
            with self.subTest(out=out):
                p = sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--save-checkpoint", out, check=2)
                self.assertIn(f"--save-checkpoint {out} is {what}, not a regular file", p.stderr)
        self.assertTrue(os.path.islink(link) and stat.S_ISFIFO(os.stat(fifo).st_mode)
                        and stat.S_ISSOCK(os.stat(sock).st_mode))

    def test_since_and_until_bound_the_period_and_the_verification_stays_whole(self):
        self.append(1000)
        times = [json.loads(line)["time"] for line in
                 sovgw("audit", "query", "--db", self.db, "--scan", "--format", "jsonl", check=0).stdout.splitlines()]
        since, until = times[200], times[700]
        j = json.loads(self.report("--since", since, "--until", until, "--format", "json", check=0).stdout)
        self.assertEqual(j["records_in_period"], 500)
        self.assertEqual(j["outcomes"]["requests"], 500)
        self.assertEqual(j["verification"]["records"], 1000)
        self.assertEqual((j["period"]["since"], j["period"]["first"]), (since, since))

    def test_records_the_log_marks_synthetic_are_not_counted_as_traffic(self):
        # `audit append --synthetic` marks each record in its note: not a gateway request, so in no
        # figure, counted apart (probe round 12, M3).
        self.append(50)
        sovgw("audit", "append", "--db", self.db, "--keys", self.keys, "--synthetic", "30", "--run", "w1", check=0)
        j = json.loads(self.report("--format", "json", check=0).stdout)
        self.assertEqual(j["outcomes"]["requests"], 50)
        self.assertEqual((j["records_in_period"], j["unsigned_in_period"], j["synthetic_in_period"], j["events"]),
                         (81, 0, 30, 1))
        self.assertEqual(sum(b["requests"] for b in j["series"]["buckets"]), 50)
        self.assertEqual(sum(f["requests"] for f in j["flows"]), 50)
        self.assertEqual(sum(t["requests"] for t in j["tenants"]), 50)
        self.assertEqual(sum(v["requests"] for v in j["policy_versions"]), 50)
        self.assertTrue(all("w1-" not in d["request_id"] for d in j["recent_denials"]))
        page = self.report(check=0).stdout
        self.assertIn("30 synthetic records in the period, not gateway traffic", page)
        self.assertIn('<b style="color:var(--ink)">50</b><span>requests</span>', page)

    def test_callers_no_key_identified_are_not_counted_as_a_tenant(self):
        # Probe round 32 (finding 4): "2 tenants" at a glance when one was `default`, which only labels
        # requests no API key or certificate identified (a tenants file may not declare it).
        self.append(10)  # five tenants
        page = self.report(check=0).stdout
        self.assertIn('<b style="color:var(--ink)">5</b><span>tenants</span>', page)
        run(TAMPER, self.db, "append-with", self.keys, "tenant", "default", check=0)
        j = json.loads(self.report("--format", "json", check=0).stdout)
        self.assertEqual(j["identified_tenants"], 5)
        self.assertEqual({t["tenant"]: t["identified"] for t in j["tenants"]},
                         {"acme": True, "globex": True, "initech": True, "umbrella": True, "hooli": True,
                          "default": False})
        page = self.report(check=0).stdout
        self.assertIn('<b style="color:var(--ink)">5</b><span>tenants, plus unidentified callers</span>', page)
        self.assertIn("<tr><td><i>unidentified callers</i> (<code>default</code>: no API key or certificate "
                      'identified them)</td><td class="n">1</td>', page)

    def test_a_crypto_shred_event_names_its_tenant(self):
        # Whose data was erased is what a regulator asks first (probe round 12, L5).
        self.append(20)
        sovgw("audit", "shred", "--db", self.db, "--keys", self.keys, "--tenant", "acme", check=0)
        j = json.loads(self.report("--format", "json", check=0).stdout)
        self.assertEqual([(e["seq"], e["tenant"]) for e in j["recent_events"]], [(20, "acme")])
        self.assertTrue(j["recent_events"][0]["note"].startswith("crypto-shred: "))
        page = self.report(check=0).stdout
        self.assertRegex(page, r'<td class="n">20</td><td>acme</td><td>crypto-shred: ')

    def test_payload_figures_count_only_the_payloads_of_signed_records(self):
        # Records beyond every signed checkpoint are in no figure: their payloads neither (round 11, L1).
        self.append(40)
        self.append(5, run_name="late")
        run(TAMPER, self.db, "delete-checkpoints-from", "41", check=0)
        os.remove(self.db + ".checkpoint")
        j = json.loads(self.report("--payloads", "--format", "json", check=0).stdout)
        v = j["verification"]
        self.assertEqual((v["signed_records"], v["uncovered_records"]), (40, 5))
        self.assertEqual(v["payloads_checked"], 37)  # 3 of the 40 are denials, which store none
        self.assertEqual(v["payloads_unsigned"], 5)
        page = self.report("--payloads", check=0).stdout
        self.assertIn("its 37 stored payloads match their records", page)
        self.assertIn("5 stored for the unsigned records not checked", page)
        self.assertIsNone(json.loads(self.report("--format", "json", check=0).stdout)["verification"]
                          ["payloads_unsigned"])
        # verify --payloads counts as the report does.
        v = json.loads(sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--payloads", "--format",
                             "json", check=0).stdout)
        self.assertEqual((v["payloads_checked"], v["payloads_unsigned"]), (37, 5))
        text = sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--payloads", check=0).stdout
        self.assertIn("payloads: 37 stored payloads match", text)
        self.assertIn("5 more stored for the UNSIGNED records above: not checked", text)

    def test_a_tampered_log_is_reported_in_red_and_exits_1(self):
        self.append(300)
        copy = os.path.join(self.tmp, "tampered")
        shutil.copytree(self.db, copy)
        run(TAMPER, copy, "flip", "150", check=0)
        html = os.path.join(self.tmp, "tampered.html")
        r = self.report("--out", html, db=copy, check=1)
        self.assertTrue(r.stderr.startswith("sovgw audit report: FAILED: "), r.stderr)
        self.assertIn("does not verify", r.stderr)
        self.assertEqual(r.stdout, f"wrote the html report to {html} ({os.path.getsize(html)} bytes)\n")
        page = read_file(html)
        self.assertIn('<ul class="problems"><li>record 150:', page)
        # Records of a log that does not verify are read, not "verified".
        self.assertFalse("verified</dt>" in page, "a log that does not verify has records 'verified'")
        self.assertTrue(re.search(r'<dt>Records read</dt><dd class="bad">300 \(the whole log; \d+ in this '
                                  r"report's period\): verification FAILED, see the problems below</dd>", page),
                        "no 'Records read ...: verification FAILED'")
        with Page() as browser:
            browser.load(html)
            banner = json.loads(browser.evaluate(
                "(() => { const b = document.querySelector('#verification .banner');"
                " const s = getComputedStyle(b); return JSON.stringify([b.innerText, s.color, s.backgroundColor]); })()"))
            problem = browser.evaluate("getComputedStyle(document.querySelector('ul.problems')).color")
            self.assertEqual(browser.problems(), [])
        text, colour, background = banner
        self.assertIn("The log does NOT verify", text)
        self.assertEqual(background, "rgb(198, 40, 40)")  # red
        self.assertEqual(colour, "rgb(255, 255, 255)")  # readable on it
        self.assertEqual(problem, "rgb(198, 40, 40)")
        j = json.loads(self.report("--format", "json", db=copy, check=1).stdout)
        self.assertFalse(j["ok"])
        self.assertEqual(j["verification"]["first_bad_record"], 150)
        self.assertIn("record_altered", [p["kind"] for p in j["verification"]["problems"]])

    def test_records_under_failing_checkpoints_are_not_called_uncovered(self):
        for i in range(3):  # checkpoints at 100, 200 and 300
            self.append(100, run_name=f"s{i}")
        self.append(5, run_name="s3")  # 305: five records newer than every checkpoint...
        copy = os.path.join(self.tmp, "tampered")
        shutil.copytree(self.db, copy)
        run(TAMPER, copy, "flip", "150", check=0)  # ...and the checkpoints at 200, 300, 305 now fail
        html = os.path.join(self.tmp, "tampered.html")
        self.report("--out", html, db=copy, check=1)
        page = read_file(html)
        self.assertIn("The log does NOT verify (3 of 4 signed checkpoints fail verification)", page)
        self.assertIn('<dt>Checked against checkpoint</dt><dd class="bad">3 of 4 stored checkpoints FAIL '
                      "verification; the newest that verifies: test.sovgw.local/audit, size 100", page)
        self.assertIn("records 100..304 are covered only by checkpoints that fail", page)
        self.assertNotIn("not covered by a signed checkpoint yet", page)
        v = json.loads(self.report("--format", "json", db=copy, check=1).stdout)["verification"]
        self.assertEqual((v["checkpoints"], v["failed_checkpoints"], v["uncovered_records"]), (1, 3, 0))
        doc = json.loads(sovgw("audit", "verify", "--db", copy, "--pubkey", self.pub, "--format", "json",
                               check=1).stdout)
        self.assertEqual((doc["failed_checkpoints"], doc["uncovered_records"]), (3, 0))
        text = sovgw("audit", "verify", "--db", copy, "--pubkey", self.pub, check=1).stdout
        self.assertIn("3 of 4 stored checkpoints fail verification", text)
        # Records genuinely newer than every checkpoint are still called so: unsigned, so neither
        # counted as verified nor in any figure (whoever can write the database could have added them).
        run(TAMPER, self.db, "delete-checkpoints-from", "305", check=0)
        # (The checkpoint published beside the log still covers them: one held outside it does.)
        self.assertEqual(json.loads(self.report("--format", "json", check=0).stdout)["verification"]
                         ["uncovered_records"], 0)
        os.remove(self.db + ".checkpoint")
        j = json.loads(self.report("--format", "json", check=0).stdout)
        v = j["verification"]
        self.assertEqual((v["failed_checkpoints"], v["uncovered_records"], v["signed_records"]), (0, 5, 300))
        self.assertEqual((j["records_in_period"], j["unsigned_in_period"]), (305, 5))
        self.assertEqual(j["outcomes"]["requests"] + j["events"], 300)
        page = self.report(check=0).stdout
        self.assertIn("The log verifies: 300 records", page)
        self.assertIn("5 newer records, 300..304, are not covered by a signed checkpoint yet", page)
        text = sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, check=0).stdout
        self.assertIn("OK: 300 records, 3 signed checkpoints", text)
        self.assertIn("UNSIGNED: 5 newer records, 300..304, are covered by no signed checkpoint", text)
        doc = json.loads(sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--format", "json",
                               check=0).stdout)
        self.assertEqual((doc["records"], doc["signed_records"], doc["uncovered_records"]), (305, 300, 5))

    def test_a_kept_checkpoint_finds_a_clean_truncation_as_verify_does(self):
        for i in range(3):  # checkpoints at 100, 200 and 300
            self.append(100, run_name=f"s{i}")
        held = os.path.join(self.tmp, "held checkpoint")  # a space: the printed command quotes it
        proof = sovgw("audit", "prove", "--db", self.db, "--seq", "7", check=0).stdout
        write_file(held, proof)  # a proof file kept from the last visit carries its checkpoint
        ok = json.loads(self.report("--checkpoint", held, "--format", "json", check=0).stdout)
        # The one kept, and the one the writer published beside the store.
        # held_checkpoints is verify's list (docs/auditing.md): the same two, as verify prints them.
        self.assertEqual([c["size"] for c in ok["verification"]["held_checkpoints"]], [300, 300])
        doc = json.loads(sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--checkpoint", held,
                               "--format", "json", check=0).stdout)
        self.assertEqual(ok["verification"]["held_checkpoints"], doc["held_checkpoints"])
        self.assertEqual(ok["verification"]["held_from"],
                         [{"source": "checkpoint_option", "file": held, "size": 300, "verdict": "reproduced"},
                          {"source": "published", "file": self.db + ".checkpoint", "size": 300,
                           "verdict": "reproduced"}])
        self.assertTrue(ok["verification"]["tail_checked"])
        # The page's "re-check it yourself" command checks what the page checked, pasted as printed.
        page = self.report("--checkpoint", held, check=0).stdout
        command = unescape(re.search(r"Re-check it yourself: <code>(.*?)</code>", page).group(1))
        self.assertIn("--checkpoint", command)
        again = run("bash", "-c", command.replace("sovgw ", SOVGW + " ", 1), check=0).stdout
        self.assertIn("the checkpoint you hold (size 300) is reproduced", again)
        copy = os.path.join(self.tmp, "truncated")
        shutil.copytree(self.db, copy)
        run(TAMPER, copy, "truncate", "20", check=0)
        # Records, tree, indexes and checkpoints all cut, and no checkpoint beside the copy: it
        # verifies alone, but the report does not claim the end of the log was checked.
        alone = self.report(db=copy, check=0).stdout
        self.assertIn("none altered, missing or reordered up to its newest signed checkpoint (size 200)", alone)
        self.assertIn('<dt>End of the log</dt><dd class="warn">not checked', alone)
        self.assertFalse(json.loads(self.report("--format", "json", db=copy, check=0).stdout)
                         ["verification"]["tail_checked"])
        html = os.path.join(self.tmp, "truncated.html")
        self.report("--checkpoint", held, "--out", html, db=copy, check=1)
        self.assertIn("the log holds 280 records but the checkpoint you hold covers 300", read_file(html))
        self.assertIn("cannot read " + self.db, self.report("--checkpoint", self.db, check=3).stderr)

    def test_a_stale_outside_checkpoint_vouches_only_for_the_records_it_covers(self):
        # Probe round 29 (medium 1): a published checkpoint that stopped being updated at size 2, and
        # the newest records deleted with their stored checkpoints. verify dropped its note about
        # deleted records; the report said "none altered, missing or reordered" and "End of the log:
        # checked", as if the checkpoint kept outside the log covered the records after it.
        self.append(2, run_name="s0")
        stale = os.path.join(self.tmp, "stale.checkpoint")
        shutil.copy(self.db + ".checkpoint", stale)
        for i in range(4):
            self.append(2, run_name=f"s{i + 1}")  # checkpoints at 4, 6, 8 and 10
        newer = os.path.join(self.tmp, "newer.checkpoint")
        shutil.copy(self.db + ".checkpoint", newer)  # size 10
        run(TAMPER, self.db, "truncate", "4", check=0)  # 6 records left, checkpoints up to 6
        for held in ("published", "--checkpoint"):
            with self.subTest(held=held):
                if held == "published":
                    shutil.copy(stale, self.db + ".checkpoint")
                    args = ()
                else:
                    os.remove(self.db + ".checkpoint")
                    args = ("--checkpoint", stale)
                p = sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, *args, check=0)
                self.assertIn("OK: 6 records", p.stdout)
                self.assertRegex(p.stdout, r"note: the checkpoint (published at .*|you hold) \(size 2\) covers "
                                           r"records 0\.\.1 only \(the newest of them logged [0-9-]+T[0-9:.]+Z\): "
                                           r"records 2\.\.5 are covered only by checkpoints stored in the log")
                page = self.report(*args, check=0).stdout
                self.assertIn("none altered, missing or reordered up to its newest signed checkpoint (size 6)", page)
                self.assertRegex(page, r'<dt>End of the log</dt><dd class="warn">checked only up to size 2: [^<]*'
                                       r'(<code>[^<]*</code>[^<]*)?covers records 0..1 ')
                self.assertIn("records 2..5 are covered only by checkpoints stored in the log", page)
                doc = json.loads(self.report(*args, "--format", "json", check=0).stdout)
                self.assertFalse(doc["verification"]["tail_checked"])
                self.assertEqual([c["size"] for c in doc["verification"]["held_checkpoints"]], [2])
        # A log shorter than the checkpoint kept outside it: records missing, red, exit 1.
        p = sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--checkpoint", newer, check=1)
        self.assertIn("the log holds 6 records but the checkpoint you hold covers 10", p.stdout)
        page = self.report("--checkpoint", newer, check=1).stdout
        self.assertIn('<div class="banner bad">', page)
        self.assertIn("records_truncated", page)

    def test_a_checkpoint_newer_than_the_copy_vouches_for_none_of_its_records(self):
        # Probe round 25: a copy of a running log taken before its published checkpoint file (280
        # records, stored checkpoints up to 200, DB.checkpoint at 300). The report said its 80
        # unsigned records were left out of the figures ("0 in this report's period") and counted them.
        for i in range(3):
            self.append(100, run_name=f"s{i}")
        copy = os.path.join(self.tmp, "copy")
        shutil.copytree(self.db, copy)
        run(TAMPER, copy, "truncate", "20", check=0)
        shutil.copy(self.db + ".checkpoint", copy + ".checkpoint")
        doc = json.loads(self.report("--format", "json", db=copy, check=1).stdout)
        self.assertEqual(doc["verification"]["uncovered_records"], 80)
        self.assertEqual(doc["unsigned_in_period"], 80)
        self.assertEqual(doc["outcomes"]["requests"], 200)

    def test_the_records_verified_agree_with_the_checkpoints_they_were_checked_against(self):
        # The newest stored checkpoint (300) is gone; the one published beside the log still covers
        # every record: the page says which checkpoint vouches for which records (round 11, L8).
        for i in range(3):
            self.append(100, run_name=f"s{i}")
        run(TAMPER, self.db, "delete-checkpoints-from", "300", check=0)
        page = self.report(check=0).stdout
        self.assertIn("<dt>Records verified</dt><dd>300 (the whole log up to its newest signed checkpoint, size "
                      "300, one kept outside it; 300 in this report's period)</dd>", page)
        self.assertRegex(page, r"<dt>Checked against checkpoint</dt><dd>[^<]*, size 200, root <code>[^<]*</code> "
                               r"\(2 signed checkpoints stored in the log verified\); records 200..299 against the "
                               r"newer one kept outside it \(size 300\), which the log reproduces</dd>")
        os.remove(self.db + ".checkpoint")  # then the log vouches for its first 200 records only
        page = self.report(check=0).stdout
        self.assertIn("<dt>Records verified</dt><dd>200 (the whole log up to its newest signed checkpoint, size "
                      "200; 200 in this report's period)</dd>", page)

    def test_bad_usage_is_refused_with_a_clear_error(self):
        self.append(10)
        self.assertIn("--format must be html or json", self.report("--format", "pdf", check=2).stderr)
        self.assertIn("--since must be before --until",
                      self.report("--since", "2026-12-02", "--until", "2026-12-01", check=2).stderr)
        bad_policy = os.path.join(self.tmp, "bad.yaml")
        write_file(bad_policy, "version: 1\nrules:\n  - id: x\n    effect: maybe\n")
        self.assertRegex(self.report("--policy", bad_policy, check=2).stderr, r"bad\.yaml:4:\d+: error")
        self.assertIn("missing.yaml", self.report("--policy", os.path.join(self.tmp, "missing.yaml"), check=3).stderr)
        self.assertIn(os.path.join(self.tmp, "nolog"), self.report(db=os.path.join(self.tmp, "nolog"), check=3).stderr)

    def test_a_reason_cannot_reorder_or_forge_what_the_report_shows(self):
        # A bidi override in a rule's reason would reverse the rest of its table cell on screen and on
        # paper: shown as \u202e, as the CLI shows it.
        self.append(100)
        policy = os.path.join(self.tmp, "bidi.yaml")
        write_file(policy, "rules:\n  - id: no-us-personal-data\n    effect: forbid\n"
                           "    when: {client.country: [US]}\n    reason: \"Refused \\u202Eevoba\"\n"
                           "  - id: eu-default\n    effect: permit\n")
        # Such a reason is an error of the policy file (as for the gateway and policy check).
        p = self.report("--policy", policy, check=2)
        self.assertIn("bidi.yaml:5:13: error: reason holds U+202E", p.stderr)
        self.assertEqual(p.stdout, "")

    def test_checkpoints_that_fail_name_the_records_only_they_cover(self):
        # Probe round 29 (low 5): with the newest records deleted, the page said "records 200..199 are
        # covered only by checkpoints that fail".
        for i in range(3):
            self.append(100, run_name=f"s{i}")
        run(TAMPER, self.db, "delete-newest", "100", check=0)
        page = self.report(check=1).stdout
        self.assertRegex(page, r"the newest that verifies: [^<]*, size 200, root <code>[^<]*</code>; they cover "
                               r"records 200..299 too, which the log no longer holds</dd>")
        self.assertNotIn("200..199", page)

    def test_the_commands_the_page_gives_work_for_any_path(self):
        # Probe round 29 (low 6): a path holding ' or \ gave commands whose shell quoting had its
        # backslashes doubled; pasted into a shell, they named another file.
        self.append(100)
        weird = os.path.join(self.tmp, "we ird $(touch PWNED) `id` 'q' back\\slash")
        shutil.copytree(self.db, weird)
        pub = os.path.join(self.tmp, "key's \\ signing.pub")
        shutil.copy(self.pub, pub)
        page = sovgw("audit", "report", "--db", weird, "--pubkey", pub, check=0).stdout
        recheck = unescape(re.search(r"Re-check it yourself: <code>(.*?)</code>", page).group(1))
        again = run("bash", "-c", recheck.replace("sovgw ", SOVGW + " ", 1), cwd=self.tmp, check=0).stdout
        self.assertIn("OK: 100 records", again)
        prove = unescape(re.search(r"Prove any of them offline, e.g. the newest: <code>(.*?)</code>", page).group(1))
        proof = run("bash", "-c", prove.replace("sovgw ", SOVGW + " ", 1), cwd=self.tmp, check=0)
        self.assertTrue(os.path.getsize(os.path.join(self.tmp, "denial.tlog-proof")) > 0, proof.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "PWNED")))

    def test_out_dash_writes_to_standard_output(self):
        # Probe round 29 (low 12): `--out -` wrote a file named "-".
        self.append(10)
        p = run(SOVGW, "audit", "report", "--db", self.db, "--pubkey", self.pub, "--format", "json", "--out", "-",
                cwd=self.tmp, check=0)
        self.assertEqual(json.loads(p.stdout)["records_in_period"], 10)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "-")))

    def test_a_period_in_the_future_is_noted_as_query_notes_it(self):
        # Probe round 29 (low 13): `report --since` in the future exited silently with 0 requests.
        self.append(10)
        p = self.report("--since", "2999-01-01", "--format", "json", check=0)
        self.assertEqual(json.loads(p.stdout)["records_in_period"], 0)
        self.assertIn("note: --since is in the future: no record is that new yet", p.stderr)
        self.assertEqual(self.report("--since", "2020-01-01", "--format", "json", check=0).stderr, "")

    def recheck(self, page):
        """The page's "re-check it yourself" command, run as printed: its exit code and output."""
        command = unescape(re.search(r"Re-check it yourself: <code>(.*?)</code>", page).group(1))
        return command, run("bash", "-c", command.replace("sovgw ", SOVGW + " ", 1), cwd=self.tmp)

    def other_log(self, name, log_name):
        """A log of its own keys (KEYS name), 5 records, and its checkpoint saved: (pubkey, checkpoint)."""
        keys, db, cp = (os.path.join(self.tmp, f"{name}-{n}") for n in ("keys", "db", "checkpoint"))
        sovgw("keys", "init", keys, "--name", log_name, check=0)
        run(TAMPER, db, "append-synthetic", keys, name, 5, check=0)
        pub = os.path.join(keys, "signing.pub")
        sovgw("audit", "verify", "--db", db, "--pubkey", pub, "--save-checkpoint", cp, check=0)
        return pub, cp

    def test_the_recheck_command_reaches_the_verdict_of_the_page(self):
        # Probe round 39 (finding 1): a --checkpoint the log is not checked against (another log's, one
        # signed under its name by another key, one edited) made the page say the log does NOT verify,
        # and the command it printed left it out: pasted, it said OK.
        self.append(20)
        _, other = self.other_log("other", "other.sovgw.local/audit")
        _, rekeyed = self.other_log("rekeyed", "test.sovgw.local/audit")
        edited = os.path.join(self.tmp, "edited.checkpoint")
        shutil.copy(self.db + ".checkpoint", edited)
        lines = read_file(edited).split("\n")
        lines[2] = ("B" if lines[2][0] != "B" else "C") + lines[2][1:]  # the root
        write_file(edited, "\n".join(lines))
        for held, kind in ((other, "log_replaced"), (rekeyed, "signing_key_changed"), (edited, "checkpoint_invalid")):
            with self.subTest(kind=kind):
                page = self.report("--checkpoint", held, check=1).stdout
                self.assertIn(f"({kind})", page)
                self.assertIn("The log does NOT verify", page)
                command, again = self.recheck(page)
                self.assertIn(f"--checkpoint {held}", command)
                self.assertEqual(again.returncode, 1, command + "\n" + again.stdout)
                self.assertIn("FAILED", again.stdout)
                # The end of the log names the checkpoint given as not held.
                self.assertIn(f"the checkpoint given with <code>--checkpoint {held}</code> is not held", page)
                doc = json.loads(self.report("--checkpoint", held, "--format", "json", check=1).stdout)
                self.assertEqual([(n["source"], n["file"]) for n in doc["verification"]["not_held"]],
                                 [("checkpoint_option", held)])
        # The payloads: --payloads when the page checked them, and only then (the page's verdict).
        page = self.report(check=0).stdout
        command, again = self.recheck(page)
        self.assertNotIn("--payloads", command)
        self.assertEqual(again.returncode, 0)
        command, again = self.recheck(self.report("--payloads", check=0).stdout)
        self.assertTrue(command.endswith(" --payloads"), command)
        self.assertEqual(again.returncode, 0)

    def test_the_period_is_printed_as_query_reads_it(self):
        # Probe round 39 (finding 2): the period's bounds were cut to the second and not said to be
        # inclusive or exclusive: pasted into `audit query`, they took in records the report left out.
        self.append(10)
        times = [json.loads(line)["time"] for line in
                 sovgw("audit", "query", "--db", self.db, "--scan", "--format", "jsonl", check=0).stdout.splitlines()]
        since, until = times[2], times[7]
        self.assertRegex(since, r"\.\d{6}Z$")
        page = self.report("--since", since, "--until", until, check=0).stdout
        match = re.search(r"Period: from (\S+) \(inclusive\) to (\S+) \(exclusive\) \(records from (\S+) to (\S+)\)",
                          page)
        self.assertIsNotNone(match, re.search(r"Period: [^<]*", page).group(0))
        self.assertEqual(match.groups(), (since, until, since, times[6]))
        listed = sovgw("audit", "query", "--db", self.db, "--since", match.group(1), "--until", match.group(2),
                       "--format", "jsonl", check=0).stdout.splitlines()
        self.assertEqual(len(listed), 5)
        whole = self.report("--since", since[:19] + "Z", check=0).stdout
        self.assertIn(f"Period: from {since[:19]}Z (inclusive) to the end of the log", whole)

    def test_a_wrong_pubkey_is_said_first_and_the_published_checkpoint_named(self):
        # Probe round 39 (finding 3): with another log's key the page said no checkpoint was published
        # beside the log (one was, signed by the right key) and its banner read as tampering; verify
        # says "wrong public key for this log?" first.
        self.append(5, run_name="s0")
        self.append(5, run_name="s1")
        other, _ = self.other_log("other", "other.sovgw.local/audit")
        p = sovgw("audit", "report", "--db", self.db, "--pubkey", other, check=1)
        page = p.stdout
        hint = "none of the checkpoints is signed by the key other.sovgw.local/audit+"
        self.assertRegex(page, r'<div class="banner bad">&#10007; The log does NOT verify: none of the checkpoints is '
                               r"signed by the key other\.sovgw\.local/audit\+[0-9a-f]{8} given with --pubkey: wrong "
                               r"public key for this log\? \(2 of 2 signed checkpoints fail verification\)")
        self.assertIn(hint, p.stderr)
        self.assertNotIn("none published beside it", page)
        self.assertIn(f"not checked: no checkpoint kept outside the log (<code>--checkpoint</code>), and the "
                      f"checkpoint published at {self.db}.checkpoint is not one of this log&#39;s: it is signed by "
                      "test.sovgw.local/audit+", page)
        # The checkpoints' lines say the same: one line, as verify lists them.
        self.assertEqual(page.count("(checkpoint_unknown_key)"), 1)
        self.assertIn("(and 1 more checkpoints likewise)", page)
        text = sovgw("audit", "verify", "--db", self.db, "--pubkey", other, check=1).stdout
        self.assertIn(hint, text.splitlines()[1])
        doc = json.loads(sovgw("audit", "report", "--db", self.db, "--pubkey", other, "--format", "json",
                               check=1).stdout)
        self.assertEqual([(n["source"], n["file"]) for n in doc["verification"]["not_held"]],
                         [("published", self.db + ".checkpoint")])
        # With the right key nothing is said to be missing.
        self.assertEqual(json.loads(self.report("--format", "json", check=0).stdout)["verification"]["not_held"],
                         [])

    def test_the_client_countries_card_says_what_it_leaves_out(self):
        # Probe round 39 (finding 4): "2 client countries" above a flow picture listing private and
        # unknown under "client countries".
        self.append(10)  # DE, FR
        page = self.report(check=0).stdout
        self.assertIn('<b style="color:var(--ink)">2</b><span>client countries</span>', page)
        run(TAMPER, self.db, "append-with", self.keys, "client_country", "private", check=0)
        page = self.report(check=0).stdout
        self.assertIn('<b style="color:var(--ink)">2</b><span>client countries, plus private (internal) '
                      "addresses</span>", page)
        run(TAMPER, self.db, "append-with", self.keys, "client_country", "", check=0)
        page = self.report(check=0).stdout
        self.assertIn('<b style="color:var(--ink)">2</b><span>client countries, plus private (internal) and '
                      "unknown addresses</span>", page)

    def test_decisions_over_time_span_the_period_asked_for(self):
        # Probe round 39 (finding 5): the axis ran from the first to the last request whatever the
        # period, so days without traffic at its ends did not show.
        # Two requests three hours ago (as a gateway writes them then), in a period of an hour either side.
        at = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0, tzinfo=None) - \
            datetime.timedelta(hours=3)
        for offset in (0, 60):
            us = int((at - datetime.datetime(1970, 1, 1)).total_seconds() + offset) * 1000000
            run(TAMPER, self.db, "append-at", self.keys, str(us), check=0)
        since, until = ((at + datetime.timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ") for h in (-1, 1))
        j = json.loads(self.report("--since", since, "--until", until, "--format", "json", check=0).stdout)
        buckets, width = j["series"]["buckets"], j["series"]["bucket_seconds"]
        self.assertLessEqual(buckets[0]["start"], since)
        self.assertEqual(sum(b["requests"] for b in buckets), 2)
        self.assertIn(len(buckets), (2 * 3600 // width, 2 * 3600 // width + 1))
        self.assertEqual((buckets[0]["requests"], buckets[-1]["requests"]), (0, 0))
        end = datetime.datetime.strptime(buckets[-1]["start"][:19], "%Y-%m-%dT%H:%M:%S") + \
            datetime.timedelta(seconds=width)
        self.assertGreaterEqual(end.strftime("%Y-%m-%dT%H:%M:%SZ"), until)
        page = self.report("--since", since, "--until", until, check=0).stdout
        self.assertIn(f"The axis spans the period asked for (from {since} to {until}), not only the requests in it",
                      page)
        page = self.report("--since", since, check=0).stdout
        self.assertIn(f"The axis spans the period asked for (from {since} to its last request)", page)
        # --until in the future: drawn up to now, and said so.
        p = self.report("--since", since, "--until", "2999-01-01", "--format", "json", check=0)
        self.assertLessEqual(len(json.loads(p.stdout)["series"]["buckets"]), 96)
        self.assertIn("drawn up to now", self.report("--since", since, "--until", "2999-01-01", check=0).stdout)
        # Without a period, the requests' span as before.
        j = json.loads(self.report("--format", "json", check=0).stdout)
        self.assertGreater(j["series"]["buckets"][0]["requests"], 0)
        self.assertNotIn("The axis spans", self.report(check=0).stdout)

    def test_a_gateway_config_given_as_the_policy_gets_one_hint(self):
        # Probe round 39 (finding 6): `--policy sovgw.yaml` gave ten unknown-key errors and no hint.
        self.append(10)
        config = os.path.join(self.tmp, "sovgw.yaml")
        write_file(config, "listen:\n  port: 8443\ntls:\n  certificate: a.pem\npolicy: policies/eu.yaml\n"
                           "audit:\n  db: audit\nclusters:\n  - name: x\n")
        p = self.report("--policy", config, check=2)
        self.assertIn("sovgw.yaml:1:1: error: this looks like a gateway configuration (it has listen:, tls:, audit:, "
                      "clusters:), not a policy file: give the policy file it names, policy: policies/eu.yaml", p.stderr)
        self.assertNotIn("unknown key", p.stderr)
        p = sovgw("policy", "check", config, check=None)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("this looks like a gateway configuration", p.stdout + p.stderr)


if __name__ == "__main__":
    unittest.main()
