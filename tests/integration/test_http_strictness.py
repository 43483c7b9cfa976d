"""Strict HTTP/1.1 framing (RFC 9112) at the gateway's front door, over real TLS.

Every malformed request must get its status with a JSON error body and `Connection: close`, the
connection must then close, and the next request on a new connection must still be served.
"""

import json
import os
import socket
import time
import unittest

from support import (CHAT, Gateway, Reader, TempDir, chat_request, cluster_yaml, exchange, gateway_yaml,
                     make_certs, metric, start_standin, tls_connect, wait_until)

GOOD = chat_request()


def req(head_lines, body=b""):
    return ("\r\n".join(head_lines) + "\r\n\r\n").encode() + body


POST = "POST /v1/chat/completions HTTP/1.1"
HOST = "Host: localhost"
JSON = "Content-Type: application/json"

# (name, raw request, expected status)
BAD_REQUESTS = [
    ("content-length and transfer-encoding", req([POST, HOST, "Content-Length: 5", "Transfer-Encoding: chunked"],
                                                  b"0\r\n\r\n"), 400),
    ("differing content-length fields", req([POST, HOST, "Content-Length: 5", "Content-Length: 6"], b"hello!"), 400),
    ("differing content-length list", req([POST, HOST, "Content-Length: 5, 6"], b"hello!"), 400),
    ("content-length with plus", req([POST, HOST, "Content-Length: +5"], b"hello"), 400),
    ("content-length in hex", req([POST, HOST, "Content-Length: 0x10"], b"0123456789abcdef"), 400),
    ("empty content-length", req([POST, HOST, "Content-Length: "], b""), 400),
    ("negative content-length", req([POST, HOST, "Content-Length: -1"], b""), 400),
    ("content-length overflow", req([POST, HOST, "Content-Length: 18446744073709551617"], b""), 400),
    ("transfer-encoding not chunked", req([POST, HOST, "Transfer-Encoding: gzip"], b""), 400),
    ("transfer-encoding chunked not final", req([POST, HOST, "Transfer-Encoding: chunked, gzip"], b""), 400),
    ("transfer-encoding chunked twice", req([POST, HOST, "Transfer-Encoding: chunked, chunked"], b"0\r\n\r\n"), 400),
    ("transfer-encoding identity", req([POST, HOST, "Transfer-Encoding: identity"], b""), 400),
    ("transfer-encoding in HTTP/1.0", req(["POST /v1/chat/completions HTTP/1.0", HOST, "Transfer-Encoding: chunked"],
                                          b"0\r\n\r\n"), 400),
    ("obs-fold", req([POST, HOST, "X-Folded: a", " continued", "Content-Length: 0"]), 400),
    ("space before colon", req([POST, HOST, "Content-Length : 0"]), 400),
    ("tab before colon", req([POST, HOST, "X-Thing\t: 1", "Content-Length: 0"]), 400),
    ("CR in field value", req([POST, HOST, "X-Thing: a\rb", "Content-Length: 0"]), 400),
    ("NUL in field value", req([POST, HOST, "X-Thing: a\x00b", "Content-Length: 0"]), 400),
    ("bare LF line ending", b"GET /v1/models HTTP/1.1\nHost: localhost\n\n", 400),
    ("bare LF inside field", req([POST, HOST, "X-A: a\nX-B: b", "Content-Length: 0"]), 400),
    ("empty field name", req([POST, HOST, ": value", "Content-Length: 0"]), 400),
    ("non-token field name", req([POST, HOST, "X(Bad): 1", "Content-Length: 0"]), 400),
    ("field name with space", req([POST, HOST, "X Bad: 1", "Content-Length: 0"]), 400),
    ("missing host", req([POST, "Content-Length: 0"]), 400),
    ("duplicate host", req([POST, HOST, "Host: other", "Content-Length: 0"]), 400),
    ("invalid host", req([POST, "Host: exa mple.com", "Content-Length: 0"]), 400),
    ("host with path", req([POST, "Host: example.com/path", "Content-Length: 0"]), 400),
    ("empty host", req([POST, "Host: ", "Content-Length: 0"]), 400),
    ("bad chunk size", req([POST, HOST, "Transfer-Encoding: chunked"], b"zz\r\nhello\r\n0\r\n\r\n"), 400),
    ("negative chunk size", req([POST, HOST, "Transfer-Encoding: chunked"], b"-5\r\nhello\r\n0\r\n\r\n"), 400),
    ("chunk size overflow", req([POST, HOST, "Transfer-Encoding: chunked"], b"1" + b"0" * 16 + b"\r\nx\r\n0\r\n\r\n"),
     400),
    ("chunk data without CRLF", req([POST, HOST, "Transfer-Encoding: chunked"], b"5\r\nhelloXX0\r\n\r\n"), 400),
    ("chunk size line with bare LF", req([POST, HOST, "Transfer-Encoding: chunked"], b"5\nhello\r\n0\r\n\r\n"), 400),
    ("bare CR in request line", b"GET /v1/models\rX HTTP/1.1\r\nHost: localhost\r\n\r\n", 400),
    ("invalid version", req(["GET /v1/models HTTP/1.x", HOST]), 400),
    ("invalid version token", req(["GET /v1/models HTTX/1.1", HOST]), 400),
    ("lower-case version", req(["GET /v1/models http/1.1", HOST]), 400),
    ("HTTP/2.0 over HTTP/1 framing", req(["GET /v1/models HTTP/2.0", HOST]), 505),
    ("invalid method", req(["G@T /v1/models HTTP/1.1", HOST]), 400),
    ("two spaces in request line", req(["GET  /v1/models HTTP/1.1", HOST]), 400),
    ("request target with space", req(["GET /v1/mo dels HTTP/1.1", HOST]), 400),
    ("request target not origin-form", req(["GET v1/models HTTP/1.1", HOST]), 400),
    ("unknown method", req(["BREW /pot HTTP/1.1", HOST]), 501),
    ("leading empty line", b"\r\nGET /v1/models HTTP/1.1\r\nHost: localhost\r\n\r\n", 400),
    ("unsupported expectation", req([POST, HOST, "Expect: 200-ok", "Content-Length: 0"]), 417),
    ("non-chunked transfer coding before chunked", req([POST, HOST, "Transfer-Encoding: gzip, chunked"],
                                                       b"0\r\n\r\n"), 501),
]


class StrictFramingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.certs = make_certs(os.path.join(cls.tmp.path, "certs"))
        cls.standin = start_standin(cls.certs)
        cls.gateway = Gateway(
            gateway_yaml(cls.certs, cluster_yaml("paris", f"127.0.0.1:{cls.standin.port}", cls.certs),
                         limits="  max_request_line: 1KiB\n  max_header_bytes: 8KiB\n  max_headers: 50\n"
                                "  max_body_bytes: 64KiB\n",
                         timeouts="  request_header: 1s\n  request_body: 1s\n"),
            cls.tmp.path)

    @classmethod
    def tearDownClass(cls):
        cls.gateway.stop()
        cls.standin.stop()
        cls.tmp.cleanup()

    def test_plain_http_to_the_tls_port_is_told_so(self):
        # As nginx does: a 400 in plain HTTP that says what happened, not a silent close; counted
        # (probe round 28: it left no trace an operator could find).
        before = metric(self.gateway, "sovgw_plain_http_connections_total")
        for method in ("GET", "POST"):
            with self.subTest(method), socket.create_connection(("127.0.0.1", self.gateway.port), timeout=10) as s:
                s.sendall(f"{method} /v1/models HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n".encode())
                resp = Reader(s).read_response()
                self.assertEqual(resp.status, 400, resp.raw_head)
                self.assertEqual(resp.json()["error"]["code"], "plain_http_to_https_port")
                self.assertIn("https://", resp.json()["error"]["message"])
        self.assertEqual(metric(self.gateway, "sovgw_plain_http_connections_total"), before + 2)

    def assert_rejected(self, raw, status, name):
        with tls_connect(self.gateway.port, self.certs) as s:
            s.sendall(raw)
            reader = Reader(s)
            resp = reader.read_response()
            self.assertEqual(resp.status, status, f"{name}: {resp.raw_head}")
            self.assertEqual(resp.header("connection"), "close", name)
            self.assertEqual(resp.header("content-type"), "application/json", name)
            err = resp.json()["error"]
            self.assertTrue(err["message"], name)
            self.assertTrue(err["code"], name)
            self.assertEqual(err["request_id"], resp.header("x-request-id"), name)
            self.assertTrue(reader.closed_by_peer(), f"{name}: connection left open")
            self.assertEqual(reader.buf, b"", f"{name}: bytes after the error response")
        # The gateway still serves the next client.
        self.assertEqual(exchange(self.gateway.port, self.certs, GOOD).status, 200, f"after {name}")

    def test_every_malformed_request_is_refused_and_closed(self):
        for name, raw, status in BAD_REQUESTS:
            with self.subTest(name):
                self.assert_rejected(raw, status, name)

    def test_pipelined_bytes_after_a_framing_error_are_not_processed(self):
        bad = req([POST, HOST, "Content-Length: 5", "Content-Length: 6"], b"hello!")
        before = self.standin_requests()
        with tls_connect(self.gateway.port, self.certs) as s:
            s.sendall(bad + GOOD + GOOD)
            reader = Reader(s)
            self.assertEqual(reader.read_response().status, 400)
            self.assertTrue(reader.closed_by_peer())
            self.assertEqual(reader.buf, b"")
        # The only request the cluster saw since `before` is the stats request that read `before`.
        self.assertEqual(self.standin_requests(), before + 1, "a pipelined request reached the cluster")

    def standin_requests(self):
        """How many requests the cluster had received before this one."""
        r = exchange(self.gateway.port, self.certs, req(["GET /debug/stats HTTP/1.1", HOST]))
        return r.json()["requests"] - 1

    def test_request_line_too_long_is_414(self):
        self.assert_rejected(req(["GET /" + "a" * 2000 + " HTTP/1.1", HOST]), 414, "long request line")

    def test_too_many_headers_is_431(self):
        self.assert_rejected(req(["GET /v1/models HTTP/1.1", HOST] + [f"X-H{i}: {i}" for i in range(60)]), 431,
                             "too many headers")

    def test_header_section_too_large_is_431(self):
        self.assert_rejected(req(["GET /v1/models HTTP/1.1", HOST] + [f"X-Big{i}: " + "v" * 1000 for i in range(12)]),
                             431, "header section too large")

    def test_header_section_limit_is_its_own(self):
        # 8,6xx bytes of fields under a 8 KiB limit: a short request line lends them nothing.
        fields = [f"X-Big{i}: " + "v" * 950 for i in range(9)]
        self.assertGreater(sum(len(f) + 2 for f in fields), 8 * 1024)
        self.assert_rejected(req(["GET /v1/models HTTP/1.1", HOST] + fields), 431, "header section over the limit")
        ok = fields[:8]  # 7,7xx bytes: within it
        with tls_connect(self.gateway.port, self.certs) as s:
            s.sendall(req(["GET /v1/models HTTP/1.1", HOST] + ok))
            self.assertEqual(Reader(s).read_response().status, 200)

    def test_a_trickled_body_is_cut_at_the_minimum_rate(self):
        # One byte every 0.4 s never trips the 1 s gap between reads, but falls far below
        # limits.min_body_rate (1 KiB/s by default) once request_body has passed: 408, not served.
        with tls_connect(self.gateway.port, self.certs) as s:
            s.sendall(req([POST, HOST, JSON, "Content-Length: 30"]))
            s.settimeout(0.4)
            reader = Reader(s)
            status = None
            for _ in range(30):
                try:
                    s.sendall(b" ")
                except OSError:
                    break
                try:
                    status = reader.read_response().status
                    break
                except (socket.timeout, TimeoutError):
                    continue
            self.assertEqual(status, 408)

    def test_body_over_the_limit_is_413(self):
        self.assert_rejected(req([POST, HOST, "Content-Length: 100000"], b"x" * 100), 413, "content-length too large")
        chunk = b"8000\r\n" + b"x" * 0x8000 + b"\r\n"
        self.assert_rejected(req([POST, HOST, "Transfer-Encoding: chunked"], chunk * 3 + b"0\r\n\r\n"), 413,
                             "chunked body too large")

    def test_a_client_that_sends_its_whole_large_body_first_still_reads_the_413(self):
        # What Node's HTTP client (the OpenAI SDK) does: the whole body, then the answer. 4 MiB over
        # the 64 KiB limit: the gateway reads and drops it after answering, instead of resetting the
        # connection under the client's feet.
        body = b"x" * (4 * 1024 * 1024)
        with tls_connect(self.gateway.port, self.certs) as s:
            s.sendall(req([POST, HOST, f"Content-Length: {len(body)}"], body))
            resp = Reader(s).read_response()
        self.assertEqual(resp.status, 413)
        self.assertEqual(resp.json()["error"]["code"], "request_too_large")

    def test_slow_headers_get_408_and_close(self):
        with tls_connect(self.gateway.port, self.certs) as s:
            s.sendall(b"GET /v1/models HTTP/1.1\r\nHost: local")
            reader = Reader(s)
            resp = reader.read_response()
            self.assertEqual(resp.status, 408)
            self.assertEqual(resp.header("connection"), "close")
            self.assertTrue(reader.closed_by_peer())

    def test_slow_body_gets_408(self):
        with tls_connect(self.gateway.port, self.certs) as s:
            s.sendall(req([POST, HOST, "Content-Length: 10"], b"12345"))
            resp = Reader(s).read_response()
            self.assertEqual(resp.status, 408)
        # Recorded as far as it came (probe round 34: request_bytes 0), as a chunked body is.
        rid = resp.header("x-request-id")
        line = lambda: [o for o in self.gateway.logs() if o.get("msg") == "request" and o.get("request_id") == rid]
        self.assertTrue(wait_until(lambda: len(line()) == 1))
        self.assertEqual(line()[0]["request_bytes"], 5)

    def test_chunked_request_body_is_forwarded_de_chunked(self):
        body = CHAT
        chunked = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 7]), body[i:i + 7]) for i in range(0, len(body), 7))
        raw = req(["POST /debug/headers HTTP/1.1", HOST, JSON, "Transfer-Encoding: chunked"],
                  chunked + b"0\r\nX-Trailer-Injected: yes\r\n\r\n")
        resp = exchange(self.gateway.port, self.certs, raw)
        self.assertEqual(resp.status, 200)
        seen = resp.json()
        self.assertEqual(seen["body"], body.decode())
        self.assertEqual(seen["headers"]["content-length"], str(len(body)))
        self.assertNotIn("transfer-encoding", seen["headers"])
        self.assertNotIn("x-trailer-injected", seen["headers"], "a trailer became a header")

    def test_chunk_extensions_are_accepted(self):
        raw = req([POST, HOST, JSON, "Transfer-Encoding: chunked"],
                  b"%x;name=value\r\n%s\r\n0\r\n\r\n" % (len(CHAT), CHAT))
        self.assertEqual(exchange(self.gateway.port, self.certs, raw).status, 200)

    def test_equal_duplicate_content_length_is_accepted(self):
        raw = req([POST, HOST, JSON, f"Content-Length: {len(CHAT)}", f"Content-Length: {len(CHAT)}"], CHAT)
        self.assertEqual(exchange(self.gateway.port, self.certs, raw).status, 200)

    def test_expect_100_continue(self):
        with tls_connect(self.gateway.port, self.certs) as s:
            s.sendall(req([POST, HOST, JSON, f"Content-Length: {len(CHAT)}", "Expect: 100-continue"]))
            reader = Reader(s)
            interim = reader.read_until(b"\r\n\r\n")
            self.assertTrue(interim.startswith(b"HTTP/1.1 100 Continue\r\n"), interim)
            s.sendall(CHAT)
            self.assertEqual(reader.read_response().status, 200)

    def test_expect_100_continue_with_too_large_body_gets_413_without_100(self):
        with tls_connect(self.gateway.port, self.certs) as s:
            s.sendall(req([POST, HOST, "Content-Length: 1000000", "Expect: 100-continue"]))
            resp = Reader(s).read_response()
            self.assertEqual(resp.status, 413)

    def test_absolute_form_target_is_accepted(self):
        raw = req(["GET https://localhost/v1/models HTTP/1.1", HOST])
        self.assertEqual(exchange(self.gateway.port, self.certs, raw).status, 200)

    def test_http10_without_host_is_served_and_closed(self):
        with tls_connect(self.gateway.port, self.certs) as s:
            s.sendall(b"GET /v1/models HTTP/1.0\r\n\r\n")
            reader = Reader(s)
            resp = reader.read_response()
            self.assertEqual(resp.status, 200)
            self.assertTrue(reader.closed_by_peer())

    def test_errors_are_counted_in_metrics(self):
        before = metric(self.gateway, "sovgw_requests_total")
        exchange(self.gateway.port, self.certs, req([POST, HOST, "Content-Length: +1"], b"x"))
        self.assertGreaterEqual(metric(self.gateway, "sovgw_requests_total"), before + 1)
        log = self.gateway.wait_for_json(lambda o: o.get("msg") == "request" and o.get("status") == 400)
        self.assertEqual(log["error"], "bad_request")


if __name__ == "__main__":
    unittest.main()
