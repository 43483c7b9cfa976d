"""Operations: certificate reload on SIGHUP, graceful drain on SIGTERM, mTLS, config validation."""

import hashlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
import unittest

from support import (CHAT_STREAM, SOURCE, SOVGW, Gateway, Process, Reader, TempDir, admin_get, chat_request,
                     cluster_yaml, eu_policy_dedicated_cluster, exchange, gateway_yaml, make_certs, metric,
                     start_standin, tls_connect, wait_until)


def served_cert_fingerprint(port, certs):
    with tls_connect(port, certs) as s:
        return hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()


def file_fingerprint(pem_path):
    der = ssl.PEM_cert_to_DER_cert(open(pem_path).read())
    return hashlib.sha256(der).hexdigest()


class LifecycleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.certs = make_certs(os.path.join(cls.tmp.path, "certs"))
        cls.standin = start_standin(cls.certs, chunks=10, delay_ms=100)

    @classmethod
    def tearDownClass(cls):
        cls.standin.stop()
        cls.tmp.cleanup()

    def clusters(self):
        return cluster_yaml("paris", f"127.0.0.1:{self.standin.port}", self.certs)

    def test_a_sighup_while_the_gateway_starts_is_a_reload_once_it_runs(self):
        # Probe round 44: a SIGHUP during the policy's proofs (seconds for the example policy) ended
        # the gateway, exit 129, without a log line; tools tell admins to send SIGHUP.
        endpoint = f"127.0.0.1:{self.standin.port}"
        config = gateway_yaml(self.certs, self.clusters() + eu_policy_dedicated_cluster(endpoint, self.certs),
                              extra=f"policy: {os.path.join(SOURCE, 'examples', 'policies', 'eu_policy.yaml')}\n")
        path = os.path.join(self.tmp.path, "starting.yaml")
        with open(path, "w") as f:
            f.write(config)
        g = Process([SOVGW, "serve", "--config", path])
        self.addCleanup(g.stop)
        g.wait_for_json(lambda o: o.get("msg", "").startswith("loading the policy"))
        g.signal(signal.SIGHUP)
        g.wait_for_json(lambda o: o.get("msg") == "listening")
        g.wait_for_json(lambda o: o.get("msg") == "policy reloaded")
        self.assertIsNone(g.proc.poll())

    def test_sighup_reloads_certificates_without_dropping_connections(self):
        live = os.path.join(self.tmp.path, "live")
        os.makedirs(live, exist_ok=True)
        for f in ("ca.pem", "gateway.pem", "gateway.key"):
            shutil.copy(os.path.join(self.certs, f), live)
        config = gateway_yaml(self.certs, self.clusters()).replace(os.path.join(self.certs, "gateway."),
                                                                   os.path.join(live, "gateway."))
        g = Gateway(config, self.tmp.path)
        self.addCleanup(g.stop)
        old = served_cert_fingerprint(g.port, self.certs)
        self.assertEqual(old, file_fingerprint(os.path.join(live, "gateway.pem")))

        kept = tls_connect(g.port, self.certs)
        reader = Reader(kept)
        kept.sendall(chat_request())
        self.assertEqual(reader.read_response().status, 200)

        # A new certificate (same CA, new key) replaces the files; SIGHUP picks it up.
        fresh = make_certs(os.path.join(self.tmp.path, "fresh"))
        shutil.copy(os.path.join(self.certs, "ca.key"), fresh)
        subprocess.run(["openssl", "req", "-new", "-key", os.path.join(fresh, "gateway.key"), "-subj", "/CN=localhost",
                        "-out", os.path.join(fresh, "g.csr")], check=True, capture_output=True)
        ext = os.path.join(fresh, "g.ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
        subprocess.run(["openssl", "x509", "-req", "-in", os.path.join(fresh, "g.csr"), "-CA",
                        os.path.join(self.certs, "ca.pem"), "-CAkey", os.path.join(self.certs, "ca.key"),
                        "-CAcreateserial", "-days", "30", "-extfile", ext, "-out", os.path.join(live, "gateway.pem")],
                       check=True, capture_output=True)
        shutil.copy(os.path.join(fresh, "gateway.key"), os.path.join(live, "gateway.key"))
        os.chmod(os.path.join(live, "gateway.key"), 0o600)
        g.signal(signal.SIGHUP)
        g.wait_for_json(lambda o: o.get("msg") == "certificates reloaded")
        new = served_cert_fingerprint(g.port, self.certs)
        self.assertNotEqual(new, old)
        self.assertEqual(new, file_fingerprint(os.path.join(live, "gateway.pem")))

        # The connection made before the reload still works.
        kept.sendall(chat_request())
        self.assertEqual(reader.read_response().status, 200)
        kept.close()

        # A broken certificate on reload keeps the current one.
        with open(os.path.join(live, "gateway.pem"), "w") as f:
            f.write("not a certificate\n")
        g.signal(signal.SIGHUP)
        g.wait_for_json(lambda o: o.get("msg", "").startswith("certificate reload failed"))
        self.assertEqual(served_cert_fingerprint(g.port, self.certs), new)
        self.assertEqual(metric(g, "sovgw_certificate_reload_failures_total"), 1)
        # The serving certificate's expiry is a gauge to alert on (the fresh one: 30 days).
        not_after = metric(g, "sovgw_certificate_not_after_seconds")
        self.assertTrue(time.time() + 29 * 86400 < not_after < time.time() + 31 * 86400, not_after)

        # An expired certificate fails every handshake: refused on reload as on start and by
        # `config check` (probe round 29: it was "reloaded", and then no client could connect).
        subprocess.run(["openssl", "x509", "-req", "-in", os.path.join(fresh, "g.csr"), "-CA",
                        os.path.join(self.certs, "ca.pem"), "-CAkey", os.path.join(self.certs, "ca.key"),
                        "-CAcreateserial", "-days", "-1", "-extfile", ext, "-out", os.path.join(live, "gateway.pem")],
                       check=True, capture_output=True)
        g.signal(signal.SIGHUP)
        failed = g.wait_for_json(lambda o: o.get("msg", "").startswith("certificate reload failed")
                                 and "expired" in o.get("error", ""))
        self.assertIn("the certificate expired at", failed["error"])
        self.assertEqual(served_cert_fingerprint(g.port, self.certs), new)
        self.assertEqual(metric(g, "sovgw_certificate_reload_failures_total"), 2)
        path = os.path.join(self.tmp.path, "expired.yaml")
        with open(path, "w") as f:
            f.write(config)
        r = subprocess.run([SOVGW, "config", "check", path], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn("the certificate expired at", r.stderr)

    def test_a_fifo_policy_is_refused_at_start_and_on_reload_without_blocking(self):
        # A FIFO named as the policy used to block the reader's open(2) until someone wrote to it:
        # at start the gateway hung, on SIGHUP the reload thread did. Only regular files are read.
        fifo = os.path.join(self.tmp.path, f"policy-{time.time_ns()}.fifo")
        os.mkfifo(fifo)
        config = gateway_yaml(self.certs, self.clusters(), extra=f"policy: {fifo}\n")
        path = os.path.join(self.tmp.path, "fifo-policy.yaml")
        with open(path, "w") as f:
            f.write(config)
        r = subprocess.run([SOVGW, "serve", "--config", path], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 3, r.stderr)  # a file it cannot use: the environment's, not the config's
        line = config.splitlines().index(f"policy: {fifo}") + 1
        self.assertEqual(r.stderr, f"{path}:{line}:9: policy: {fifo} is a FIFO, not a regular file\n")

        policy = os.path.join(self.tmp.path, f"policy-{time.time_ns()}.yaml")
        with open(policy, "w") as f:
            f.write("rules:\n  - {id: permit-all, effect: permit}\n")
        g = Gateway(gateway_yaml(self.certs, self.clusters(), extra=f"policy: {policy}\n"), self.tmp.path)
        self.addCleanup(g.stop)
        version = g.wait_for_json(lambda o: o.get("msg") == "listening")["policy_version"]
        os.unlink(policy)
        os.mkfifo(policy)
        g.signal(signal.SIGHUP)
        failed = g.wait_for_json(lambda o: o.get("msg", "").startswith("policy reload failed"))
        self.assertEqual(failed["errors"].rstrip("\n"), f"{policy}: error: the policy file is a FIFO, not a regular file")
        self.assertEqual(failed["version"], version)
        with tls_connect(g.port, self.certs, timeout=10) as s:
            s.sendall(chat_request())
            self.assertEqual(Reader(s).read_response().status, 200)

    def test_sighup_says_when_the_configuration_changed_and_needs_a_restart(self):
        g = Gateway(gateway_yaml(self.certs, self.clusters()), self.tmp.path)
        self.addCleanup(g.stop)
        g.signal(signal.SIGHUP)
        g.wait_for_json(lambda o: o.get("msg") == "endpoint re-resolution asked for")
        self.assertFalse(any(o.get("level") == "warn" for o in g.logs()), g.logs())
        with open(g.config_path, "a") as f:
            f.write("access_log: false\n")
        g.signal(signal.SIGHUP)
        changed = g.wait_for_json(lambda o: o.get("msg", "").startswith("the configuration file changed"))
        self.assertEqual(changed["config"], g.config_path)
        self.assertEqual(changed["level"], "warn")
        self.assertTrue(changed["msg"].endswith("restart to apply it"), changed)

    def test_sigterm_drains_in_flight_streams_then_exits(self):
        g = Gateway(gateway_yaml(self.certs, self.clusters(), timeouts="  drain: 20s\n"), self.tmp.path)
        self.addCleanup(g.stop)
        idle = tls_connect(g.port, self.certs)  # an idle keep-alive connection is closed at once
        idle_reader = Reader(idle)
        idle.sendall(chat_request())
        self.assertEqual(idle_reader.read_response().status, 200)

        s = tls_connect(g.port, self.certs)
        s.sendall(chat_request(CHAT_STREAM))
        reader = Reader(s)
        head = reader.read_response(head_only=True)
        self.assertEqual(head.status, 200)
        reader.read_until(b"data: ")
        g.signal(signal.SIGTERM)
        g.wait_for_json(lambda o: o.get("msg") == "draining")
        self.assertTrue(idle_reader.closed_by_peer(5), "idle connection not closed on drain")
        self.assertEqual(admin_get(g, "/readyz").status, 503)
        rest = reader.read_until(b"0\r\n\r\n")
        self.assertIn(b"data: [DONE]", rest, "the in-flight stream was cut")
        self.assertEqual(head.header("connection"), None)
        self.assertTrue(reader.closed_by_peer(5))
        g.proc.wait(timeout=10)
        self.assertEqual(g.proc.returncode, 0)
        drained = g.wait_for_json(lambda o: o.get("msg") == "drained")
        self.assertEqual(drained["connections_cut"], 0)

    def test_drain_deadline_cuts_what_is_left(self):
        g = Gateway(gateway_yaml(self.certs, self.clusters(), timeouts="  drain: 500ms\n"), self.tmp.path)
        self.addCleanup(g.stop)
        s = tls_connect(g.port, self.certs)
        s.sendall(chat_request(CHAT_STREAM, {"x-standin-chunks": "100"}))
        Reader(s).read_response(head_only=True)
        g.signal(signal.SIGTERM)
        g.proc.wait(timeout=10)
        self.assertEqual(g.proc.returncode, 0)
        drained = g.wait_for_json(lambda o: o.get("msg") == "drained")
        self.assertEqual(drained["connections_cut"], 1)

    def test_a_second_gateway_on_the_same_port_is_refused(self):
        # Two gateways on one port would split its connections: the second's requests would go to
        # its own clusters and into its own audit log, and the first gateway's log would miss them.
        first = Gateway(gateway_yaml(self.certs, self.clusters()), self.tmp.path)
        self.addCleanup(first.stop)
        config = gateway_yaml(self.certs, self.clusters()).replace("  port: 0\ntls:", f"  port: {first.port}\ntls:")
        path = os.path.join(self.tmp.path, "second.yaml")
        with open(path, "w") as f:
            f.write(config)
        r = subprocess.run([SOVGW, "serve", "--config", path], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertIn(f"cannot listen on 127.0.0.1:{first.port}: Address already in use", r.stderr)
        self.assertNotIn('"msg":"listening"', r.stdout)
        # The first one still answers, every time.
        for _ in range(20):
            self.assertEqual(exchange(first.port, self.certs, chat_request()).status, 200)

    def test_mutual_tls(self):
        config = gateway_yaml(self.certs, self.clusters(),
                              tls_extra=f"  client_ca: {os.path.join(self.certs, 'ca.pem')}\n"
                                        "  require_client_certificate: true\n")
        g = Gateway(config, self.tmp.path)
        self.addCleanup(g.stop)
        # Refused by the gateway's TLS (counted as a handshake failure), never by anything else: the
        # client sees the certificate_required alert or, if the close wins the race, a reset.
        with self.assertRaises((ssl.SSLError, ConnectionResetError, BrokenPipeError)) as refused:
            with tls_connect(g.port, self.certs) as s:
                s.sendall(chat_request())
                Reader(s).read_response()
        if isinstance(refused.exception, ssl.SSLError):
            self.assertIn("CERTIFICATE_REQUIRED", str(refused.exception).upper())
        self.assertTrue(wait_until(lambda: metric(g, "sovgw_tls_handshake_failures_total") == 1))
        self.assertFalse(any(o.get("msg") == "request" for o in g.logs()))
        with tls_connect(g.port, self.certs, cert=os.path.join(self.certs, "client.pem"),
                         key=os.path.join(self.certs, "client.key")) as s:
            s.sendall(chat_request())
            self.assertEqual(Reader(s).read_response().status, 200)
        log = g.wait_for_json(lambda o: o.get("msg") == "request")
        self.assertEqual(log["tenant"], "demo-client")

    def test_alpn_h2_only_client_is_refused(self):
        g = Gateway(gateway_yaml(self.certs, self.clusters()), self.tmp.path)
        self.addCleanup(g.stop)
        ctx = ssl.create_default_context(cafile=os.path.join(self.certs, "ca.pem"))
        ctx.set_alpn_protocols(["h2"])
        with self.assertRaises(ssl.SSLError):
            with ctx.wrap_socket(socket.create_connection(("127.0.0.1", g.port)), server_hostname="localhost"):
                pass
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        with ctx.wrap_socket(socket.create_connection(("127.0.0.1", g.port)), server_hostname="localhost") as s:
            self.assertEqual(s.selected_alpn_protocol(), "http/1.1")
            self.assertIn(s.version(), ("TLSv1.2", "TLSv1.3"))

    def test_tls13_suite_is_chosen_in_the_profiles_order(self):
        # The listener chooses: AES-128-GCM for a client that lists AES-256 first (OpenSSL's default
        # order, curl's and the SDKs'), ChaCha20 for a client that prefers it.
        g = Gateway(gateway_yaml(self.certs, self.clusters()), self.tmp.path)
        self.addCleanup(g.stop)

        def negotiated(suites):
            out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{g.port}", "-tls1_3",
                                  "-ciphersuites", suites, "-CAfile", os.path.join(self.certs, "ca.pem")],
                                 input=b"", capture_output=True, timeout=20).stdout.decode()
            return [line for line in out.splitlines() if "Cipher is" in line]

        self.assertEqual(negotiated("TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"),
                         ["New, TLSv1.3, Cipher is TLS_AES_128_GCM_SHA256"])
        self.assertEqual(negotiated("TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"),
                         ["New, TLSv1.3, Cipher is TLS_CHACHA20_POLY1305_SHA256"])
        self.assertEqual(negotiated("TLS_AES_256_GCM_SHA384"), ["New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384"])

    def test_tls_1_1_is_refused(self):
        g = Gateway(gateway_yaml(self.certs, self.clusters()), self.tmp.path)
        self.addCleanup(g.stop)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(os.path.join(self.certs, "ca.pem"))
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.set_ciphers("ALL:@SECLEVEL=0")
        with self.assertRaises(ssl.SSLError) as refused:
            with ctx.wrap_socket(socket.create_connection(("127.0.0.1", g.port)), server_hostname="localhost"):
                pass
        # The gateway answered with a protocol_version alert and counted the failed handshake (a
        # client-side refusal would neither reach nor be counted by the gateway).
        self.assertIn("PROTOCOL_VERSION", str(refused.exception).upper())
        self.assertTrue(wait_until(lambda: metric(g, "sovgw_tls_handshake_failures_total") == 1))


class ConfigCheckTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.certs = make_certs(os.path.join(cls.tmp.path, "certs"))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def check(self, text):
        path = os.path.join(self.tmp.path, f"c{time.time_ns()}.yaml")
        with open(path, "w") as f:
            f.write(text)
        r = subprocess.run([SOVGW, "config", "check", path], capture_output=True, text=True)
        return path, r

    def test_valid_config(self):
        path, r = self.check(gateway_yaml(self.certs, cluster_yaml("paris", "127.0.0.1:9443", self.certs)))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("ok", r.stdout)

    def test_every_error_reported_with_line_and_column(self):
        text = gateway_yaml(self.certs, cluster_yaml("paris", "127.0.0.1:9443", self.certs)
                            + "    colour: blue\n"
                            + cluster_yaml("paris", "localhost:99999", self.certs).replace("country: FR",
                                                                                            "country: France"))
        text = text.replace("threads: 2", "threads: many\nlisten_backlog: 5")
        path, r = self.check(text)
        self.assertEqual(r.returncode, 1)
        errors = r.stderr.strip().splitlines()
        lines = text.splitlines()

        def pos(needle, occurrence=0):
            hits = [i for i, l in enumerate(lines) if needle in l]
            i = hits[occurrence]
            return f"{path}:{i + 1}:{lines[i].index(needle.strip()) + 1}"

        self.assertTrue(any(e.startswith(pos("listen_backlog") + ": unknown key 'listen_backlog'") for e in errors),
                        errors)
        self.assertTrue(any(e.startswith(pos("colour") + ": unknown key 'colour' in cluster") for e in errors), errors)
        self.assertTrue(any("threads must be a whole number, not 'many'" in e for e in errors), errors)
        self.assertTrue(any("endpoint port must be 1..65535" in e for e in errors), errors)
        self.assertTrue(any("country must be an ISO 3166-1 alpha-2 code like FR, not 'France'" in e for e in errors),
                        errors)
        self.assertTrue(any("duplicate cluster name 'paris'" in e for e in errors), errors)
        self.assertGreaterEqual(len(errors), 6)

    def test_trusted_proxies_that_take_in_the_internet_are_refused(self):
        # Every client in a trusted block chooses its own address in X-Forwarded-For, and so its country.
        for block in ("0.0.0.0/0", "::/0", "::ffff:0.0.0.0/96", "2000::/3", "0.0.0.0/7"):
            text = gateway_yaml(self.certs, cluster_yaml("paris", "127.0.0.1:9443", self.certs),
                                extra=f'trusted_proxies: [10.0.0.0/8, "{block}"]\n')
            path, r = self.check(text)
            self.assertEqual(r.returncode, 1, (block, r.stderr))
            line = next(n for n, l in enumerate(text.splitlines(), 1) if l.startswith("trusted_proxies:"))
            self.assertEqual(r.stderr, f"{path}:{line}:31: trusted_proxies: '{block}' is too broad: a client in it "
                                       "could name any address, and so any country, in X-Forwarded-For or a PROXY "
                                       "header; list the front proxies' own addresses (at most a /8 in IPv4, a /7 in "
                                       "IPv6)\n")
        for block in ("10.0.0.0/8", "fc00::/7", "203.0.113.0/24"):
            _, r = self.check(gateway_yaml(self.certs, cluster_yaml("paris", "127.0.0.1:9443", self.certs),
                                           extra=f'trusted_proxies: ["{block}"]\n'))
            self.assertEqual(r.returncode, 0, (block, r.stderr))

    def test_what_serve_would_refuse_config_check_refuses_at_its_key(self):
        """config check used to pass a listen.address that is no IP address, an admin port that is the
        listen port and an empty clusters list, all of which serve refused (or served nothing)."""
        cluster = cluster_yaml("paris", "127.0.0.1:9443", self.certs)
        good = gateway_yaml(self.certs, cluster)
        listen = "listen:\n  address: 127.0.0.1\n  port: 0\n"
        admin = "admin:\n  address: 127.0.0.1\n  port: 0\n"
        not_an_ip = ("listen.address '{}' is not an IP address (write an address such as 127.0.0.1, 0.0.0.0 or ::, "
                     "not a host name)")
        for old, new, at, message in (
                (listen, listen.replace("127.0.0.1", "localhost"), "localhost", not_an_ip.format("localhost")),
                (listen, listen.replace("127.0.0.1", "127.0.0.256"), "127.0.0.256", not_an_ip.format("127.0.0.256")),
                (listen + "tls:", listen.replace("port: 0", "port: 24443") + "tls:", None, None),
                (admin, admin.replace("port: 0", "port: 24443"), "port: 24443",
                 "admin.port 24443 is listen.port too: the admin listener needs a port of its own"),
                ("clusters:\n" + cluster, "clusters: []\n", "clusters",
                 "at least one cluster is required under clusters:")):
            self.assertIn(old, good)
            good = good.replace(old, new, 1)
            if at is None:
                continue  # listen.port 24443, for the admin port below
            text = good
            good = gateway_yaml(self.certs, cluster)
            hits = [n for n, l in enumerate(text.splitlines(), 1) if at in l]
            line = hits[-1] if at == "port: 24443" else hits[0]  # the admin port comes after the listen port
            column = text.splitlines()[line - 1].index(at) + 1
            path, r = self.check(text)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(r.stderr, f"{path}:{line}:{column}: {message}\n")
            r = subprocess.run([SOVGW, "serve", "--config", path], capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertEqual(r.stderr, f"{path}:{line}:{column}: {message}\n")

    def test_keys_that_need_others_are_named_at_their_position(self):
        cluster = cluster_yaml("paris", "127.0.0.1:9443", self.certs)
        for extra, key, message in (
                ("listen_extra", "proxy_protocol: true",
                 "listen.proxy_protocol needs trusted_proxies (the peers allowed to send the header)"),
                ("tls_extra", "require_client_certificate: true", "tls.require_client_certificate needs tls.client_ca"),
                ("extra", "limits_store: redis://127.0.0.1:6379/0",
                 "limits_store needs tenants (the limits it shares are the tenants file's)")):
            if extra == "listen_extra":
                text = gateway_yaml(self.certs, cluster).replace("  port: 0\ntls:", "  port: 0\n  proxy_protocol: "
                                                                                    "true\ntls:", 1)
            elif extra == "tls_extra":
                text = gateway_yaml(self.certs, cluster, tls_extra=f"  {key}\n")
            else:
                text = gateway_yaml(self.certs, cluster, extra=f"{key}\n")
            line = next(n for n, l in enumerate(text.splitlines(), 1) if key in l)
            column = text.splitlines()[line - 1].index(key) + 1
            path, r = self.check(text)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(r.stderr, f"{path}:{line}:{column}: {message}\n")

    def test_yaml_syntax_error_has_position(self):
        path, r = self.check("listen: [unclosed\n")
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, rf"^{path}:\d+:\d+: ")

    def test_bad_durations_and_sizes(self):
        text = gateway_yaml(self.certs, cluster_yaml("paris", "127.0.0.1:9443", self.certs),
                            limits="  max_body_bytes: lots\n", timeouts="  drain: 10\n")
        path, r = self.check(text)
        self.assertEqual(r.returncode, 1)
        self.assertIn("limits.max_body_bytes must be a positive size", r.stderr)
        self.assertIn("timeouts.drain must be a positive duration like 500ms", r.stderr)

    def test_world_readable_private_key_is_refused(self):
        key = os.path.join(self.tmp.path, "open.key")
        shutil.copy(os.path.join(self.certs, "gateway.key"), key)
        os.chmod(key, 0o644)
        text = gateway_yaml(self.certs, cluster_yaml("paris", "127.0.0.1:9443", self.certs)).replace(
            os.path.join(self.certs, "gateway.key"), key)
        path, r = self.check(text)
        self.assertEqual(r.returncode, 1)
        self.assertIn("private key is readable by group or others (mode 0644)", r.stderr)

    def test_missing_certificate_file(self):
        text = gateway_yaml(self.certs, cluster_yaml("paris", "127.0.0.1:9443", self.certs)).replace(
            os.path.join(self.certs, "gateway.pem"), "/nonexistent/gateway.pem")
        path, r = self.check(text)
        self.assertEqual(r.returncode, 1)
        # Named at the key that names it, with the system's reason, and nothing else.
        self.assertRegex(r.stderr, r"\.yaml:\d+:\d+: tls\.certificate: cannot open /nonexistent/gateway\.pem: "
                                   r"No such file or directory")
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        # serve: a start-up it cannot complete, exit 3 (README), as for a certificate that does not load;
        # still 2 when the config also has an error of its own.
        r = subprocess.run([SOVGW, "serve", "--config", path], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("tls.certificate: cannot open /nonexistent/gateway.pem", r.stderr)
        with open(path, "a") as f:
            f.write("threads: many\n")
        r = subprocess.run([SOVGW, "serve", "--config", path], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2, r.stderr)

    def test_every_unsafe_file_is_named_in_one_run(self):
        # Four files others could change: four lines in one run, not one a run.
        d = os.path.join(self.tmp.path, "unsafe")
        os.makedirs(d, exist_ok=True)
        key = os.path.join(d, "gateway.key")
        shutil.copy(os.path.join(self.certs, "gateway.key"), key)
        tenants = os.path.join(d, "tenants.yaml")
        with open(tenants, "w") as f:
            f.write("tenants:\n  - name: acme\n    certificates:\n      - cn: acme-app\n")
        token = os.path.join(d, "admin.token")
        with open(token, "w") as f:
            f.write("t" * 40 + "\n")
        keys = os.path.join(d, "keys")
        subprocess.run([SOVGW, "keys", "init", keys, "--name", "t", "--auditor-dir", os.path.join(d, "auditor")],
                       check=True, capture_output=True)
        os.chmod(key, 0o644)
        os.chmod(tenants, 0o664)
        os.chmod(token, 0o644)
        os.chmod(os.path.join(keys, "signing.key"), 0o640)
        text = gateway_yaml(self.certs, cluster_yaml("paris", "127.0.0.1:9443", self.certs),
                            extra=f"tenants: {tenants}\naudit:\n  db: {d}/db\n  keys: {keys}\n").replace(
            os.path.join(self.certs, "gateway.key"), key).replace("  port: 0\nthreads", f"  port: 0\n  token_file: {token}\nthreads")
        path, r = self.check(text)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("private key is readable by group or others (mode 0644)", r.stderr)
        self.assertIn("the tenants file's mode 0664 lets group or others change it", r.stderr)
        self.assertIn(f"admin.token_file {token}: its mode 0644 lets other users read it", r.stderr)
        self.assertIn(f"{os.path.join(keys, 'signing.key')}", r.stderr)
        self.assertNotIn(": ok (", r.stdout)

    def test_embedded_default_is_the_demo_config(self):
        r = subprocess.run([SOVGW, "config", "default"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        with open(os.path.join(SOURCE, "examples", "demo", "sovgw.yaml")) as f:
            self.assertEqual(r.stdout, f.read())


if __name__ == "__main__":
    unittest.main()
