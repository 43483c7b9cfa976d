"""The gateway classifies what the cluster will see (examples/policies/eu_policy.yaml, real gateway and
stand-in cluster): JSON escapes do not hide personal data from the detectors or from redaction, and
a body the gateway cannot read the way the cluster reads it is refused before it leaves."""

import base64
import binascii
import gzip
import json
import os
import random
import struct
import unittest
import zlib

from support import (SOURCE, Gateway, TempDir, cluster_yaml, eu_policy_dedicated_cluster, exchange,
                     gateway_yaml, make_certs, request_bytes, start_standin)

POLICY = os.path.join(SOURCE, "examples", "policies", "eu_policy.yaml")
JSON = {"Content-Type": "application/json"}


def chat(content, model="mistral-small"):
    """A chat body with `content` inserted verbatim (already JSON-escaped) into the string."""
    return ('{"model":"%s","messages":[{"role":"user","content":"%s"}]}' % (model, content)).encode()


def multipart(parts, boundary="sovgw-b0undary"):
    """A multipart/form-data body of (Content-Disposition value, other header fields, content) parts,
    and its Content-Type."""
    out = b""
    for disposition, headers, content in parts:
        out += b"--" + boundary.encode() + b"\r\nContent-Disposition: " + disposition.encode() + b"\r\n"
        for k, v in headers.items():
            out += f"{k}: {v}\r\n".encode()
        out += b"\r\n" + content + b"\r\n"
    return out + b"--" + boundary.encode() + b"--\r\n", f"multipart/form-data; boundary={boundary}"


def wrap(text, width):
    return b"\r\n".join(text[i:i + width].encode() for i in range(0, len(text), width))


def batch_line():
    """A JSONL batch line (OpenAI's Batch API) whose tool call arguments hold an address whose '@' is
    escaped once more inside them: JSON in a string in JSON, three levels."""
    arguments = json.dumps({"to": "alice.smith\\u0040example.com"})
    return json.dumps({"custom_id": "1", "method": "POST", "url": "/v1/chat/completions", "body": {
        "model": "mistral-small", "messages": [{"role": "assistant", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "send", "arguments": arguments}}]}]}}).encode() + b"\n"


def png_bytes(side=16):
    """A PNG of random pixels (which do not compress): binary data, some 800 bytes."""
    rng = random.Random(29)
    raw = b"".join(b"\x00" + bytes(rng.randrange(256) for _ in range(side * 3)) for _ in range(side))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


# The refusal of binary data under a redact obligation (off the API, where a body is not JSON).
BINARY_REFUSED = "the body holds binary data (an image, audio, an archive, a file's bytes) that the detectors cannot read for "


class BodyClassificationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.certs = make_certs(os.path.join(cls.tmp.path, "certs"))
        cls.standin = start_standin(cls.certs)
        endpoint = f"127.0.0.1:{cls.standin.port}"
        # Hosted in Frankfurt by a US-operated company, and listed first: only personal data (which
        # personal-data-eu-only pins to EU-operated clusters) keeps a request off it.
        hyperscaler = cluster_yaml("de-fra-hyperscaler", endpoint, cls.certs).replace(
            "country: FR", "country: DE").replace("operator_jurisdiction: EU", "operator_jurisdiction: US")
        paris = cluster_yaml("paris", endpoint, cls.certs)
        dedicated = eu_policy_dedicated_cluster(endpoint, cls.certs)
        # The test's own fields are forwarded (forward_fields), and so read by the detectors like
        # every forwarded field.
        cls.gateway = Gateway(gateway_yaml(cls.certs, hyperscaler + paris + dedicated, extra=(
            f"policy: {POLICY}\n"
            'forward_fields: ["x-standin-*", x-customer, x-caller, x-to, x-note, x-iban]\n')),
                              cls.tmp.path)

    @classmethod
    def tearDownClass(cls):
        cls.gateway.stop()
        cls.standin.stop()
        cls.tmp.cleanup()

    def send(self, body, headers=JSON, path="/v1/chat/completions"):
        return exchange(self.gateway.port, self.certs, request_bytes(path=path, body=body, headers=headers))

    def log_of(self, resp):
        request_id = resp.header("x-request-id")
        return self.gateway.wait_for_json(lambda o: o.get("msg") == "request" and o.get("request_id") == request_id)

    def assert_refused(self, resp, status, code, text):
        """Refused by the gateway itself (its JSON error with the request id), never forwarded."""
        self.assertEqual(resp.status, status, resp.body)
        err = resp.json()["error"]
        self.assertEqual(err["code"], code)
        self.assertIn(text, err["message"])
        self.assertEqual(err["request_id"], resp.header("x-request-id"))
        log = self.log_of(resp)
        self.assertEqual(log["cluster"], "")
        self.assertEqual(log["error"], code)

    def test_an_escaped_email_is_personal_data_like_a_literal_one(self):
        clean = self.send(chat("Mail the team"))
        self.assertEqual(clean.status, 200)
        self.assertEqual(self.log_of(clean)["cluster"], "de-fra-hyperscaler")  # the control
        for content in ("Mail alice@example.com", "Mail alice\\u0040example.com",
                        "Mail \\u0061lice\\u0040example\\u002ecom"):
            with self.subTest(content):
                resp = self.send(chat(content))
                self.assertEqual(resp.status, 200, resp.body)
                log = self.log_of(resp)
                self.assertEqual(log["cluster"], "paris")
                self.assertEqual((log["data_classes"], log["detectors"]), ("personal", "email"))
                self.assertIn("personal-data-eu-only", log["rules"])

    def test_an_email_in_characters_a_model_reads_as_ascii_is_personal_data(self):
        tags = "".join(chr(0xE0000 + ord(c)) for c in "alice@example.com")
        for content in ("Mail alice\\uff20example.com",              # FULLWIDTH COMMERCIAL AT, escaped
                        "Mail alice\uff20example.com",               # ... as UTF-8
                        "Mail ali\\u200bce@exa\u00admple.com",      # zero width space, soft hyphen
                        "Mail alic\\ud835\\udc1e@example.com",       # MATHEMATICAL BOLD SMALL E
                        "Mail " + tags):                             # invisible tag characters
            with self.subTest(content):
                resp = self.send(chat(content))
                self.assertEqual(resp.status, 200, resp.body)
                log = self.log_of(resp)
                self.assertEqual((log["cluster"], log["data_classes"]), ("paris", "personal"))

    def test_a_name_after_an_honorific_or_an_introduction_is_personal_data(self):
        # eu_policy's personal class lists person_name: a person named in a prompt pins it to the EU.
        control = self.send(chat("Bonjour Madame, une question sur Paris"))
        self.assertEqual(control.status, 200, control.body)
        self.assertEqual(self.log_of(control)["cluster"], "de-fra-hyperscaler")
        for content in ("Bonjour Madame Jeanne Dupont, voici votre dossier",
                        "Hallo, mein Name ist Max Mustermann",
                        "Ciao, mi chiamo Giulia Verdi",
                        "je m'appelle Chlo\\u00e9 Martin",  # escaped
                        "Madame \uff2a\uff45\uff41\uff4e\uff4e\uff45 Dupont"):  # fullwidth letters
            with self.subTest(content):
                resp = self.send(chat(content))
                self.assertEqual(resp.status, 200, resp.body)
                log = self.log_of(resp)
                self.assertEqual((log["cluster"], log["data_classes"]), ("paris", "personal"))
                self.assertIn("personal-data-eu-only", log["rules"])

    def test_a_disguised_iban_is_redacted_whole(self):
        digits = "".join(chr(0xFF10 + int(d)) if d.isdigit() else d for d in "89 3704 0044 0532 0130 00")
        resp = self.send(chat("Pay to DE" + digits + " please"), path="/debug/headers")
        self.assertEqual(resp.status, 200, resp.body)
        forwarded = json.loads(resp.json()["body"])
        self.assertEqual(forwarded["messages"][0]["content"], "Pay to [redacted:iban] please")

    def test_an_escaped_iban_is_redacted_in_what_the_cluster_receives(self):
        body = chat("Pay to DE89\\u00203704 0044 0532 0130 00 please")
        resp = self.send(body, path="/debug/headers")
        self.assertEqual(resp.status, 200, resp.body)
        forwarded = json.loads(resp.json()["body"])
        self.assertEqual(forwarded["messages"][0]["content"], "Pay to [redacted:iban] please")
        self.assertEqual(self.log_of(resp)["redacted"], 1)

    def test_a_stream_reaches_the_cluster_as_written_but_for_include_usage(self):
        # The gateway asks for usage on a stream by editing stream_options in place: numbers no
        # double holds and repeated nested keys reach the cluster exactly as the detectors read them.
        body = (b'{"model":"mistral-small","stream":true,"seed":1234567890123456789012345678901,'
                b'"temperature":1E400,"top_p":1.5e-5000,'
                b'"messages":[{"role":"user","content":"first","content":"second"}]}')
        resp = self.send(body, headers={**JSON, "X-Standin-Echo-Body": "1"})
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(resp.body, body[:-1] + b',"stream_options":{"include_usage":true}}')
        options = (b'{"model":"mistral-small","stream":true,"stream_options":{"include_usage":false},'
                   b'"n":18446744073709551616,"messages":[]}')
        resp = self.send(options, headers={**JSON, "X-Standin-Echo-Body": "1"})
        self.assertEqual(resp.body, options.replace(b"false", b"true"))

    def test_json_inside_a_json_string_is_read_decoded_too(self):
        # Tool call arguments are JSON in a string: the cluster decodes them again before the model
        # reads them, so an escape in there hides nothing.
        def tool_call(arguments):
            return json.dumps({"model": "mistral-small", "messages": [{"role": "assistant", "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "send", "arguments": arguments}}]}]}).encode()
        resp = self.send(tool_call('{"to": "alice\\u0040example.com"}'))  # the decoded string holds \u0040
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual((self.log_of(resp)["cluster"], self.log_of(resp)["data_classes"]), ("paris", "personal"))
        # An IBAN the policy must redact, hidden the same way, is redacted where the client wrote
        # it: the arguments stay JSON, with the escapes that spelled it replaced.
        hidden_iban = tool_call('{"iban": "DE89\\u00203704 0044 0532 0130 00"}')
        resp = self.send(hidden_iban, headers={**JSON, "X-Standin-Echo-Body": "1"})
        self.assertEqual(resp.status, 200, resp.body)
        arguments = json.loads(resp.body)["messages"][0]["tool_calls"][0]["function"]["arguments"]
        self.assertEqual(json.loads(arguments), {"iban": "[redacted:iban]"})
        # Percent-encoding and HTML references a model reads through, and an IBAN split over two
        # content parts (a cluster joins them with a line break, or with nothing): found and redacted too.
        for content in ["IBAN DE89%203704%200044%200532%200130%2000", "IBAN DE89&nbsp;3704 0044 0532 0130 00",
                        [{"type": "text", "text": "IBAN DE89 3704"}, {"type": "text", "text": "0044 0532 0130 00"}]]:
            body = json.dumps({"model": "mistral-small", "messages": [{"role": "user", "content": content}]}).encode()
            resp = self.send(body, headers={**JSON, "X-Standin-Echo-Body": "1"})
            self.assertEqual(resp.status, 200, resp.body)
            self.assertNotIn(b"3704", resp.body)
            self.assertIn(b"[redacted:iban]", resp.body)

    def test_text_parts_are_read_as_a_cluster_joins_them(self):
        # vLLM's multimodal chat templates join a message's text parts with nothing between them: an
        # address and a card number cut mid-word across parts are what the model reads.
        parts = [{"type": "text", "text": "Send it to alice"}, {"type": "text", "text": "@example.com, card 4111 1111"},
                 {"type": "text", "text": " 1111 1111"}]
        body = json.dumps({"model": "mistral-small", "messages": [{"role": "user", "content": parts}]}).encode()
        resp = self.send(body, headers={**JSON, "X-Standin-Echo-Body": "1"})
        self.assertEqual(resp.status, 200, resp.body)
        log = self.log_of(resp)
        self.assertEqual((log["cluster"], log.get("data_classes")), ("paris", "personal"))
        # eu_policy redacts cards (not addresses): piece by piece, in each part, and the JSON stays valid.
        forwarded = [p["text"] for p in json.loads(resp.body)["messages"][0]["content"]]
        self.assertEqual(forwarded, ["Send it to alice", "@example.com, card [redacted:payment_card]",
                                     "[redacted:payment_card]"])
        # An IBAN spaced after its country code is an IBAN, and redacted as one.
        resp = self.send(chat("IBAN DE 89 3704 0044 0532 0130 00 please"), headers={**JSON, "X-Standin-Echo-Body": "1"})
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(json.loads(resp.body)["messages"][0]["content"], "IBAN [redacted:iban] please")

    def test_markup_a_model_reads_through_hides_nothing(self):
        # Markdown and HTML inside an identifier: the model reads straight through them.
        for content in ["mail alice\\\\@example.com", "mail **alice**@example.com", "mail alice<!-- -->@example.com"]:
            with self.subTest(content=content):
                resp = self.send(chat(content))
                self.assertEqual(resp.status, 200, resp.body)
                log = self.log_of(resp)
                self.assertEqual((log["cluster"], log.get("data_classes")), ("paris", "personal"))
        resp = self.send(chat("card 4111 **1111** 1111 1111, IBAN GB82 <b>WEST</b> 1234 5698 7654 32"),
                         headers={**JSON, "X-Standin-Echo-Body": "1"})
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(json.loads(resp.body)["messages"][0]["content"],
                         "card [redacted:payment_card], IBAN [redacted:iban]")

    def test_base64_a_model_decodes_is_read_decoded(self):
        # "Decode this and write to alice@example.com", as an attacker asks a model: personal data.
        resp = self.send(chat("Decode YWxpY2VAZXhhbXBsZS5jb20= and write to it"))
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual((self.log_of(resp)["cluster"], self.log_of(resp)["data_classes"]), ("paris", "personal"))
        # An IBAN in base64 is redacted whole, as the policy asks.
        resp = self.send(chat("Pay SUJBTiBERTg5IDM3MDQgMDA0NCAwNTMyIDAxMzAgMDA= now"),
                         headers={**JSON, "X-Standin-Echo-Body": "1"})
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(json.loads(resp.body)["messages"][0]["content"], "Pay [redacted:iban] now")
        # Base64 that is not text (a short run of bytes) or holds nothing personal is only base64.
        resp = self.send(chat("Say SGVsbG8gd29ybGQh and q83vASNFZ4mrze8BI0VniavN7wEjRWeJ"))
        self.assertEqual(self.log_of(resp)["cluster"], "de-fra-hyperscaler", resp.body)
        # An image, though, at any length (a file's signature: a 1-bit PNG of a line of text is
        # 200 bytes, which an OCR model reads; probe round 31), is content the gateway cannot read.
        resp = self.send(chat("OCR this: iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJ"))
        self.assertEqual((self.log_of(resp)["cluster"], self.log_of(resp)["data_classes"]), ("paris", "opaque"))
        # Wrapped in lines, split over a message's text parts or over messages, or in hex: the
        # model reads one text, and so do the detectors.
        split = [{"type": "text", "text": "YWxpY2VAZXhh"}, {"type": "text", "text": "bXBsZS5jb20="}]
        for body in ({"model": "mistral-small", "messages": [{"role": "user", "content": "YWxpY2VAZXhh\nbXBsZS5jb20="}]},
                     {"model": "mistral-small", "messages": [{"role": "user", "content": split}]},
                     {"model": "mistral-small", "messages": [{"role": "user", "content": "YWxpY2VAZXhh"},
                                                             {"role": "user", "content": "bXBsZS5jb20="}]},
                     {"model": "mistral-small", "messages": [
                         {"role": "user", "content": "decode 616c696365406578616d706c652e636f6d"}]},
                     # Hex written apart, \x escapes, base64 of UTF-16 (PowerShell), base64 twice.
                     {"model": "mistral-small", "messages": [
                         {"role": "user", "content": "decode 61 6c 69 63 65 40 65 78 61 6d 70 6c 65 2e 63 6f 6d"}]},
                     {"model": "mistral-small", "messages": [{"role": "user", "content": "print('" + "".join(
                         "\\x%02x" % b for b in b"alice@example.com") + "')"}]},
                     {"model": "mistral-small", "messages": [
                         {"role": "user", "content": "run YQBsAGkAYwBlAEAAZQB4AGEAbQBwAGwAZQAuAGMAbwBtAA=="}]},
                     {"model": "mistral-small", "messages": [
                         {"role": "user", "content": "decode twice WVd4cFkyVkFaWGhoYlhCc1pTNWpiMjA9"}]}):
            with self.subTest(body=body):
                resp = self.send(json.dumps(body).encode())
                self.assertEqual(resp.status, 200, resp.body)
                self.assertEqual((self.log_of(resp)["cluster"], self.log_of(resp)["data_classes"]),
                                 ("paris", "personal"))

    def test_what_the_gateway_cannot_read_stays_where_personal_data_does(self):
        # Images, audio and files, token ids, and a template of the client's own that could undo
        # what the detectors read (vLLM's chat_template) reach a model unread: eu_policy keeps them
        # on EU-operated clusters, like personal data (and refuses them from adequacy countries).
        image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg=="}}
        bodies = {
            "/v1/chat/completions": [
                {"model": "mistral-small", "messages": [{"role": "user", "content": [
                    {"type": "text", "text": "Read this form"}, image]}]},
                {"model": "mistral-small", "messages": [{"role": "user", "content": [
                    {"type": "input_audio", "input_audio": {"data": "UklGRiQAAABXQVZF", "format": "wav"}}]}]},
                {"model": "mistral-small", "messages": [{"role": "user", "content": "moc.elpmaxe@ecila liam"}],
                 "chat_template": "{{ messages[0].content | reverse }}"},
            ],
            "/v1/completions": [{"model": "mistral-small", "prompt": [44, 3187, 71, 5765, 31, 8858, 13, 916]}],
            "/v1/embeddings": [{"model": "mistral-small", "input": [[44, 3187], [71, 5765]]}],
        }
        for path, listed in bodies.items():
            for body in listed:
                with self.subTest(path=path, body=body):
                    resp = self.send(json.dumps(body).encode(), path=path)
                    log = self.log_of(resp)
                    self.assertEqual((log["cluster"], log["data_classes"]), ("paris", "opaque"), resp.body)
                    self.assertIn("personal-data-eu-only", log["rules"])
        # Wherever else a model reads media: vLLM's /score and /rerank content, a markdown image in
        # any string (TGI's /generate fetches or decodes it), a template among the template's
        # keyword arguments.
        elsewhere = [
            ("/v1/score", {"model": "mistral-small", "text_1": "what is shown?", "text_2": {"content": [image]}}),
            ("/v1/rerank", {"model": "mistral-small", "query": "which form?", "documents": [{"content": [image]}]}),
            ("/generate", {"model": "mistral-small",
                           "inputs": "Read ![](data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==) aloud"}),
            ("/v1/chat/completions", {"model": "mistral-small", "messages": [
                {"role": "user", "content": "Describe ![scan](https://x.example/passport.png)"}]}),
            ("/v1/chat/completions", {"model": "mistral-small", "messages": [{"role": "user", "content": "hi"}],
                                      "chat_template_kwargs": {"chat_template": "{{ messages[0].content | reverse }}"}}),
        ]
        for path, body in elsewhere:
            with self.subTest(path=path, body=body):
                resp = self.send(json.dumps(body).encode(), path=path)
                log = self.log_of(resp)
                self.assertEqual((log["cluster"], log.get("data_classes")), ("paris", "opaque"), resp.body)
        # The controls: text, and the same keys in a tool's parameters, go where any request goes.
        for body in ({"model": "mistral-small", "prompt": ["Say hello", "to the team"]},
                     {"model": "mistral-small", "messages": [{"role": "user", "content": "see [the docs](https://x.example)"}],
                      "response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": {
                          "type": "object", "properties": {"image_url": {"type": "string"}}}}}},
                     {"model": "mistral-small", "messages": [{"role": "user", "content": "hi"}], "chat_template": None,
                      "tools": [{"type": "function", "function": {"name": "f", "parameters": {
                          "type": "object", "properties": {"image_url": {"type": "string"}}}}}]}):
            with self.subTest(control=body):
                path = "/v1/completions" if "prompt" in body else "/v1/chat/completions"
                resp = self.send(json.dumps(body).encode(), path=path)
                self.assertEqual(self.log_of(resp)["cluster"], "de-fra-hyperscaler", resp.body)
        # A card number as a JSON number (a tool's schema, rendered into the prompt as digits) is
        # personal data; it cannot be redacted in place (a string would change its type): 415.
        card = {"model": "mistral-small", "messages": [{"role": "user", "content": "Is this valid?"}],
                "tools": [{"type": "function", "function": {"name": "check", "parameters": {
                    "type": "object", "properties": {"card": {"type": "integer", "enum": [4111111111111111]}}}}}]}
        self.assert_refused(self.send(json.dumps(card).encode()), 415, "redaction_unsupported", "payment_card")
        # Off the API, a body that is not text (an image upload) is opaque too; the rule that then
        # applies also asks for redaction, which only a JSON body allows.
        upload = self.send(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", headers={"Content-Type": "image/png"},
                           path="/upload")
        self.assert_refused(upload, 415, "redaction_unsupported", BINARY_REFUSED)
        self.assertEqual(self.log_of(upload)["data_classes"], "opaque")

    def test_what_the_cluster_reads_outside_the_body_is_classified_too(self):
        # A cluster's logs keep the query string and the header fields as surely as the prompt: the
        # detectors read them (percent-decoded), and since the gateway forwards them as sent, a
        # finding there that the policy wants redacted refuses the request.
        body = chat("Summarise the meeting")
        sdk = dict(JSON, **{
            "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0.0.0 Safari/537.36",
            "X-Stainless-Package-Version": "4.104.0", "X-Stainless-Runtime-Version": "v20.19.2",
            "Idempotency-Key": "stainless-node-retry-ea99e45d-c31d-4dda-a4ac-1a3ff935a1f7",
            "traceparent": "00-da1f2875a4b6c37190ddf7860625600c-ec4649261eb023c6-01",
            "X-Amzn-Trace-Id": "Root=1-cca4d7dc-dd35a065da8983f140dc944f"})
        control = self.send(body, headers=sdk, path="/v1/chat/completions?api-version=2024-10-21")
        self.assertEqual(control.status, 200, control.body)
        self.assertEqual(self.log_of(control)["cluster"], "de-fra-hyperscaler")  # ids, versions: no data
        for path, headers in (("/v1/chat/completions?user=alice%40example.com", JSON),
                              ("/v1/chat/completions?user=alice@example.com", JSON),
                              ("/v1/chat/completions", dict(JSON, **{"X-Customer": "alice@example.com"})),
                              ("/v1/chat/completions", dict(JSON, **{"X-Caller": "Madame Jeanne Dupont"})),
                              ("/v1/chat/completions", dict(JSON, **{"X-To": "=?UTF-8?B?YWxpY2VAZXhhbXBsZS5jb20=?="})),
                              # escapes a server or a logger decodes, once or twice
                              ("/v1/chat/completions?u=alice%2540example.com", JSON),
                              ("/v1/chat/completions", dict(JSON, **{"X-Customer": "alice%40example.com"})),
                              ("/v1/chat/completions", dict(JSON, **{"X-Customer": "alice&#64;example.com"})),
                              ("/v1/chat/completions", dict(JSON, **{"X-Customer": "alice&#64example.com"})),
                              ("/v1/chat/completions", dict(JSON, **{"X-To": "=?UTF-8?Q?alice=40example.com?="})),
                              # encoded words joined and '_' read as a space, as mail libraries
                              # decode them (probe round 26)
                              ("/v1/chat/completions",
                               dict(JSON, **{"User-Agent": "=?UTF-8?Q?alice.smith=40ex?= =?UTF-8?Q?ample.com?="})),
                              ("/v1/chat/completions",
                               dict(JSON, **{"X-To": "=?UTF-8?B?YWxpY2Uuc21pdGhAZXg=?= =?utf-8?b?YW1wbGUuY29t?="})),
                              ("/v1/chat/completions", dict(JSON, **{"X-Caller": "=?UTF-8?Q?Tel_+49_30_1234_5678?="}))):
            with self.subTest(path=path, headers=headers):
                resp = self.send(body, headers=headers, path=path)
                self.assertEqual(resp.status, 200, resp.body)
                log = self.log_of(resp)
                self.assertEqual((log["cluster"], log["data_classes"]), ("paris", "personal"))
        for path, headers in (("/v1/chat/completions?note=DE89370400440532013000", JSON),
                              ("/v1/chat/completions?note=DE89+3704+0044+0532+0130+00", JSON),
                              ("/v1/chat/completions", dict(JSON, **{"X-Note": "card 4111 1111 1111 1111"})),
                              # One field given twice, which a server or a logger joins with ", ".
                              ("/v1/chat/completions", dict(JSON, **{"X-Iban": "GB82 WEST",
                                                                     "x-iban": "1234 5698 7654 32"})),
                              # Percent-encoded, beside an '=' that quoted-printable would read
                              # as a byte (probe round 25: "=41" ate the card's first digits).
                              ("/v1/chat/completions", dict(JSON, baggage="card=4111%201111%201111%201111")),
                              ("/v1/chat/completions",
                               dict(JSON, Referer="https://shop.example/pay?card=4111%201111%201111%201111"))):
            with self.subTest(path=path, headers=headers):
                self.assert_refused(self.send(body, headers=headers, path=path), 415, "redaction_unsupported",
                                    "target or a header field")
        # A field on no list never reaches the cluster: nothing of it to classify.
        resp = self.send(body, headers=dict(JSON, **{"X-Unlisted": "card 4111 1111 1111 1111"}))
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(self.log_of(resp)["cluster"], "de-fra-hyperscaler")

    def test_off_the_api_a_body_is_read_as_its_server_might_decode_it(self):
        plain = {"Content-Type": "text/plain"}
        control = self.send(b"hello team", headers=plain, path="/search")
        self.assertEqual(control.status, 404, control.body)  # the stand-in's own answer: forwarded
        self.assertEqual(self.log_of(control)["cluster"], "de-fra-hyperscaler")
        # Looks like JSON but is not strict JSON: a lenient server would read it, so it is refused.
        for body in (b'{"model":"m","content":"mail alice\\u0040example.com","user":"a","user":"b"}',
                     b'{"content":"alice\\u0040example.com",}', b'  [NaN]', b'\xef\xbb\xbf{"a":1}',
                     # UTF-16 and UTF-32 without a mark, white space first (Python's json.loads reads
                     # them by where the NULs are; probe round 22: these were read as opaque bytes)
                     *['\n {"model":"m"}'.encode(e) for e in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")],
                     # white space lenient parsers skip (probe round 24: read as plain text, the model unread)
                     *[lead + b'{"model":"m"}' for lead in (b"\x0c", b"\x0b", b"\x1e", b"\xc2\xa0", b"\xe2\x80\xa8",
                                                        b" \xef\xbb\xbf")],
                     "\x0c{\"model\":\"m\"}".encode("utf-16-le")):
            with self.subTest(body):
                self.assert_refused(self.send(body, headers=plain, path="/search"), 400,
                                    "invalid_json", "looks like JSON")
        # Percent-encoding, JSON escapes and HTML references are decoded for the detectors: what
        # eu_policy redacts (a card), found in a body the gateway cannot redact, is refused...
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        for body, headers in ((b"width=400&card=4111%201111%201111%201111", form),
                              (b"pay with 4111&#32;1111&#32;1111&#32;1111", plain)):
            with self.subTest(body):
                self.assert_refused(self.send(body, headers=headers, path="/tools/search"), 415,
                                    "redaction_unsupported", "the body holds payment_card")
        # ... while personal data it does not redact (an e-mail address) leaves nothing to redact:
        # forwarded, to the EU-operated cluster only (probe round 29: refused as if it had to be
        # redacted, naming detectors that had found nothing).
        for body, headers in ((b"prompt=mail+alice%40example.com", form),
                              (b"mail alice\\u0040example.com", plain), (b"mail alice&#64;example.com", plain)):
            with self.subTest(body):
                resp = self.send(body, headers=headers, path="/tools/search")
                self.assertEqual(resp.status, 404, resp.body)  # the stand-in's own answer: forwarded
                log = self.log_of(resp)
                self.assertEqual((log["cluster"], log["data_classes"]), ("paris", "personal"))
        # Ollama's /api/generate runs a model: its bodies are JSON, labelled so.
        self.assert_refused(self.send(b"prompt=hello", headers=form, path="/api/generate"), 415,
                            "unsupported_media_type", "must be application/json")
        # An upload (the SDK's files.create, audio transcriptions, image edits) is told what it is
        # refused for, not to send JSON it cannot send (probe round 29).
        upload = (b"--B\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n--B--\r\n")
        for path in ("/v1/files", "/v1/audio/transcriptions", "/v1/images/edits"):
            with self.subTest(path=path):
                self.assert_refused(self.send(upload, headers={"Content-Type": "multipart/form-data; boundary=B"},
                                              path=path), 415, "unsupported_media_type",
                                    "does not accept file, audio or image uploads (multipart/form-data)")
        # Strict JSON labelled text/plain that names a server is refused for that, not as "not
        # strict JSON" (probe round 29).
        resp = self.send(b'{"model":"m","prompt":"hi","api_base":"https://us.example/v1"}', headers=plain,
                         path="/inference")
        self.assertEqual(resp.status, 400, resp.body)
        error = resp.json()["error"]
        self.assertEqual(error["code"], "invalid_body")
        self.assertNotIn("not strict", error["message"])
        self.assertIn("api_base", error["message"])

    def test_a_multipart_body_is_read_as_its_server_decodes_it(self):
        # Probe round 29: off the API, what a MIME library decodes in a multipart body (RFC 2231
        # continuations, RFC 2047 words, base64 wrapped short or mixed with junk) hid personal data.
        # Read decoded now: personal data, kept to the EU-operated cluster (eu_policy redacts only
        # IBANs, cards and national ids, none of which is here: nothing to redact).
        email_b64 = base64.b64encode(b"Write to alice.smith@example.com").decode()
        cases = {
            "rfc2231 filename": multipart(
                [("form-data; name=\"file\"; filename*0*=UTF-8''alice.smi; filename*1*=th%40exam; "
                  "filename*2=\"ple.com.txt\"", {}, b"hello")]),
            "rfc2047 q words": multipart(
                [("form-data; name=\"file\"; filename=\"=?UTF-8?Q?alice.smith=40ex?= =?UTF-8?Q?ample.com?=\"",
                  {}, b"hello")]),
            "rfc2047 short b words": multipart(
                [("form-data; name=\"file\"; filename=\"=?UTF-8?B?YWxpY2Uu?= =?UTF-8?B?c21pdGhA?= "
                  "=?UTF-8?B?ZXhhbXBs?= =?UTF-8?B?ZS5jb20=?=\"", {}, b"hello")]),
            "base64 wrapped at 4": multipart(
                [("form-data; name=\"note\"", {"Content-Transfer-Encoding": "base64"}, wrap(email_b64, 4))]),
            "base64 wrapped at 8": multipart(
                [("form-data; name=\"note\"", {"Content-Transfer-Encoding": "base64"}, wrap(email_b64, 8))]),
            "base64 with junk": multipart(
                [("form-data; name=\"note\"", {"Content-Transfer-Encoding": "base64"},
                  "* ".join(email_b64[i:i + 3] for i in range(0, len(email_b64), 3)).encode())]),
            "quoted-printable soft breaks": multipart(
                [("form-data; name=\"note\"", {"Content-Transfer-Encoding": "quoted-printable"},
                  b"Write to alice.sm=\r\nith=40exam=\r\nple.com")]),
            # a JSONL batch whose tool call arguments hold the address escaped twice more
            "jsonl part": multipart([("form-data; name=\"file\"; filename=\"batch.jsonl\"",
                                      {"Content-Type": "application/jsonl"}, batch_line())]),
            "nested multipart": multipart(
                [("form-data; name=\"files\"", {"Content-Type": "multipart/mixed; boundary=inner"},
                  multipart([("attachment; filename=\"a.txt\"", {"Content-Transfer-Encoding": "base64"},
                              wrap(email_b64, 4))], boundary="inner")[0])]),
        }
        for case, (body, content_type) in cases.items():
            with self.subTest(case):
                resp = self.send(body, headers={"Content-Type": content_type}, path="/upload")
                log = self.log_of(resp)
                self.assertEqual((log["cluster"], log["data_classes"]), ("paris", "personal"), resp.body)
        # The controls: a text file and a small binary file, as curl and browsers upload them.
        text_file = multipart([("form-data; name=\"file\"; filename=\"notes.txt\"", {"Content-Type": "text/plain"},
                                b"Meeting notes: ship the release on Friday.\r\n"),
                               ("form-data; name=\"purpose\"", {}, b"assistants")])
        resp = self.send(text_file[0], headers={"Content-Type": text_file[1]}, path="/upload")
        self.assertNotEqual(resp.status, 415, resp.body)
        self.assertEqual(self.log_of(resp)["cluster"], "de-fra-hyperscaler")
        binary_file = multipart([("form-data; name=\"file\"; filename=\"a.bin\"",
                                  {"Content-Type": "application/octet-stream"}, bytes(range(128, 256)) + bytes(16))])
        resp = self.send(binary_file[0], headers={"Content-Type": binary_file[1]}, path="/upload")
        self.assert_refused(resp, 415, "redaction_unsupported", BINARY_REFUSED)
        self.assertEqual(self.log_of(resp)["data_classes"], "opaque")  # as it was: not text
        # Probe round 40: the message said the gateway could redact it in a JSON body and told the
        # client to send application/json, advice that only works because binary data in a JSON
        # body is opaque and redacted by no one. It says what the data is and which detectors the
        # policy requires, and advises nothing that evades them.
        gzip_part = multipart([("form-data; name=\"f\"", {"Content-Type": "application/gzip"},
                                b"\x1f\x8b\x08\x00abc")])
        resp = self.send(gzip_part[0], headers={"Content-Type": gzip_part[1]}, path="/upload")
        self.assert_refused(resp, 415, "redaction_unsupported", BINARY_REFUSED)
        message = resp.json()["error"]["message"]
        self.assertRegex(message, r"cannot read for [a-z_, ]+, which the residency policy requires redacting: ")
        self.assertIn("the request is refused", message)
        self.assertNotIn("application/json", message)
        self.assertNotIn("JSON", message)

    def test_a_multipart_encoding_the_gateway_does_not_decode_is_refused(self):
        gz = gzip.compress(b"Write to alice.smith@example.com")
        uu = b"begin 644 a.txt\r\n" + binascii.b2a_uu(b"alice.smith@example.com") + b"`\r\nend\r\n"
        for headers, content, code, text in (
                ({"Content-Transfer-Encoding": "x-uuencode"}, uu, "unsupported_media_type", "'x-uuencode'"),
                ({"Content-Type": "text/plain; charset=utf-7"}, b"Write to alice.smith+AEA-example.com",
                 "unsupported_media_type", "'utf-7'"),
                ({"Content-Encoding": "gzip"}, gz, "unsupported_content_encoding", "'gzip'")):
            body, content_type = multipart([("form-data; name=\"note\"", headers, content)])
            with self.subTest(headers):
                resp = self.send(body, headers={"Content-Type": content_type}, path="/upload")
                self.assert_refused(resp, 415, code, text)
                self.assertIn("part 1", resp.json()["error"]["message"])
        # The same charset for the whole body.
        resp = self.send(b"Write to alice.smith+AEA-example.com", headers={"Content-Type": "text/plain; charset=utf-7"},
                         path="/upload")
        self.assert_refused(resp, 415, "unsupported_media_type", "'utf-7'")

    def test_binary_written_as_text_is_opaque(self):
        png = png_bytes()
        self.assertGreater(len(png), 256)
        png_b64 = base64.b64encode(png).decode()
        part = multipart([("form-data; name=\"file\"; filename=\"scan.png\"",
                           {"Content-Type": "image/png", "Content-Transfer-Encoding": "base64"}, wrap(png_b64, 76))])
        svg = ('<svg xmlns="http://www.w3.org/2000/svg"><image href="data:image/png;base64,%s"/></svg>'
               % base64.b64encode(png[:64]).decode()).encode()
        for body, content_type in (part, (png_b64.encode(), "text/plain"),
                                   (b"data:image/png;base64," + base64.b64encode(png[:64]), "text/plain"),
                                   (svg, "image/svg+xml")):
            with self.subTest(body=body[:60], content_type=content_type):
                resp = self.send(body, headers={"Content-Type": content_type}, path="/inference")
                self.assert_refused(resp, 415, "redaction_unsupported", BINARY_REFUSED)
                self.assertEqual(self.log_of(resp)["data_classes"], "opaque")
        # Base64 that spells text, a hash and a short identifier are not binary data.
        for body in (b"see " + base64.b64encode(b"The meeting is on Friday at ten. " * 12),
                     b"sha256 " + b"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" * 8):
            with self.subTest(control=body[:40]):
                resp = self.send(body, headers={"Content-Type": "text/plain"}, path="/inference")
                self.assertEqual(self.log_of(resp)["cluster"], "de-fra-hyperscaler", resp.body)

    def test_percent_encoded_bytes_that_are_not_utf8_are_opaque(self):
        # Probe round 46 (6): sent raw, these bytes are opaque; percent-encoded in a form or the
        # query, a lenient decoder passes them on just the same (an overlong '@').
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        for body, headers, path in ((b"prompt=mail+alice.smith%C1%80example.com", form, "/foo"),
                                    (b"prompt=mail+alice.smith%E0%81%80example.com", form, "/foo"),
                                    (b"prompt=x%C0%80y", form, "/foo"),
                                    (b'{"a":"b"}', JSON, "/foo?q=alice.smith%C1%80example.com")):
            with self.subTest(body=body, path=path):
                log = self.log_of(self.send(body, headers=headers, path=path))
                self.assertIn("opaque", log.get("data_classes", ""), log)
                self.assertNotEqual(log["cluster"], "de-fra-hyperscaler")
        # Percent-encoded UTF-8 is text, and a \x escape is code written as text.
        for body in (b"prompt=caf%C3%A9+au+lait", b"prompt=b%27%5Cxc1%5Cx80%27"):
            with self.subTest(control=body):
                log = self.log_of(self.send(body, headers=form, path="/foo"))
                self.assertEqual(log["cluster"], "de-fra-hyperscaler", log)

    def test_json_in_a_raw_body_is_read_three_levels_deep(self):
        # As the JSON inspector reads a JSON body's nested JSON (probe round 29: one level only).
        resp = self.send(b"batch:\n" + batch_line(), headers={"Content-Type": "text/plain"}, path="/inference")
        log = self.log_of(resp)
        self.assertEqual((log["cluster"], log["data_classes"]), ("paris", "personal"), resp.body)

    def test_a_raw_body_is_read_through_like_a_json_string(self):
        # Probe round 38 (1): off the API, a body that is not JSON (and a form field, a multipart
        # part, the query, a forwarded header field) is what a model reads: the markup and escapes
        # it reads through in a JSON string are read through here too (docs/policy.md).
        x61 = "\\x61\\x6c\\x69\\x63\\x65\\x40\\x65\\x78\\x61\\x6d\\x70\\x6c\\x65\\x2e\\x63\\x6f\\x6d"
        hidden_at = ["mail **alice**@example.com", "mail alice<!-- -->@example.com", "mail alice@<b></b>example.com",
                     "mail alice\\x40example.com", "mail " + x61, "mail alice\\100example.com",
                     "mail alice\\0100example.com", "mail alice\\N{COMMERCIAL AT}example.com",
                     "mail alice\\u{40}example.com", "mail alice\\uu0040example.com", "mail alice\\40 example.com",
                     "mail alice U+0040 example.com"]
        card = "card 4111 **1111** 1111 1111"
        for content_type in ("text/plain", "text/markdown", "text/html", "application/xml", None):
            headers = {"Content-Type": content_type} if content_type else {}
            for text in hidden_at:
                with self.subTest(content_type=content_type, text=text):
                    resp = self.send(text.encode(), headers=headers, path="/custom")
                    log = self.log_of(resp)
                    self.assertEqual((log["cluster"], log.get("data_classes")), ("paris", "personal"), resp.body)
            with self.subTest(content_type=content_type, text=card):
                self.assert_refused(self.send(card.encode(), headers=headers, path="/custom"), 415,
                                    "redaction_unsupported", "the body holds payment_card")
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        mail_part = multipart([("form-data; name=\"prompt\"", {}, ("mail " + x61).encode())])
        card_part = multipart([("form-data; name=\"prompt\"", {}, card.encode())])
        for body, headers in ((("prompt=mail+" + x61).encode(), form),
                              (mail_part[0], {"Content-Type": mail_part[1]})):
            with self.subTest(body):
                log = self.log_of(self.send(body, headers=headers, path="/custom"))
                self.assertEqual((log["cluster"], log.get("data_classes")), ("paris", "personal"))
        for body, headers in ((b"prompt=card+4111+**1111**+1111+1111", form),
                              (card_part[0], {"Content-Type": card_part[1]})):
            with self.subTest(body):
                self.assert_refused(self.send(body, headers=headers, path="/custom"), 415,
                                    "redaction_unsupported", "the body holds payment_card")
        # The query and a forwarded header field.
        query = "/custom?q=mail+" + x61.replace("\\", "%5C")
        log = self.log_of(exchange(self.gateway.port, self.certs, request_bytes(method="GET", path=query)))
        self.assertEqual((log["cluster"], log.get("data_classes")), ("paris", "personal"))
        log = self.log_of(self.send(b"hello", headers={"Content-Type": "text/plain",
                                                       "X-Note": "mail alice\\x40example.com"}, path="/custom"))
        self.assertEqual((log["cluster"], log.get("data_classes")), ("paris", "personal"))
        resp = exchange(self.gateway.port, self.certs,
                        request_bytes(method="GET", path="/custom?q=card+4111+**1111**+1111+1111"))
        self.assert_refused(resp, 415, "redaction_unsupported", "target or a header field")
        # Controls: Markdown and HTML documents, code with escapes, are no personal data.
        for body, content_type in ((b"**Note**: see example.com and <b>docs</b>.\n- `make -j2`\n", "text/markdown"),
                                   (b"<html><body><p>Hello <i>team</i>, see <a href=\"x.html\">the docs</a>"
                                    b"<!-- nav --></p></body></html>", "text/html"),
                                   (b'printf("total: %d\\n\\x41\\t%s\\n", 4111, name);', "text/plain")):
            with self.subTest(body):
                log = self.log_of(self.send(body, headers={"Content-Type": content_type}, path="/custom"))
                self.assertEqual(log["cluster"], "de-fra-hyperscaler")

    def test_markup_next_to_a_dot_and_cdata_hide_nothing(self):
        # Probe round 38 (2): markup between a domain's label and its dot, an XML CDATA section, a
        # processing instruction and a backslash-newline line continuation spell the identifier to
        # a model all the same.
        for content in ["mail alice@example<!-- -->.com", "write to jean.dupont@gmail<!-- -->.com",
                        "mail alice@example<b></b>.com", "mail alice@example.<!-- -->com", "mail alice@example**.**com",
                        "mail alice<![CDATA[@]]>example.com", "mail alice<?x?>@example.com",
                        "mail alice\\\n@example.com"]:
            with self.subTest(content=content):
                body = json.dumps({"model": "mistral-small", "messages": [{"role": "user", "content": content}]})
                log = self.log_of(self.send(body.encode()))
                self.assertEqual((log["cluster"], log.get("data_classes")), ("paris", "personal"))
        for content, gone, mark in (("IBAN DE89 3704<![CDATA[ 0044 0532]]> 0130 00 ok", b"0130", b"[redacted:iban]"),
                                    ("card 4111 1111 <![CDATA[1111]]> 1111 ok", b"4111", b"[redacted:payment_card]")):
            with self.subTest(content=content):
                body = json.dumps({"model": "mistral-small", "messages": [{"role": "user", "content": content}]})
                resp = self.send(body.encode(), headers={**JSON, "X-Standin-Echo-Body": "1"})
                self.assertEqual(resp.status, 200, resp.body)
                self.assertEqual(self.log_of(resp)["cluster"], "paris")
                self.assertNotIn(gone, resp.body)
                self.assertIn(mark, resp.body)

    def test_a_card_as_a_number_in_string_arguments_is_refused(self):
        # Probe round 38 (3): redacting the number would leave the arguments no JSON; refused as a
        # number in object arguments is.
        body = json.dumps({"model": "mistral-small", "messages": [{"role": "assistant", "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "f",
                                                         "arguments": '{"card": 4111111111111111, "n": 1}'}}]}]})
        self.assert_refused(self.send(body.encode()), 415, "redaction_unsupported", "or in a number")

    def test_jsonl_labelled_json_is_told_it_is_not_one_json_value(self):
        # Probe round 38 (4): the first problem of a JSONL upload is that it is not one JSON value.
        line = json.dumps({"custom_id": "1", "method": "POST", "url": "/v1/chat/completions",
                           "body": {"model": "mistral-small", "messages": [{"role": "user", "content": "hi"}]}})
        body = (line + "\n" + line + "\n").encode()
        self.assert_refused(self.send(body, path="/v1/files"), 400, "invalid_json", "extra data")

    def test_a_form_field_that_routes_is_refused_off_the_api(self):
        # Whisper-style and FastAPI Form(...) servers read the model, a server or credentials from a
        # form as others from the query, which is refused (probe round 29: a form's were not).
        urlencoded = {"Content-Type": "application/x-www-form-urlencoded"}
        for body in (b"model=claude-x&prompt=hello", b"prompt=hello&mod%65l=claude-x", b"MODEL=claude-x",
                     b"api_base=https%3A%2F%2Fx.example", b"region_name=us-east-1", b"aws_region_name=us-east-1",
                     b"deployment_id=d1", b"fallbacks=claude-x", b"api_key=sk-1", b"model[]=claude-x"):
            with self.subTest(body):
                resp = self.send(body, headers=urlencoded, path="/inference")
                self.assert_refused(resp, 400, "invalid_body", "the gateway routes")
        for disposition in ("form-data; name=\"model\"", "form-data; name*0=\"mod\"; name*1=\"el\"",
                            "form-data; name=\"region_name\"", "form-data; name*=utf-8''api%5Fbase"):
            body, content_type = multipart([("form-data; name=\"file\"; filename=\"a.wav\"", {}, b"RIFF"),
                                            (disposition, {}, b"claude-x")])
            with self.subTest(disposition):
                resp = self.send(body, headers={"Content-Type": content_type}, path="/inference")
                self.assert_refused(resp, 400, "invalid_body", "the gateway routes")
        # A method override spelled over RFC 2231 continuations (probe round 29).
        body, content_type = multipart([("form-data; name*0=\"_met\"; name*1=\"hod\"", {}, b"DELETE")])
        resp = self.send(body, headers={"Content-Type": content_type}, path="/inference")
        self.assert_refused(resp, 400, "invalid_body", "overrides the method")
        # The control: a form without such fields.
        resp = self.send(b"prompt=hello&temperature=0.2&model_card_url=x", headers=urlencoded, path="/inference")
        self.assertEqual(self.log_of(resp)["cluster"], "de-fra-hyperscaler", resp.body)

    def test_a_content_encoded_body_is_refused(self):
        body = gzip.compress(chat("Mail alice@example.com"))
        resp = self.send(body, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
        self.assert_refused(resp, 415, "unsupported_content_encoding", "'gzip'")

    def test_a_body_not_labelled_json_is_refused_on_the_api(self):
        body = chat("Mail alice\\u0040example.com")
        for headers, text in (({"Content-Type": "text/plain"}, "'text/plain'"),
                              ({"Content-Type": "application/jsonx"}, "'application/jsonx'"),
                              ({"Content-Type": "application/json; charset=latin1"}, "must be UTF-8"),
                              ({}, "needs Content-Type: application/json")):
            with self.subTest(headers):
                self.assert_refused(self.send(body, headers=headers), 415, "unsupported_media_type", text)
        # Media types compare case-insensitively; a UTF-8 charset is fine.
        ok = self.send(chat("Bonjour"), headers={"Content-Type": "Application/JSON; Charset=\"UTF-8\""})
        self.assertEqual(ok.status, 200, ok.body)

    def test_a_byte_order_mark_or_utf16_body_is_refused(self):
        self.assert_refused(self.send(b"\xef\xbb\xbf" + chat("Bonjour")), 400, "invalid_json", "byte order mark")
        self.assert_refused(self.send(chat("Bonjour").decode().encode("utf-16-le")), 400, "invalid_json",
                            "UTF-16 or UTF-32")

    def test_duplicate_and_case_variant_keys_are_refused(self):
        # A gateway that reads the first `model` and a cluster that reads the last could disagree.
        dup = b'{"model":"mistral-small","messages":[],"model":"gpt-4o"}'
        self.assert_refused(self.send(dup), 400, "invalid_body", '"model" appears twice')
        variant = b'{"Model":"gpt-4o","messages":[]}'
        self.assert_refused(self.send(variant), 400, "invalid_body", "case variant")
        long_model = chat("Bonjour", model="m" * 257)
        self.assert_refused(self.send(long_model), 400, "invalid_body", "longer than 256 bytes")

    def test_token_ids_written_as_strings_or_booleans_stay_where_personal_data_does(self):
        # Probe round 39 (1): vLLM's prompt and input are list[list[int]] to pydantic's lax mode when
        # written [["72","4020"]] or [true,false], and /detokenize's tokens list[int]: token ids the
        # cluster detokenizes into text the gateway never read, like [[72,4020]].
        bodies = [
            ("/v1/completions", {"model": "mistral-small", "prompt": [["72", "4020", "13", "3647", "411"]]}),
            ("/v1/completions", {"model": "mistral-small", "prompt": [[" 72", "4020 "]]}),
            ("/v1/embeddings", {"model": "mistral-small", "input": [["72", "4020", "13"]]}),
            ("/v1/completions", {"model": "mistral-small", "prompt": [True, False, True]}),
            ("/detokenize", {"model": "mistral-small", "tokens": ["72", "4020", "13"]}),
            ("/generate", {"model": "mistral-small", "input_ids": ["72", "4020", "13"]}),
        ]
        for path, body in bodies:
            with self.subTest(path=path, body=body):
                resp = self.send(json.dumps(body).encode(), path=path)
                log = self.log_of(resp)
                self.assertEqual((log["cluster"], log["data_classes"]), ("paris", "opaque"), resp.body)
        # The control: a flat list of strings is list[str], text, read as such.
        resp = self.send(json.dumps({"model": "mistral-small", "prompt": ["72", "4020"]}).encode(),
                         path="/v1/completions")
        self.assertEqual(self.log_of(resp)["cluster"], "de-fra-hyperscaler", resp.body)

    def test_other_fallback_lists_and_tags_under_metadata_are_refused(self):
        # Probe round 39 (2, 5): LiteLLM's router reads context_window_fallbacks and
        # content_policy_fallbacks from the request as it reads fallbacks, and its tag router the
        # tags under metadata: models and deployments the policy never decided.
        messages = [{"role": "user", "content": "hi"}]
        for path, extra in (("/v1/chat/completions", {"context_window_fallbacks": [{"mistral-small": ["skynet"]}],
                                                      "mock_testing_context_fallbacks": True}),
                            ("/v1/chat/completions", {"content_policy_fallbacks": [{"mistral-small": ["gpt-4o"]}]}),
                            ("/v1/responses", {"Context_Window_Fallbacks": [{"mistral-small": ["skynet"]}]}),
                            ("/v1/chat/completions", {"mock_testing_content_policy_fallbacks": True})):
            with self.subTest(path=path, extra=extra):
                body = {"model": "mistral-small", "messages": messages, **extra}
                self.assert_refused(self.send(json.dumps(body).encode(), path=path), 400, "invalid_body",
                                    "other models a router may run instead")
        for extra in ({"metadata": {"tags": ["us"]}}, {"metadata": {"Tags": ["!eu-only"]}},
                      {"litellm_metadata": {"tags": ["us"]}}):
            with self.subTest(extra=extra):
                body = {"model": "mistral-small", "messages": messages, **extra}
                self.assert_refused(self.send(json.dumps(body).encode()), 400, "invalid_body", "tags")
        # The control: metadata without tags goes where any request goes.
        resp = self.send(json.dumps({"model": "mistral-small", "messages": messages,
                                     "metadata": {"project": "p"}}).encode())
        self.assertEqual(self.log_of(resp)["cluster"], "de-fra-hyperscaler", resp.body)

    def test_a_model_a_cluster_may_put_into_a_url_is_refused(self):
        # Probe round 39 (3): an Azure-style cluster builds /deployments/{model}/... unescaped.
        for model in ("gpt%2D4o", "gpt-4o/chat/completions?", "gpt-4o#", "gpt-4o/x/..", "gpt-4o/.",
                      "gpt-4o/x/%2E%2E", "gpt-4o\\\\x"):
            with self.subTest(model=model):
                self.assert_refused(self.send(chat("hi", model=model)), 400, "invalid_body",
                                    "puts the model into a URL")

    def test_a_stored_prompt_named_by_prompt_id_stays_where_personal_data_does(self):
        # Probe round 39 (6): LiteLLM's prompt management loads stored messages by prompt_id.
        for key in ("prompt_id", "promptId"):
            with self.subTest(key=key):
                body = {"model": "mistral-small", "messages": [{"role": "user", "content": "hi"}],
                        key: "customer-profile-prompt"}
                log = self.log_of(self.send(json.dumps(body).encode()))
                self.assertEqual((log["cluster"], log["data_classes"]), ("paris", "opaque"))


if __name__ == "__main__":
    unittest.main()
