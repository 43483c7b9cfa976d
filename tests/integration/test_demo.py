"""The demo as a first-time user meets it: `examples/demo/demo.sh` (what `./run.sh demo` runs after
the build) in a fresh directory, its guided tour read from its own banner and every line of it run
as printed, in a shell, from that directory; then Ctrl-C, the last checkpoint, and a second start
on the same folder. Fixed ports as the demo documents them (8443, 9901, 9443-9447): the test fails
with a clear message when another demo holds them.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from support import BUILD, SOURCE, SOVGW, STANDIN, TempDir, wait_until

sys.path.insert(0, os.path.join(SOURCE, "tests", "cli"))
from chromium_page import Page  # noqa: E402

DEMO = os.path.join(SOURCE, "examples", "demo", "demo.sh")
PORTS = [8443, 9901, 9443, 9444, 9445, 9446, 9447]
END_OF_BANNER = "Ctrl-C stops the demo"


def port_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


class Demo:
    """examples/demo/demo.sh in its own process group (Ctrl-C reaches the whole group)."""

    def __init__(self, directory, *flags):
        env = dict(os.environ, SOVGW_BUILD_DIR=BUILD)
        self.proc = subprocess.Popen(["bash", DEMO, *flags, "--dir", directory], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
        self.lines = []
        self.done = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)
        self.done.set()

    def banner(self, end=END_OF_BANNER, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            text = "".join(self.lines)
            if end in text:
                return text
            if self.done.is_set():
                raise AssertionError("the demo stopped before its banner:\n" + text)
            time.sleep(0.05)
        raise AssertionError("no banner after %d s:\n%s" % (timeout, "".join(self.lines)))

    def ctrl_c(self, timeout=30):
        os.killpg(self.proc.pid, signal.SIGINT)
        self.proc.wait(timeout=timeout)
        self.done.wait(timeout)
        self.proc.stdout.close()
        return "".join(self.lines)

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """The script alone gets sig (as `kill PID` does); returns its exit status."""
        self.proc.send_signal(sig)
        self.proc.wait(timeout=timeout)
        self.done.wait(timeout)
        self.proc.stdout.close()
        return self.proc.returncode

    def kill(self):
        # The stand-ins run in sessions of their own (Ctrl-C must not reach them): only the script's
        # trap stops them, so it is asked first; SIGKILL to the group is the last resort.
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.done.wait(10)
        self.proc.stdout.close()


def tour(banner):
    """The tour's commands exactly as printed: {title: [command, ...]}, a curl line with its
    continuation lines being one command, the auditor's block one command per line."""
    sections, title, command = {}, None, []
    text = banner[banner.index("Try, from"):banner.index("Metrics:")]
    for line in text.splitlines()[1:]:
        if line.startswith("# "):
            title = line[2:]
            sections[title] = []
        elif line.strip():
            command.append(line)
            if not line.endswith("\\"):
                sections[title].append("\n".join(command))
                command = []
    return sections


def step(banner, number):
    """The tour's command numbered number ("1" to "5")."""
    ((command,),) = [c for title, c in tour(banner).items() if title.startswith(number + ".")]
    return command


def run(command, cwd):
    return subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, text=True, timeout=60)


class DemoTest(unittest.TestCase):
    def setUp(self):
        busy = [p for p in PORTS if not port_free(p)]
        if busy:
            self.fail("ports %s are in use: is a demo running? Stop it to run this test" % busy)
        self.tmp = TempDir()
        self.dir = self.tmp.path
        # A fresh folder stands for a fresh clone: the demo links the repository's examples/ into it.
        self.demo = None

    def tearDown(self):
        if self.demo is not None:
            self.demo.kill()
        self.tmp.cleanup()

    def start(self):
        self.demo = Demo(self.dir)
        return self.demo.banner()

    def test_every_line_of_the_tour_works_as_printed(self):
        banner = self.start()
        self.assertIn("first run: creating the demo's keys", banner)
        self.assertIn("trusts loopback as a front proxy", banner)  # said in the banner, as it must be
        self.assertIn("demo/auditor", banner)
        # Every detector the example policy names is implemented: the gateway warns about none.
        logged = [json.loads(l) for l in banner.splitlines() if l.startswith("{")]
        self.assertEqual([o for o in logged if "detectors" in o], [], banner)
        listening = [o for o in logged if o.get("msg") == "listening"]
        self.assertEqual(len(listening), 1, banner)
        self.assertEqual(len(listening[0]["policy_version"]), 64)
        self.assertEqual(listening[0]["config"], "<embedded default>")

        steps = tour(banner)
        curls = [t for t in steps if t[0].isdigit()]
        self.assertEqual(len(curls), 5, steps)
        answers = {}
        for title in curls:
            (command,) = steps[title]
            self.assertTrue(command.startswith("curl "), command)
            r = run(command + " -sS -w '\\nstatus=%{http_code}'", self.dir)
            self.assertEqual(r.returncode, 0, r.stderr)
            body, status = r.stdout.rsplit("\nstatus=", 1)
            answers[title[0]] = (int(status), body)

        # 1. Permitted, no personal data: the first allowed cluster, US-operated, in Frankfurt.
        self.assertEqual(answers["1"][0], 200, answers["1"])
        self.assertIn("[de-fra-hyperscaler] received: Bonjour", answers["1"][1])
        # 2. The IBAN is detected, redacted before it leaves, and an EU-operated cluster serves it.
        self.assertEqual(answers["2"][0], 200, answers["2"])
        self.assertIn("[fr-par-1] received: Refund IBAN [redacted:iban] please", answers["2"][1])
        self.assertNotIn("DE89", answers["2"][1])
        # 3. Russia: refused by the gateway, naming the rule and its reason.
        status, body = answers["3"]
        self.assertEqual(status, 403, body)
        error = json.loads(body)["error"]
        self.assertEqual(error["code"], "policy_denied")
        self.assertIn("forbid-sanctioned-origins", error["message"])
        self.assertIn("Requests from sanctioned countries are refused.", error["message"])
        # 4. The UK with an e-mail address: personal data from an adequacy country.
        status, body = answers["4"]
        self.assertEqual(status, 403, body)
        self.assertIn("forbid-adequacy-personal-data", json.loads(body)["error"]["message"])
        # ... and says what was found (the detector, never the value), so the client can tell what
        # to reword (probe round 22: it said only the class, which eight detectors feed).
        self.assertIn("(the gateway's detectors found: email)", json.loads(body)["error"]["message"])
        # 5. A stream, event by event, to its end.
        status, body = answers["5"]
        self.assertEqual(status, 200, body)
        self.assertIn('"content":"[de-fra-hyperscaler] Les"', body)
        self.assertTrue(body.rstrip().endswith("data: [DONE]"), body)

        # The clusters refuse what does not come through the gateway (the banner says so).
        straight = run("curl -sS --cacert certs/out/ca.pem -o /dev/null -w '%{http_code}' "
                       "https://localhost:9444/v1/chat/completions -H 'Content-Type: application/json' "
                       "-d '{\"model\":\"llama-3.1-70b\",\"messages\":[]}'", self.dir)
        self.assertEqual(straight.stdout, "401", straight.stderr)
        # ... and each serves only what was signed for it: a request signed for us-east-1 and
        # replayed to fr-par-1 is refused (the stand-in warns when it would accept it).
        for name in ("de-fra-hyperscaler", "fr-par-1", "ch-zrh-1", "us-east-1", "acme-dedicated"):
            with open(os.path.join(self.dir, "demo", "logs", name + ".log")) as f:
                self.assertNotIn("without --cluster", f.read(), name)

        (auditor,) = [t for t in steps if t.startswith("The auditor")]
        query, verify, prove, report = steps[auditor]
        r = run(query, self.dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("(5 records)", r.stdout)
        for rule in ("forbid-sanctioned-origins", "forbid-adequacy-personal-data", "personal-data-eu-only"):
            self.assertIn(rule, r.stdout)
        # The tour's reader takes a few seconds between commands; the test waits (without a time
        # bound on the result) for the checkpoint that covers the last request, as prove needs.
        wait_until(lambda: "UNSIGNED" not in run(verify, self.dir).stdout, timeout=30)
        r = run(verify, self.dir)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("OK: 5 records", r.stdout)
        r = run(prove, self.dir)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("llama-3.1-70b", r.stdout)  # verify-proof prints what the log committed to
        r = run(report, self.dir)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        html = os.path.join(self.dir, "demo", "report.html")
        with Page() as page:
            page.load(html)
            banner_text = page.evaluate("document.querySelector('#verification .banner').innerText")
            text = page.evaluate("document.body.innerText")
            self.assertEqual(page.problems(), [])
        self.assertIn("The log verifies: 5 records", banner_text)
        self.assertIn("Requests from sanctioned countries are refused.", text)

        # The client keeps the answer's head and checks its receipt offline, as printed.
        (receipt_title,) = [t for t in steps if t.startswith("The client's receipt")]
        (receipt,) = steps[receipt_title]
        r = run(receipt, self.dir)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # The verdict is the first line: curl writes nothing (its -w '\n' printed a stray blank line).
        verdict = "receipt verifies: status 200 for POST localhost:8443/v1/chat/completions"
        self.assertTrue(r.stdout.startswith(verdict), r.stdout)
        self.assertIn('Sovereign-Cluster: "de-fra-hyperscaler"', r.stdout)

        # Ctrl-C: everything stops and the last checkpoint covers every record.
        self.demo.ctrl_c()
        for port in PORTS:
            self.assertTrue(port_free(port), port)
        r = run(verify, self.dir)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("not covered", r.stdout)

        # A second start reuses the folder: same key, the log goes on.
        with open(os.path.join(self.dir, "demo", "demo.key")) as f:
            key = f.read().strip()
        banner = self.start()
        self.assertNotIn("first run", banner)
        self.assertIn("Bearer " + key, banner)
        (command,) = tour(banner)[curls[0]]
        r = run(command + " -sS -o /dev/null -w '%{http_code}'", self.dir)
        self.assertEqual(r.stdout, "200", r.stderr)
        wait_until(lambda: "OK: 6 records" in run(verify, self.dir).stdout, timeout=30)

    def test_a_second_start_is_refused_and_leaves_the_running_demo_as_it_was(self):
        # Probe round 27: a second start in the same folder truncated the running demo's logs, its
        # stand-ins crashed on the ports, and the first demo's gateway answered its readiness wait,
        # so it printed the tour as if it were ready.
        banner = self.start()
        logs = os.path.join(self.dir, "demo", "logs")
        before = {}
        for name in os.listdir(logs):
            with open(os.path.join(logs, name)) as f:
                before[name] = f.read()
        self.assertIn("de-fra-hyperscaler.log", before)

        def second(directory):
            demo = Demo(directory)
            try:
                demo.proc.wait(timeout=120)
            finally:
                demo.kill()
            return demo.proc.returncode, "".join(demo.lines)

        status, text = second(self.dir)
        self.assertNotEqual(status, 0, text)
        self.assertEqual(text, "demo: a demo is already running in %s (pid %d): stop it with Ctrl-C there, "
                         "or use --dir elsewhere\n" % (os.path.realpath(self.dir), self.demo.proc.pid))
        # Another folder: the ports are what is shared.
        other = TempDir()
        self.addCleanup(other.cleanup)
        status, text = second(other.path)
        self.assertNotEqual(status, 0, text)
        self.assertEqual(text.count("\n"), 1, text)
        self.assertIn("demo: ports 8443 9901 9443 9444 9445 9446 9447 are in use", text)
        self.assertFalse(os.path.exists(os.path.join(other.path, "demo", "logs")), text)
        # Nothing left behind there (probe round 50: demo/demo.lock), nor a folder it made.
        self.assertFalse(os.path.exists(os.path.join(other.path, "demo")), text)
        status, text = second(os.path.join(other.path, "fresh"))
        self.assertIn("are in use", text)
        self.assertFalse(os.path.exists(os.path.join(other.path, "fresh")), text)

        for name, content in before.items():
            with open(os.path.join(logs, name)) as f:
                self.assertTrue(f.read().startswith(content), name)
        r = run(step(banner, "1") + " -sS -w '\nstatus=%{http_code}'", self.dir)
        self.assertTrue(r.stdout.endswith("\nstatus=200"), r.stdout + r.stderr)
        self.assertIn("[de-fra-hyperscaler] received: Bonjour", r.stdout)
        # `kill PID` (the script alone): it stops everything it started.
        self.assertEqual(self.demo.stop(signal.SIGTERM), 143)
        for port in PORTS:
            self.assertTrue(port_free(port), port)

    def test_ctrl_c_lets_a_stream_in_flight_finish(self):
        # A terminal's Ctrl-C signals the whole foreground process group: the stand-ins used to stop
        # at once, cutting the streams the gateway was draining (probe round 27).
        banner = self.start()
        client = subprocess.Popen(["bash", "-c", step(banner, "5") + " -sS"], cwd=self.dir,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            first = client.stdout.readline()  # the stream has begun: one event is through
            self.assertTrue(first.startswith("data: "), first)
            text = self.demo.ctrl_c(timeout=60)
            rest, errors = client.communicate(timeout=60)
        finally:
            if client.poll() is None:
                client.kill()
                client.wait()
        self.assertEqual(client.returncode, 0, errors)
        self.assertTrue(rest.rstrip().endswith("data: [DONE]"), first + rest)
        logged = [json.loads(l).get("msg") for l in text.splitlines() if l.startswith("{")]
        self.assertIn("drained", logged, text)
        for port in PORTS:
            self.assertTrue(port_free(port), port)

    def test_a_gateway_that_cannot_start_leaves_nothing_running(self):
        # The stand-ins run in sessions of their own: the script's exit must still stop them.
        os.makedirs(os.path.join(self.dir, "demo"))
        with open(os.path.join(self.dir, "demo", "demo.key"), "w") as f:
            f.write("unused\n")
        with open(os.path.join(self.dir, "demo", "tenants.yaml"), "w") as f:
            f.write("tenants: [\n")
        self.demo = Demo(self.dir)
        self.demo.proc.wait(timeout=120)
        self.demo.done.wait(10)
        text = "".join(self.demo.lines)
        self.assertEqual(self.demo.proc.returncode, 1, text)
        self.assertTrue(text.endswith("demo: the gateway stopped (its error is above)\n"), text)
        self.assertIn("tenants.yaml", text)
        for port in PORTS:
            self.assertTrue(port_free(port), port)

    def test_plain_keeps_the_bare_proxy(self):
        self.demo = Demo(self.dir, "--plain")
        text = self.demo.banner(end="Press Ctrl-C")
        command = text[text.index("  curl"):text.index("Press Ctrl-C")].strip()
        r = run(command + " -sS -w '\\n%{http_code}'", self.dir)
        self.assertTrue(r.stdout.endswith("\n200"), r.stdout + r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "demo", "audit")))  # no audit log
        self.demo.ctrl_c()


class StandinStartTest(unittest.TestCase):
    def test_a_port_in_use_is_one_line_naming_it_and_exit_1(self):
        # A second demo's stand-ins met the first one's ports with an uncaught exception (SIGABRT,
        # "terminate called ...") that named no port (probe round 27).
        with socket.socket() as holder:
            holder.bind(("127.0.0.1", 0))
            holder.listen()
            port = holder.getsockname()[1]
            r = subprocess.run([STANDIN, "--plaintext", "--port", str(port)], capture_output=True, text=True,
                               timeout=30)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stderr,
                         "standin-cluster: cannot listen on 127.0.0.1:%d: Address already in use\n" % port)


if __name__ == "__main__":
    unittest.main()
