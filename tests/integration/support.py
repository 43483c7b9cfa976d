"""Test support: runs the real `sovgw` binary and the stand-in cluster over real TLS on loopback.

Everything listens on port 0; the processes print their bound ports as JSON log lines, which these
helpers read. Raw TLS sockets (Python's ssl module) send adversarial bytes; curl is the real client.
"""

import json
import os
import queue
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import unittest
import time

BUILD = os.environ.get("SOVGW_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
SOURCE = os.environ.get("SOVGW_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
SOVGW = os.path.join(BUILD, "sovgw")
STANDIN = os.path.join(BUILD, "examples", "standin-cluster")


def make_certs(directory):
    subprocess.run([os.path.join(SOURCE, "certs", "make-dev-certs.sh"), directory], check=True,
                   stdout=subprocess.DEVNULL)
    return directory


class Process:
    """A child process whose stdout lines are collected by a thread (so pipes never block)."""

    def __init__(self, argv, cwd=None):
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, text=True)
        self.lines = []
        self.stderr_text = ""
        self._queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._err_reader = threading.Thread(target=self._read_err, daemon=True)
        self._err_reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)
            self._queue.put(line)
        self._queue.put(None)

    def _read_err(self):
        self.stderr_text = self.proc.stderr.read()

    def wait_for_json(self, predicate, timeout=60):
        """Returns the first JSON log line (as a dict) satisfying predicate, scanning all lines so far."""
        deadline = time.time() + timeout
        seen = 0
        while time.time() < deadline:
            while seen < len(self.lines):
                line = self.lines[seen]
                seen += 1
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if predicate(obj):
                    return obj
            if self.proc.poll() is not None and seen >= len(self.lines):
                # The process has exited, but its last lines may still be on their way through the
                # reader thread: read them all before deciding the line never came.
                self._reader.join(timeout=2)
                if seen < len(self.lines):
                    continue
                self._err_reader.join(timeout=2)
                raise AssertionError(f"{self.argv[0]} exited with {self.proc.returncode}: {self.stderr_text}")
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for a log line from {self.argv[0]}")

    def logs(self):
        out = []
        for line in list(self.lines):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._reader.join(timeout=5)
        self._err_reader.join(timeout=5)
        self.proc.stdout.close()
        self.proc.stderr.close()


def start_standin(certs, chunks=5, delay_ms=50, plaintext=False, name="standin"):
    argv = [STANDIN, "--port", "0", "--chunks", str(chunks), "--delay-ms", str(delay_ms), "--name", name]
    if plaintext:
        argv.append("--plaintext")
    else:
        argv += ["--cert", os.path.join(certs, "cluster.pem"), "--key", os.path.join(certs, "cluster.key")]
    p = Process(argv)
    p.port = p.wait_for_json(lambda o: o.get("msg") == "listening")["port"]
    return p


def cluster_yaml(name, endpoint, certs=None, ca=None, server_name="localhost", plaintext=False, extra=""):
    lines = [f"  - name: {name}", f'    endpoints: ["{endpoint}"]', "    country: FR", "    region: eu-west-3",
             "    operator_jurisdiction: EU", '    models: ["*"]', "    on_premises: true"]
    if plaintext:
        lines.append("    insecure_loopback_plaintext: true")
    else:
        lines += ["    tls:", f"      ca: {ca or os.path.join(certs, 'ca.pem')}", f"      server_name: {server_name}"]
    if extra:
        lines.append(extra)
    return "\n".join(lines) + "\n"


def eu_policy_dedicated_cluster(endpoint, certs):
    """The cluster examples/policies/eu_policy.yaml names (acme's dedicated one, in an EU core region):
    a gateway runs that policy only with every cluster its routes name (deployment_check.hpp)."""
    return cluster_yaml("acme-dedicated", endpoint, certs).replace("country: FR", "country: NL").replace(
        "region: eu-west-3", "region: eu-west").replace('models: ["*"]', "models: [mistral-large]")


def gateway_yaml(certs, clusters, limits="", timeouts="", tls_extra="", extra=""):
    text = f"""listen:
  address: 127.0.0.1
  port: 0
tls:
  certificate: {os.path.join(certs, 'gateway.pem')}
  private_key: {os.path.join(certs, 'gateway.key')}
{tls_extra}admin:
  address: 127.0.0.1
  port: 0
threads: 2
{extra}"""
    if limits:
        text += "limits:\n" + limits
    if timeouts:
        text += "timeouts:\n" + timeouts
    text += "clusters:\n" + clusters
    return text


# The stand-in cluster's control fields (x-standin-chunks, x-standin-fault, ...) are on no list of
# the gateway's: a test's gateway forwards them (`forward_fields`), as an operator would a field
# their cluster's middleware reads.
STANDIN_FIELDS = 'forward_fields: ["x-standin-*"]\n'


class Gateway(Process):
    def __init__(self, config_text, workdir):
        self.config_path = os.path.join(workdir, f"gateway-{time.time_ns()}.yaml")
        if "\nforward_fields:" not in "\n" + config_text and "\nclusters:" in "\n" + config_text:
            config_text = STANDIN_FIELDS + config_text
        with open(self.config_path, "w") as f:
            f.write(config_text)
        super().__init__([SOVGW, "serve", "--config", self.config_path])
        ready = self.wait_for_json(lambda o: o.get("msg") == "listening")
        self.port = ready["port"]
        self.admin_port = ready["admin_port"]
        # serve installs its OpenSSL allocator before OpenSSL's first allocation (tls_buffers.hpp)
        unrecycled = [o for o in self.logs() if o.get("msg", "").startswith("TLS record buffers are not recycled")]
        assert not unrecycled, unrecycled


def client_context(certs, cert=None, key=None):
    ctx = ssl.create_default_context(cafile=os.path.join(certs, "ca.pem"))
    ctx.set_alpn_protocols(["http/1.1"])
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


def tls_connect(port, certs, timeout=10, cert=None, key=None):
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return client_context(certs, cert, key).wrap_socket(raw, server_hostname="localhost")


class Response:
    def __init__(self, status, headers, body, raw_head):
        self.status = status
        self.headers = headers  # list of (lower-name, value)
        self.body = body
        self.raw_head = raw_head

    def header(self, name):
        for k, v in self.headers:
            if k == name.lower():
                return v
        return None

    def json(self):
        return json.loads(self.body)


class Reader:
    """Reads HTTP/1.1 responses from a socket (Content-Length, chunked, or until close)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed")
        self.buf += data

    def read_until(self, marker):
        while marker not in self.buf:
            self._fill()
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_response(self, head_only=False):
        while True:
            head = self.read_until(b"\r\n\r\n").decode("latin-1")
            lines = head.split("\r\n")
            status = int(lines[0].split(" ")[1])
            if status >= 200 or status == 101:
                break
        headers = []
        for line in lines[1:]:
            if line:
                k, _, v = line.partition(":")
                headers.append((k.strip().lower(), v.strip()))
        resp = Response(status, headers, b"", head)
        if head_only or status in (204, 304):
            return resp
        if resp.header("content-length") is not None:
            resp.body = self.read_exact(int(resp.header("content-length")))
        elif (resp.header("transfer-encoding") or "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.read_until(b"\r\n")[:-2].split(b";")[0], 16)
                if size == 0:
                    self.read_until(b"\r\n")
                    break
                body += self.read_exact(size)
                self.read_exact(2)
            resp.body = body
        else:
            try:
                while True:
                    self._fill()
            except (EOFError, ConnectionError, ssl.SSLError):
                pass
            resp.body, self.buf = self.buf, b""
        return resp

    def closed_by_peer(self, timeout=5):
        """True if the peer closes the connection (EOF or reset) within timeout, sending nothing more."""
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
                self.buf += data
                return False
        except socket.timeout:  # an OSError too, but the peer did nothing
            return False
        except (ConnectionError, ssl.SSLError, OSError):
            return True


def request_bytes(method="POST", path="/v1/chat/completions", body=b"", headers=None, host="localhost"):
    headers = headers if headers is not None else {}
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    for k, v in headers.items():
        lines.append(f"{k}: {v}")
    if body and not any(k.lower() in ("content-length", "transfer-encoding") for k in headers):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


CHAT = json.dumps({"model": "mistral-small", "messages": [{"role": "user", "content": "Bonjour"}]}).encode()
CHAT_STREAM = json.dumps({"model": "mistral-small", "stream": True,
                          "messages": [{"role": "user", "content": "Bonjour"}]}).encode()


def chat_request(body=CHAT, extra_headers=None):
    h = {"Content-Type": "application/json"}
    h.update(extra_headers or {})
    return request_bytes(body=body, headers=h)


def exchange(port, certs, raw):
    with tls_connect(port, certs) as s:
        s.sendall(raw)
        return Reader(s).read_response()


def curl(args, timeout=30):
    return subprocess.run(["curl", "-sS"] + args, capture_output=True, text=True, timeout=timeout)


def admin_get(gateway, path):
    with socket.create_connection(("127.0.0.1", gateway.admin_port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{gateway.admin_port}\r\nConnection: close\r\n\r\n".encode())
        return Reader(s).read_response()


def metric(gateway, name):
    """Sum of all samples of a metric (any labels)."""
    total = 0.0
    for line in admin_get(gateway, "/metrics").body.decode().splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def audit_record_and_proof(db, audit_keys, request_id, workdir):
    """A closed log's record of `request_id` (audit query, as a dict) and what `audit verify-proof`
    prints of its inclusion proof (`audit prove`); the proof must verify."""
    q = subprocess.run([SOVGW, "audit", "query", "--db", db, "--request-id", request_id, "--format", "jsonl"],
                       capture_output=True, text=True, check=True)
    record = json.loads(q.stdout.splitlines()[0])
    proof = os.path.join(workdir, f"{request_id}.tlog-proof")
    with open(proof, "w") as f:
        subprocess.run([SOVGW, "audit", "prove", "--db", db, "--request-id", request_id], stdout=f, check=True)
    shown = subprocess.run([SOVGW, "audit", "verify-proof", proof, "--pubkey", os.path.join(audit_keys, "signing.pub")],
                           capture_output=True, text=True)
    if shown.returncode != 0:
        raise AssertionError(f"verify-proof exited {shown.returncode}: {shown.stdout}{shown.stderr}")
    return record, shown.stdout


class TempDir:
    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="sovgw-test-")

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


def wait_until(predicate, timeout=15, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


class StandinTest(unittest.TestCase):
    """A temporary folder, certificates and a stand-in cluster for each test."""

    def setUp(self):
        self.tmp = TempDir()
        self.addCleanup(self.tmp.cleanup)
        self.certs = make_certs(os.path.join(self.tmp.path, "certs"))
        self.standin = start_standin(self.certs, chunks=1, delay_ms=1)
        self.addCleanup(self.standin.stop)
