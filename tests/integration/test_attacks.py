"""An adversarial client against a gateway running the example EU policy: every request the policy
refuses in one spelling is refused in every other spelling; what the gateway sees is what the
cluster sees, or the request is refused. Real TLS on loopback, the real stand-in cluster."""

import json
import os
import socket
import ssl
import struct
import unittest

from support import (Gateway, Reader, TempDir, chat_request, client_context, cluster_yaml, eu_policy_dedicated_cluster,
                     exchange, gateway_yaml, make_certs, metric, request_bytes, start_standin, tls_connect,
                     wait_until)

SOURCE = os.environ.get("SOVGW_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
EU_POLICY = os.path.join(SOURCE, "examples", "policies", "eu_policy.yaml")


class AttackTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.certs = make_certs(os.path.join(cls.tmp.path, "certs"))
        cls.standin = start_standin(cls.certs)
        endpoint = f"127.0.0.1:{cls.standin.port}"
        # A US-operated cluster first: only the policy keeps data off it.
        us = cluster_yaml("us-east-1", endpoint, cls.certs).replace("country: FR", "country: US").replace(
            "operator_jurisdiction: EU", "operator_jurisdiction: US")
        fr = cluster_yaml("fr-par-1", endpoint, cls.certs)
        dedicated = eu_policy_dedicated_cluster(endpoint, cls.certs)
        cls.gateway = Gateway(gateway_yaml(cls.certs, us + fr + dedicated, extra=f"policy: {EU_POLICY}\n"),
                              cls.tmp.path)

    @classmethod
    def tearDownClass(cls):
        cls.gateway.stop()
        cls.standin.stop()
        cls.tmp.cleanup()

    def send(self, raw):
        return exchange(self.gateway.port, self.certs, raw)

    def forwarded_ids(self):
        return {o["request_id"] for o in self.gateway.logs() if o.get("msg") == "request" and o.get("cluster")}

    def test_admin_api_is_refused_in_every_spelling(self):
        plain = self.send(request_bytes("POST", "/admin/x", b"{}", {"Content-Type": "application/json"}))
        self.assertEqual(plain.status, 403)
        self.assertIn("forbid-admin-api", plain.json()["error"]["message"])
        for path in ("/%61dmin/x", "//admin/x", "/./admin/x", "/v1/../admin/x", "/admin%2Fx", "/%2e/admin/x",
                     "/admin;v=1/x", "/v1/%2e%2e/admin/x", "/ADMIN%5cx"):
            with self.subTest(path=path):
                resp = self.send(request_bytes("POST", path, b"{}", {"Content-Type": "application/json"}))
                self.assertEqual(resp.status, 400)
                err = resp.json()["error"]
                self.assertEqual(err["code"], "non_canonical_target")  # the gateway's answer, not a cluster's
                self.assertNotIn(resp.header("x-request-id"), self.forwarded_ids())
                # Refused before identify, it is still recorded with where it came from (the socket).
                request_id = resp.header("x-request-id")
                line = self.gateway.wait_for_json(lambda o: o.get("msg") == "request" and o.get("request_id") == request_id)
                self.assertEqual((line["client_ip"], line["client_country"], line["client_country_source"]),
                                 ("127.0.0.1", "private", "geoip:socket"))

    def test_the_inference_servers_management_endpoints_are_forbidden(self):
        # Ollama's, vLLM's and SGLang's: replacing or pulling a model is the cluster operator's.
        for path in ("/api/create", "/api/copy", "/api/pull", "/api/push", "/api/delete", "/api/blobs/sha256:ab",
                     "/v1/load_lora_adapter", "/load_lora_adapter", "/update_weights_from_disk", "/sleep",
                     "/reset_prefix_cache", "/API/PULL", "/release_memory_occupation", "/abort_request",
                     "/set_internal_state", "/open_session", "/pause", "/slots/0",
                     # probe round 35: SGLang sending its weights to a host the client names,
                     # LocalAI installing a backend, Triton's logging and shared memory (a memory
                     # region, which the gateway had refused as a place: 400 with a wrong reason)
                     "/send_weights_to_remote_instance", "/slow_down", "/backends/apply", "/v2/logging",
                     "/v2/systemsharedmemory/region/r0/register", "/v2/cudasharedmemory/region/r0/register",
                     # probe round 49: LocalAI stopping a backend, importing or editing a model, and
                     # its store every tenant shares (a delete there is a POST)
                     "/backend/shutdown", "/v1/backend/shutdown", "/models/import-uri", "/models/edit/x",
                     "/models/reload", "/stores/delete"):
            with self.subTest(path=path):
                # (a /models/{name} target names its model: a body naming another would be refused first)
                body = b'{"name":"x"}' if path.startswith("/models/") else b'{"model":"llama-3.1-70b","name":"x"}'
                resp = self.send(request_bytes("POST", path, body, {"Content-Type": "application/json"}))
                self.assertEqual(resp.status, 403, resp.body)
                self.assertIn("forbid-model-management", resp.json()["error"]["message"])
                self.assertNotIn(resp.header("x-request-id"), self.forwarded_ids())

    def test_stored_content_read_back_by_its_id_stays_where_personal_data_goes(self):
        # As previous_response_id in a body: the gateway never sees what the cluster stored, so a
        # target naming it is opaque content, served by an EU-operated cluster only.
        for path in ("/v1/responses/resp_abc", "/v1/responses/resp_abc/input_items",
                     "/v1/chat/completions/chatcmpl-abc/messages", "/v1/conversations/conv_abc/items",
                     "/v1/files/file-abc/content", "/v1/threads/thread_abc/messages", "/V1/Responses/resp_abc",
                     "/v1/chat/completions", "/v1/evals/e1/runs/r1/output_items", "/v1/files",
                     # a generated video, its content and the list (probe round 29: served anywhere)
                     "/v1/videos/video_abc", "/v1/videos/video_abc/content", "/v1/videos",
                     # the list of stored completions filtered by model: a read, no model runs
                     "/v1/chat/completions?model=mistral-small"):
            with self.subTest(path=path):
                resp = self.send(request_bytes("GET", path))
                request_id = resp.header("x-request-id")
                line = self.gateway.wait_for_json(lambda o: o.get("msg") == "request" and o.get("request_id") == request_id)
                self.assertEqual((line["cluster"], line["data_classes"]), ("fr-par-1", "opaque"), line)
        # Probe round 49: LocalAI fills an empty model with a default one of its own there (/v1/edits
        # runs "gpt-4o"), which no rule decided.
        for path in ("/v1/edits", "/v1/videos/generations", "/v1/detection", "/vad", "/video"):
            with self.subTest(path=path):
                resp = self.send(request_bytes("POST", path, b'{"input":"hello","instruction":"fix","prompt":"a cat"}',
                                               {"Content-Type": "application/json"}))
                self.assertEqual(resp.status, 400, resp.body)
                self.assertIn("the request names no model", resp.json()["error"]["message"])
                self.assertNotIn(resp.header("x-request-id"), self.forwarded_ids())
        # A remix runs the stored video's model, which the request cannot name (probe round 40): no
        # rule would decide it, so it is refused, wherever the video is.
        resp = self.send(request_bytes("POST", "/v1/videos/video_abc/remix", b'{"prompt":"make it blue"}',
                                       {"Content-Type": "application/json"}))
        self.assertEqual(resp.status, 400, resp.body)
        self.assertIn("the request runs a model it cannot name", resp.json()["error"]["message"])
        self.assertNotIn(resp.header("x-request-id"), self.forwarded_ids())
        # The list's model filter does not name the model to run; anything else in that query still
        # chooses where, and is refused.
        resp = self.send(request_bytes("GET", "/v1/chat/completions?model=mistral-small&region=us-east-1"))
        self.assertEqual(resp.status, 400, resp.body)
        self.assertIn("the query names a model, a deployment or a region ('region=us-east-1')",
                      resp.json()["error"]["message"])
        # Completing an upload is an action on a stored object, not Anthropic's /v1/complete:
        # no model to name (probe round 29: "the request names no model").
        resp = self.send(request_bytes("POST", "/v1/uploads/upload_abc/complete", b'{"part_ids":["part_1"]}',
                                       {"Content-Type": "application/json"}))
        self.assertNotIn("names no model", resp.body.decode(errors="replace"))
        request_id = resp.header("x-request-id")
        line = self.gateway.wait_for_json(lambda o: o.get("msg") == "request" and o.get("request_id") == request_id)
        self.assertEqual((line["cluster"], line["data_classes"]), ("fr-par-1", "opaque"), line)
        # Creating one is not reading one back: the body decides.
        resp = self.send(request_bytes("POST", "/v1/responses", b'{"model":"mistral-small","input":"hi"}',
                                       {"Content-Type": "application/json"}))
        request_id = resp.header("x-request-id")
        line = self.gateway.wait_for_json(lambda o: o.get("msg") == "request" and o.get("request_id") == request_id)
        self.assertNotEqual(line.get("data_classes"), "opaque", line)

    def test_what_chooses_another_region_provider_or_model_is_refused(self):
        # A LiteLLM-style router merges the body over the operator's deployment settings; serving
        # stacks route on header fields naming a model or a deployment. The policy decided one route.
        chat = {"model": "mistral-small", "messages": [{"role": "user", "content": "Bonjour"}]}
        for extra in ({"aws_region_name": "us-east-1"}, {"vertex_location": "us-central1"},
                      {"aws_bedrock_runtime_endpoint": "https://bedrock-runtime.us-east-1.amazonaws.com"},
                      {"custom_llm_provider": "openai"}, {"provider": {"order": ["us"]}},
                      {"extra_body": {"provider": {"order": ["us"]}}}, {"AWS_Region_Name": "us-east-1"}):
            with self.subTest(extra):
                resp = self.send(chat_request(json.dumps(dict(chat, **extra)).encode()))
                self.assertEqual(resp.status, 400, resp.body)
                self.assertEqual(resp.json()["error"]["code"], "invalid_body")
                self.assertNotIn(resp.header("x-request-id"), self.forwarded_ids())
        for name in ("Azureml-Model-Deployment", "X-Amzn-SageMaker-Target-Model", "X-Amzn-SageMaker-Target-Variant",
                     "Seldon-Model", "mm-vmodel-id", "x-gateway-destination-endpoint", "x-ai-eg-model"):
            with self.subTest(name):
                resp = self.send(chat_request(json.dumps(chat).encode(), {name: "us-deployment"}))
                self.assertEqual(resp.status, 400, resp.body)
                self.assertEqual(resp.json()["error"]["code"], "invalid_body")
                self.assertIn(f"the header field {name} chooses a model or a deployment", resp.json()["error"]["message"])
                self.assertNotIn(resp.header("x-request-id"), self.forwarded_ids())
        self.assertEqual(self.send(chat_request(json.dumps(chat).encode(), {"X-Request-Tag": "a"})).status, 200)
        # A model named below the top level (a batch's, an eval run's): the policy never decided it,
        # and the cluster would run it. (A batch is refused before its body is read: a batch's
        # models, in its requests or its input file, are never one the request names; probe round 40.)
        for path, body, says in (("/v1/messages/batches", {"requests": [{"custom_id": "a", "params": {
                                     "model": "claude-3-opus", "max_tokens": 10, "messages": []}}]},
                                  "the request runs a model it cannot name: a batch"),
                                 ("/v1/evals/e1/runs", {"data_source": {"type": "completions", "model": "gpt-4o"}},
                                  "the body names a model inside it")):
            with self.subTest(path):
                resp = self.send(request_bytes("POST", path, json.dumps(body).encode(),
                                               {"Content-Type": "application/json"}))
                self.assertEqual(resp.status, 400, resp.body)
                self.assertIn(says, resp.json()["error"]["message"])
                self.assertNotIn(resp.header("x-request-id"), self.forwarded_ids())
        # A region in the target, as Vertex-style servers take it, as vertex_location in the body.
        for path in ("/vertex_ai/v1/projects/p/locations/us-central1/publishers/google/models/mistral-small:generateContent",
                     # (an endpoints/{id}:rawPredict is refused before, as running a model it cannot name)
                     "/v1/projects/p/Locations/us-east5/publishers/google/models/mistral-small:rawPredict",
                     "/v1/regions/us/chat/completions",
                     "/v1/location/us/chat/completions", "/v1/projects/p/zones/us-east1-b/chat/completions",
                     "/v1/chat/completions?location=us-east5", "/v1/chat/completions?Region=us-east-1"):
            with self.subTest(path):
                resp = self.send(request_bytes("POST", path, json.dumps(chat).encode(),
                                               {"Content-Type": "application/json"}))
                self.assertEqual(resp.status, 400, resp.body)
                self.assertRegex(resp.json()["error"]["message"], "names a region or location|or a region")
                self.assertNotIn(resp.header("x-request-id"), self.forwarded_ids())

    def test_endpoints_used_outside_the_gateway_are_refused(self):
        # Probe round 27: POST /v1/realtime/client_secrets with no session model was forwarded; the
        # cluster minted a client secret with the gateway's credential, with which the client calls
        # the cluster directly (WebRTC, WebSocket): no policy, no audit record.
        session = json.dumps({"session": {"type": "realtime"}}).encode()
        for method, path, body in (("POST", "/v1/realtime/client_secrets", session),
                                   ("POST", "/V1/Realtime/Sessions/", session),
                                   ("POST", "/openai/v1/realtime/transcription_sessions", b"{}"),
                                   ("POST", "/openai/realtimeapi/sessions?api-version=2025-04-01-preview", session),
                                   ("POST", "/v1/realtime/calls", b"{}"),
                                   ("GET", "/v1/realtime?model=mistral-small", b""),
                                   ("POST", "/v1/chatkit/sessions", b'{"user": "u1", "workflow": {"id": "wf"}}'),
                                   ("POST", "/v1alpha/auth_tokens", b'{"uses": 1}')):
            with self.subTest(path=path):
                resp = self.send(request_bytes(method, path, body, {"Content-Type": "application/json"} if body else {}))
                self.assertEqual(resp.status, 403, resp.body)
                error = resp.json()["error"]
                self.assertEqual(error["code"], "endpoint_not_served")
                self.assertIn("outside the gateway", error["message"])
                self.assertNotIn(resp.header("x-request-id"), self.forwarded_ids())
        # Endpoints that run the cluster's default model when the body names none: Sora's videos,
        # TGI's root and Vertex route, TEI's similarity, ElevenLabs-style text-to-speech (LocalAI).
        for path, body in (("/v1/videos", {"prompt": "a cat"}), ("/", {"inputs": "hi"}),
                           ("/vertex", {"instances": [{"inputs": "hi"}]}),
                           ("/similarity", {"inputs": {"source_sentence": "a", "sentences": ["b"]}}),
                           ("/v1/text-to-speech/voice1", {"text": "hi"}), ("/tts", {"input": "hi"}),
                           ("/v1/complete", {"prompt": "hi"})):
            with self.subTest(path=path):
                resp = self.send(request_bytes("POST", path, json.dumps(body).encode(),
                                               {"Content-Type": "application/json"}))
                self.assertEqual(resp.status, 400, resp.body)
                self.assertIn("names no model", resp.json()["error"]["message"])
                self.assertNotIn(resp.header("x-request-id"), self.forwarded_ids())
        # A path segment that only contains the word is another endpoint.
        resp = self.send(request_bytes("GET", "/v1/realtime-stats", b""))
        self.assertNotEqual(resp.status, 403, resp.body)

    def test_a_body_where_cluster_servers_read_none_is_refused(self):
        # Probe round 34: GET /health carrying a whole `POST /admin/...` as its body was forwarded; a
        # cluster server that reads no body on GET (cpp-httplib: llama.cpp's server) ran the body as
        # the next request on the connection, decided by no policy and recorded nowhere.
        smuggled = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: c\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 2\r\n\r\n{}")
        for method, path, headers in (("GET", "/health", {"Content-Type": "text/plain"}),
                                      ("HEAD", "/health", {}), ("OPTIONS", "/metrics", {}),
                                      ("DELETE", "/v1/files/file-1", {"Content-Type": "application/json"}),
                                      ("GET", "/v1/files/file-1", {"Transfer-Encoding": "chunked"})):
            with self.subTest(method=method, path=path):
                body = smuggled
                if headers.get("Transfer-Encoding"):
                    body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(smuggled), smuggled)
                raw = request_bytes(method, path, body, headers)
                if method == "HEAD":
                    with tls_connect(self.gateway.port, self.certs) as s:
                        s.sendall(raw)
                        resp = Reader(s).read_response(head_only=True)
                else:
                    resp = self.send(raw)
                self.assertEqual(resp.status, 400, resp.body)
                if method != "HEAD":
                    self.assertIn(f"a {method} request carries a body ({len(smuggled)} bytes)",
                                  resp.json()["error"]["message"])
                self.assertNotIn(resp.header("x-request-id"), self.forwarded_ids())
        self.assertNotEqual(self.send(request_bytes("GET", "/health", b"")).status, 400)

    def test_credentials_in_the_query_never_reach_a_cluster(self):
        # Probe round 27: ?key= (Google's and LiteLLM's Gemini pass-through), ?api_key= and the like
        # reached the cluster, where the same key in the body is refused and in a header removed.
        chat = json.dumps({"model": "mistral-small", "messages": [{"role": "user", "content": "hi"}]}).encode()
        for query in ("api_key=sk-OTHER", "key=sk-litellm-OTHER", "x=1&Access_Token=t", "API%5Fkey=sk",
                      "authorization=Bearer%20sk", "subscription-key=abc", "token=t"):
            with self.subTest(query=query):
                resp = self.send(request_bytes("POST", f"/v1/chat/completions?{query}", chat,
                                               {"Content-Type": "application/json"}))
                self.assertEqual(resp.status, 400, resp.body)
                message = resp.json()["error"]["message"]
                self.assertIn("the query carries a credential", message)
                secret = query.rsplit("=", 1)[1]
                if len(secret) >= 3:
                    self.assertNotIn(secret, message)  # the parameter's name only
                self.assertNotIn(resp.header("x-request-id"), self.forwarded_ids())
        self.assertEqual(self.send(request_bytes("POST", "/v1/chat/completions?keys_only=1&monkey=2", chat,
                                                 {"Content-Type": "application/json"})).status, 200)

    def assert_remote_tools_forbidden(self, path, body):
        """POST `body` (JSON) to `path`: refused by the example policy's forbid-remote-tools, and never
        forwarded."""
        resp = self.send(request_bytes("POST", path, json.dumps(body).encode(), {"Content-Type": "application/json"}))
        self.assertEqual(resp.status, 403, resp.body)
        self.assertIn("forbid-remote-tools", resp.json()["error"]["message"])
        self.assertNotIn(resp.header("x-request-id"), self.forwarded_ids())

    def test_a_webhook_or_a_cloud_model_is_egress(self):
        # Probe round 27: Replicate's and Cog's `webhook` is sent the prediction, input and output,
        # on every event; a signed-in Ollama server runs a `:cloud` tag on ollama.com.
        for path, body in (("/predictions", {"model": "mistral-small", "input": {"prompt": "hi"},
                                             "webhook": "https://collector.example.us/hook"}),
                           ("/v1/chat/completions", {"model": "mistral-small", "callback_url": "https://x.example",
                                                     "messages": [{"role": "user", "content": "hi"}]}),
                           ("/v1/chat/completions", {"model": "mistral-small:cloud",
                                                     "messages": [{"role": "user", "content": "hi"}]}),
                           ("/api/chat", {"model": "llama-3.1-70b:70b-cloud", "messages": []})):
            with self.subTest(path=path, body=body):
                self.assert_remote_tools_forbidden(path, body)

    def test_an_identifier_cut_between_two_messages_stays_in_the_eu(self):
        # Probe round 15: a card, a phone number or an address cut between two messages (or a
        # system prompt and a user turn, a prompt and its suffix, Gemini's parts) reached the
        # US-operated cluster; a model asked to join them reads the identifier.
        for path, body in (
                ("/v1/chat/completions", {"model": "mistral-small", "messages": [
                    {"role": "user", "content": "my card is 4111 1111"}, {"role": "user", "content": "1111 1111"}]}),
                ("/v1/chat/completions", {"model": "mistral-small", "messages": [
                    {"role": "system", "content": "call +49 30"}, {"role": "user", "content": "1234 5678"}]}),
                ("/v1/completions", {"model": "mistral-small", "prompt": "mail alice", "suffix": "@example.com"}),
                ("/v1/chat", {"model": "mistral-small", "preamble": "card 4111 1111", "message": "1111 1111"})):
            with self.subTest(body):
                resp = self.send(request_bytes("POST", path, json.dumps(body).encode(),
                                               {"Content-Type": "application/json"}))
                request_id = resp.header("x-request-id")  # (the stand-in answers /v1/chat 404)
                line = self.gateway.wait_for_json(
                    lambda o: o.get("msg") == "request" and o.get("request_id") == request_id)
                self.assertEqual((line.get("cluster"), line.get("data_classes")), ("fr-par-1", "personal"), line)
        # An adapter the cluster would load is refused, as another model is.
        resp = self.send(request_bytes("POST", "/generate", json.dumps(
            {"model": "mistral-small", "inputs": "hi", "parameters": {"adapter_id": "x/lora", "adapter_source": "hub"}}
        ).encode(), {"Content-Type": "application/json"}))
        self.assertEqual(resp.status, 400, resp.body)
        self.assertIn("names an adapter", resp.json()["error"]["message"])
        self.assertNotIn(resp.header("x-request-id"), self.forwarded_ids())

    def test_tools_that_send_the_conversation_elsewhere_are_forbidden(self):
        # A remote MCP server or a web search would receive what the model reads, from wherever the
        # cluster is, to wherever that server is.
        for tools in ({"tools": [{"type": "mcp", "server_label": "x", "server_url": "https://x.example/mcp"}]},
                      {"tools": [{"type": "web_search_preview"}]},
                      {"mcp_servers": [{"type": "url", "url": "https://x.example/sse", "name": "x"}]},
                      {"TOOLS": [{"type": "web_search"}]},
                      # Gemini's tools are keyed by kind; Azure's On Your Data, Cohere's connectors, xAI's
                      # live search and OpenRouter's plugins send a query built from the conversation out.
                      {"tools": [{"google_search": {}}]}, {"tools": [{"googleSearchRetrieval": {}}]},
                      {"tools": [{"urlContext": {}}]}, {"tools": [{"type": "google_search"}]},
                      {"data_sources": [{"type": "azure_search", "parameters": {"endpoint": "https://us.example"}}]},
                      {"connectors": [{"id": "web-search"}]}, {"search_parameters": {"mode": "on"}},
                      {"plugins": [{"id": "web"}]}):
            with self.subTest(tools):
                self.assert_remote_tools_forbidden("/v1/responses",
                                                   dict({"model": "mistral-small", "input": "Bonjour"}, **tools))
        # OpenRouter's :online variant is its web search, in the body's model or the target's.
        for path, body in (("/v1/chat/completions", {"model": "mistral-small:online", "messages": [
                               {"role": "user", "content": "Bonjour"}]}),
                           ("/v1beta/models/mistral-small:online:generateContent", {"contents": [
                               {"role": "user", "parts": [{"text": "Bonjour"}]}]}),
                           ("/openai/deployments/mistral-small:ONLINE/chat/completions", {"messages": [
                               {"role": "user", "content": "Bonjour"}]})):
            with self.subTest(path):
                self.assert_remote_tools_forbidden(path, body)
        # A target that has the cluster send the request on (probe round 49): LocalAI's CORS proxy
        # re-sends it, body and all, to the URL it is given; its MCP chat endpoints run the MCP
        # servers of the model's configuration; a webhook in the query is read as in the body.
        chat = {"model": "mistral-small", "messages": [{"role": "user", "content": "Bonjour"}]}
        for path, body in (("/api/cors-proxy?url=https://collector.example.com/x", {"note": "Bonjour"}),
                           ("/mcp/v1/chat/completions", chat), ("/v1/MCP/chat/completions", chat),
                           ("/v1/chat/completions?callback_url=https://x.example.com/", chat),
                           ("/v1/chat/completions?x=1&Webhook_URL=https%3A%2F%2Fx.example.com", chat),
                           ("/v1/responses?url=https://x.example.com/", {"model": "mistral-small", "input": "hi"})):
            with self.subTest(path):
                self.assert_remote_tools_forbidden(path, body)
        resp = self.send(request_bytes("GET", "/api/cors-proxy?url=https://x.example.com/", b"", {}))
        self.assertEqual(resp.status, 403, resp.body)
        # A function the client runs itself is no egress.
        body = json.dumps({"model": "mistral-small", "input": "Bonjour",
                           "tools": [{"type": "function", "name": "lookup", "parameters": {"type": "object"}}]}).encode()
        resp = self.send(request_bytes("POST", "/v1/responses", body, {"Content-Type": "application/json"}))
        self.assertEqual(resp.status, 200, resp.body)

    def test_spellings_a_cluster_router_may_fold_are_refused_or_forbidden(self):
        # Non-canonical: Windows servers drop trailing dots and spaces; routers decode ';', '?', '#';
        # an overlong UTF-8 '/' or '.' decodes to one on lenient servers.
        # A character a case-insensitive router takes for an ASCII letter (dotless i, dotted I, long s,
        # Kelvin sign) is refused: "/adm%C4%B1n" is "/admin" to Java's equalsIgnoreCase.
        for path in ("/admin./users", "/admin%20/users", "/admin%3B/users", "/admin%3Fx/users",
                     "/admin%C0%AFusers", "/%C0%AE%C0%AE/admin/users", "/admin%E0%80%AF/x", "/x%ED%A0%80",
                     "/adm%C4%B1n/x", "/%C4%B0nfo", "/admin/%C5%BFecrets", "/%E2%84%AAeys",
                     # what NFKC or case folding reads as ASCII: a ligature, a fullwidth letter, an invisible one
                     "/%EF%AC%82ush_cache", "/start_pro%EF%AC%81le", "/%EF%BD%81dmin/x", "/ad%E2%80%8Bmin/x"):
            with self.subTest(path=path):
                resp = self.send(request_bytes("POST", path, b"{}", {"Content-Type": "application/json"}))
                self.assertEqual(resp.status, 400, resp.body)
                self.assertEqual(resp.json()["error"]["code"], "non_canonical_target")
        # Case-insensitive routers, and /admin for /admin/*: the forbid holds in every spelling.
        for path in ("/ADMIN/users", "/Admin/users", "/admin"):
            with self.subTest(path=path):
                resp = self.send(request_bytes("POST", path, b"{}", {"Content-Type": "application/json"}))
                self.assertEqual(resp.status, 403, resp.body)
                self.assertIn("forbid-admin-api", resp.json()["error"]["message"])
        # UTF-8 in a path, correctly encoded, is canonical.
        resp = self.send(request_bytes("GET", "/v1/models/mod%C3%A8le"))
        self.assertNotEqual(resp.status, 400)
        # /V1/ is the API too: a body there must be JSON; the model list answers every spelling.
        resp = self.send(request_bytes("POST", "/V1/chat/completions", b'{"model":"x"}', {"Content-Type": "text/plain"}))
        self.assertEqual(resp.status, 415, resp.body)
        # Under any prefix a cluster serves the API at, and Ollama's list (in its own shape).
        for path in ("/v1/models/", "/V1/Models", "/models", "/openai/v1/models", "/api/v1/models/", "/api/tags",
                     "/api/ps", "/v1beta/models", "/openai/models", "/v2/models", "/v1/engines", "/openai/deployments"):
            resp = self.send(request_bytes("GET", path))
            self.assertEqual(resp.status, 200, resp.body)
            self.assertEqual(resp.header("server"), None)  # the gateway's list, not the stand-in's
            self.assertNotIn(resp.header("x-request-id"), self.forwarded_ids())
            listed = resp.json()["models"] if path.startswith("/api/") and "v1" not in path else resp.json()["data"]
            self.assertTrue(listed and all(m.get("id", m.get("name")) for m in listed), resp.body)
        resp = self.send(request_bytes("GET", "/openai/v1/models/mistral-small"))
        self.assertEqual((resp.status, resp.json()["id"]), (200, "mistral-small"), resp.body)

    def test_no_other_spelling_of_a_checked_field_reaches_the_cluster(self):
        # '_' spellings: CGI-style servers read X_Api_Key as X-Api-Key.
        for name in ("X_Api_Key", "X_Forwarded_For", "Sovereign_Client_Country", "Transfer_Encoding"):
            with self.subTest(name=name):
                resp = self.send(request_bytes("POST", "/debug/headers", b"{}",
                                               {"Content-Type": "application/json", name: "x"}))
                self.assertEqual(resp.status, 400, resp.body)
                self.assertEqual(resp.json()["error"]["code"], "bad_request")
                self.assertIn("'_'", resp.json()["error"]["message"])
        # Claims front and auth proxies make, which servers honour: stripped, like X-Forwarded-For.
        claims = {"X-HTTP-Method-Override": "DELETE", "X-Original-URL": "/admin/users", "X-Rewrite-URL": "/admin",
                  "X-Envoy-Original-Path": "/admin", "X-Forwarded-Prefix": "/admin", "CF-Connecting-IP": "5.255.255.5",
                  "Fastly-Client-IP": "5.255.255.5", "X-Cluster-Client-IP": "5.255.255.5", "Client-IP": "5.255.255.5",
                  "X-Originating-IP": "5.255.255.5", "X-SSL-Client-Cert": "x", "X-Forwarded-Client-Cert": "x",
                  "X-Auth-Request-User": "admin", "X-MS-Client-Principal-Name": "admin", "Remote-User": "admin",
                  "Ocp-Apim-Subscription-Key": "k", "X-Goog-Api-Key": "k", "Proxy": "http://attacker:8080",
                  # credentials, identities and routes however spelled, not just the names listed
                  "X-Authorization": "Bearer k", "Private-Token": "k", "X-Access-Token": "k",
                  "X-Vault-Token": "k", "X-Hasura-Admin-Secret": "k", "X-Consumer-Username": "admin",
                  "X-Credential-Identifier": "admin", "X-Apigateway-Api-Userinfo": "e30", "X-Jwt-Assertion": "e30",
                  "X-Middleware-Subrequest": "middleware", "Forwarded-For": "5.255.255.5", "X-Forwarded": "for=x",
                  "Via": "1.1 trusted", "X-Url-Scheme": "http", "Front-End-Https": "off", "X-Tenant-Id": "other",
                  "OpenAI-Organization": "org-x",
                  # Probe round 18: fields on no list reach no cluster: routers' steering fields
                  # (Portkey, Helicone), a CDN's country, RFC 9440's client certificate, an auth
                  # proxy's claims, and any name the gateway has never heard of.
                  "X-Portkey-Custom-Host": "https://us.example/v1", "X-Portkey-Config": "{}",
                  "Helicone-Target-Url": "https://us.example", "CF-IPCountry": "DE",
                  "CloudFront-Viewer-Country": "DE", "Client-Cert": ":MIIB:", "Remote-Email": "a@b.example",
                  "X-Pomerium-Claim-Groups": "admins", "X-Never-Heard-Of": "x",
                  # a router's field under an SDK's or a tracer's name (probe round 19)
                  "X-Stainless-Portkey-Custom-Host": "https://us.example/v1", "X-B3-Target-Url": "https://us.example",
                  "X-Stainless-Lang": "js", "Idempotency-Key": "i", "OpenAI-Beta": "assistants=v2",
                  "Traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
        resp = self.send(request_bytes("POST", "/debug/headers", b"{}", {"Content-Type": "application/json", **claims}))
        self.assertEqual(resp.status, 200, resp.body)
        seen = resp.json()["headers"]
        passed = ("X-Stainless-Lang", "Idempotency-Key", "OpenAI-Beta", "Traceparent")  # the end-to-end fields pass
        for name in passed:
            if name == "Idempotency-Key":  # scoped to the tenant (test_tenants.py)
                self.assertRegex(seen.get(name.lower()), r"^[0-9a-f]{16}\.i$")
            else:
                self.assertEqual(seen.get(name.lower()), claims[name])
        for name in claims:
            if name not in passed:
                self.assertNotIn(name.lower(), seen)
        # Connection cannot strip a field the gateway checked (the cluster would read the body untyped).
        resp = self.send(request_bytes("POST", "/v1/chat/completions", b'{"model":"mistral-small","messages":[]}',
                                       {"Content-Type": "application/json", "Connection": "Content-Type"}))
        self.assertEqual(resp.status, 400, resp.body)
        self.assertIn("Connection", resp.json()["error"]["message"])

    def test_a_client_cannot_choose_its_own_address(self):
        # No trusted proxies: X-Forwarded-For from a client is its own claim, never believed nor forwarded.
        resp = self.send(request_bytes("POST", "/debug/headers", b"{}", {"Content-Type": "application/json",
                                                                      "X-Forwarded-For": "10.0.0.1",
                                                                      "X-Real-IP": "10.0.0.1"}))
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.json()["headers"]["x-forwarded-for"], "127.0.0.1")
        spoofed = self.send(chat_request(extra_headers={"X-Forwarded-For": "5.255.255.5"}))
        log = self.gateway.wait_for_json(lambda o: o.get("request_id") == spoofed.header("x-request-id"))
        self.assertEqual(log["client_ip"], "127.0.0.1")
        self.assertEqual(log["client_country"], "private")

    def test_canonical_paths_still_work(self):
        resp = self.send(chat_request())
        self.assertEqual(resp.status, 200)
        resp = self.send(request_bytes("GET", "/v1/models/mistral-small?x=%61/../"))
        self.assertNotEqual(resp.status, 400)


def proxy_v2_header(source_ip, source_port=40000, local=False):
    body = b"" if local else socket.inet_aton(source_ip) + socket.inet_aton("127.0.0.1") + struct.pack(
        "!HH", source_port, 443)
    return (b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x20 if local else 0x21, 0x00 if local else 0x11]) +
            struct.pack("!H", len(body)) + body)


class TrustedProxyTest(unittest.TestCase):
    """Loopback is a trusted front proxy: its word on the client address is taken, and only its."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.certs = make_certs(os.path.join(cls.tmp.path, "certs"))
        cls.standin = start_standin(cls.certs)
        endpoint = f"127.0.0.1:{cls.standin.port}"
        clusters = cluster_yaml("fr-par-1", endpoint, cls.certs) + eu_policy_dedicated_cluster(endpoint, cls.certs)
        extra = f"policy: {EU_POLICY}\ntrusted_proxies: [127.0.0.0/8]\n"
        cls.xff = Gateway(gateway_yaml(cls.certs, clusters, extra=extra), cls.tmp.path)
        cls.proxied = Gateway(gateway_yaml(cls.certs, clusters, extra=extra).replace(
            "  port: 0\ntls:", "  port: 0\n  proxy_protocol: true\ntls:", 1), cls.tmp.path)

    @classmethod
    def tearDownClass(cls):
        cls.xff.stop()
        cls.proxied.stop()
        cls.standin.stop()
        cls.tmp.cleanup()

    def test_right_most_untrusted_forwarded_for_entry_is_the_client(self):
        # A client in Russia behind the trusted proxy, which appended the address it saw.
        resp = exchange(self.xff.port, self.certs, chat_request(extra_headers={
            "X-Forwarded-For": "1.1.1.1, 5.255.255.5"}))
        self.assertEqual(resp.status, 403)
        self.assertIn("forbid-sanctioned-origins", resp.json()["error"]["message"])
        log = self.xff.wait_for_json(lambda o: o.get("request_id") == resp.header("x-request-id"))
        self.assertEqual(log["client_ip"], "5.255.255.5")
        self.assertEqual(log["client_country"], "RU")

    def test_a_client_permitted_no_model_is_denied_the_model_list(self):
        # Probe round 27: a client in Russia got 200 and an empty list, recorded and signed as a
        # permit with no rule; now denied as a request for a model would be, naming the rule.
        for path in ("/v1/models", "/api/tags", "/v1/models/mistral-small"):
            with self.subTest(path=path):
                resp = exchange(self.xff.port, self.certs,
                                request_bytes("GET", path, b"", {"X-Forwarded-For": "5.255.255.5"}))
                self.assertEqual(resp.status, 403, resp.body)
                error = resp.json()["error"]
                self.assertEqual(error["code"], "policy_denied")
                self.assertIn("forbid-sanctioned-origins", error["message"])
                self.assertIn("the model 'mistral-small' is not permitted for this client" if path.count("/") == 3
                              else "no model is permitted for this client (an empty list)", error["message"])
                log = self.xff.wait_for_json(lambda o: o.get("msg") == "request" and
                                             o.get("request_id") == resp.header("x-request-id"))
                self.assertEqual(log["decision"], "deny")
                self.assertIn("forbid-sanctioned-origins", log["rules"])
        # An EEA client's list is unchanged.
        resp = exchange(self.xff.port, self.certs, request_bytes("GET", "/v1/models", b"", {"X-Forwarded-For": "84.16.0.1"}))
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual([m["id"] for m in resp.json()["data"]], ["mistral-large"])

    def test_garbage_where_the_client_address_should_be_is_refused(self):
        resp = exchange(self.xff.port, self.certs, chat_request(extra_headers={"X-Forwarded-For": "unknown"}))
        self.assertEqual(resp.status, 400)
        self.assertEqual(resp.json()["error"]["code"], "bad_forwarded_for")

    def test_proxy_protocol_header_names_the_client(self):
        raw = socket.create_connection(("127.0.0.1", self.proxied.port), timeout=10)
        raw.sendall(proxy_v2_header("5.255.255.5"))
        with client_context(self.certs).wrap_socket(raw, server_hostname="localhost") as s:
            # The client's own X-Forwarded-For is its claim: the PROXY header wins.
            s.sendall(chat_request(extra_headers={"X-Forwarded-For": "10.0.0.1"}))
            resp = Reader(s).read_response()
        self.assertEqual(resp.status, 403)
        self.assertIn("forbid-sanctioned-origins", resp.json()["error"]["message"])
        # LOCAL names no client (a health check, or a client behind a UNIX-socket front): its country
        # is unknown, never the balancer's own (private) nor the X-Forwarded-For the client wrote
        # (probe round 18: a LOCAL connection's client chose its country that way).
        for xff in (None, "84.16.0.1", "10.0.0.1"):
            with self.subTest(xff=xff):
                raw = socket.create_connection(("127.0.0.1", self.proxied.port), timeout=10)
                raw.sendall(proxy_v2_header("", local=True))
                with client_context(self.certs).wrap_socket(raw, server_hostname="localhost") as s:
                    s.sendall(chat_request(extra_headers={"X-Forwarded-For": xff} if xff else None))
                    resp = Reader(s).read_response()
                log = self.proxied.wait_for_json(lambda o: o.get("request_id") == resp.header("x-request-id"))
                self.assertEqual((log["client_country"], log["client_country_source"]),
                                 ("unknown", "proxy-protocol-local"))

    def test_trusted_peer_without_proxy_header_is_cut(self):
        before = metric(self.proxied, "sovgw_proxy_protocol_errors_total")
        with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
            with client_context(self.certs).wrap_socket(
                    socket.create_connection(("127.0.0.1", self.proxied.port), timeout=10),
                    server_hostname="localhost") as s:
                s.sendall(chat_request())
                Reader(s).read_response()
        self.assertTrue(wait_until(lambda: metric(self.proxied, "sovgw_proxy_protocol_errors_total") == before + 1))


if __name__ == "__main__":
    unittest.main()
