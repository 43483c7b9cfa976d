"""The policy core wired into the gateway: geo-identified clients, 403 decisions with the rule and
its reason, routes narrowed to compliant clusters, and reloads that never load a broken policy."""

import json
import os
import signal
import subprocess
import unittest

from support import (SOVGW, Gateway, TempDir, chat_request, cluster_yaml, exchange, gateway_yaml, make_certs,
                     metric, request_bytes, start_standin)

POLICY = """version: 1
data_classes:
  health:
    header: health-data
  public: {}
  payment:
    detectors: [payment_card, iban]
rules:
  - id: forbid-payment-data
    effect: forbid
    when:
      data.class: [payment]
    reason: Card and account numbers stay out of prompts.
  - id: forbid-health-data
    effect: forbid
    when:
      data.class: [health]
    reason: Health data is not sent to inference APIs.
  - id: forbid-llama
    effect: forbid
    when:
      model: ["llama-*"]
    reason: Llama models are not approved for this tenant.
  - id: forbid-embeddings-gpt-4o
    effect: forbid
    when:
      model: ["gpt-4o"]
      path: ["/v1/embeddings"]
    reason: Embeddings come from the in-house model.
  - id: permit-internal
    effect: permit
    when:
      client.country: [private]
    obligations: {redact: [email, phone]}
    reason: Internal clients may use the inference APIs.
  - id: compute-in-eu
    effect: restrict
    route:
      cluster.country: [EU]
      cluster.operator_jurisdiction: [EU]
    reason: Compute stays in the EU, with EU operators.
"""


class PolicyGatewayCase(unittest.TestCase):
    """A stand-in cluster and a gateway running `policy_text` over the clusters `clusters()` names."""

    policy_text = POLICY

    @classmethod
    def clusters(cls):
        return cluster_yaml("paris", f"127.0.0.1:{cls.standin.port}", cls.certs)

    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.certs = make_certs(os.path.join(cls.tmp.path, "certs"))
        cls.standin = start_standin(cls.certs)
        cls.policy = os.path.join(cls.tmp.path, "policy.yaml")
        with open(cls.policy, "w") as f:
            f.write(cls.policy_text)
        cls.gateway = Gateway(gateway_yaml(cls.certs, cls.clusters(), extra=f"policy: {cls.policy}\n"),
                              cls.tmp.path)

    @classmethod
    def tearDownClass(cls):
        cls.gateway.stop()
        cls.standin.stop()
        cls.tmp.cleanup()


class UnknownModelTest(PolicyGatewayCase):
    """A model no cluster serves is the client's mistake (404), not a residency refusal, with or without
    a policy; the gateway's model list is recorded under the policy that filtered it."""

    @classmethod
    def clusters(cls):
        paris = cluster_yaml("paris", f"127.0.0.1:{cls.standin.port}", cls.certs).replace(
            'models: ["*"]', 'models: ["mistral-small"]')
        virginia = cluster_yaml("virginia", f"127.0.0.1:{cls.standin.port}", cls.certs).replace(
            "country: FR", "country: US").replace("operator_jurisdiction: EU", "operator_jurisdiction: US").replace(
            'models: ["*"]', 'models: ["gpt-4o"]')
        return paris + virginia

    def log_of(self, resp):
        rid = resp.header("x-request-id")
        return self.gateway.wait_for_json(lambda o: o.get("msg") == "request" and o.get("request_id") == rid)

    def test_a_model_no_cluster_serves_is_404_named(self):
        resp = exchange(self.gateway.port, self.certs, chat_request(b'{"model":"claude-3","messages":[]}'))
        self.assertEqual(resp.status, 404, resp.body)
        err = resp.json()["error"]
        self.assertEqual(err["code"], "model_not_found")
        self.assertIn("'claude-3'", err["message"])
        log = self.log_of(resp)
        # No rule decided it: no policy decision is recorded (the audit record says no-policy).
        self.assertNotIn("rules", log)
        self.assertNotIn("decision", log)
        self.assertEqual(len(log["policy_version"]), 64)
        # A model that exists but only where the policy does not allow it is the policy's refusal.
        kept = exchange(self.gateway.port, self.certs, chat_request(b'{"model":"gpt-4o","messages":[]}'))
        self.assertEqual(kept.status, 403, kept.body)
        self.assertEqual(kept.json()["error"]["code"], "policy_denied")

    def test_a_body_that_names_no_model_is_refused_where_a_model_runs(self):
        # Else the cluster's default model would serve it, unseen by any model rule.
        # No body at all is no model either (probe round 18: an empty POST was forwarded).
        for body in (b'{"messages":[]}', b'{"model":null,"messages":[]}', b'{"model":"","messages":[]}', b""):
            for path in ("/v1/chat/completions", "/V1/Embeddings", "/v1/responses", "/chat/completions",
                         "/completion", "/infill"):  # llama.cpp's own, too (probe round 19)
                with self.subTest(body=body, path=path):
                    resp = exchange(self.gateway.port, self.certs, request_bytes(
                        "POST", path, body, {"Content-Type": "application/json"}))
                    self.assertEqual(resp.status, 400, resp.body)
                    self.assertEqual(resp.json()["error"]["code"], "invalid_body")
                    self.assertIn("names no model", resp.json()["error"]["message"])
        # A request that names no model elsewhere is routed like any other (every cluster serves it).
        resp = exchange(self.gateway.port, self.certs, request_bytes("GET", "/"))
        self.assertEqual(resp.status, 404, resp.body)  # the stand-in's own answer
        self.assertEqual(resp.json()["error"]["code"], "not_found")
        self.assertEqual(self.log_of(resp)["decision"], "permit")

    def test_the_model_list_is_recorded_under_the_policy(self):
        resp = exchange(self.gateway.port, self.certs, request_bytes("GET", "/v1/models"))
        self.assertEqual(resp.status, 200)
        self.assertEqual([m["id"] for m in resp.json()["data"]], ["mistral-small"])
        log = self.log_of(resp)
        self.assertEqual(log["decision"], "permit")
        self.assertEqual(len(log["policy_version"]), 64)


MODEL_ONLY_POLICY = """version: 1
rules:
  - id: forbid-llama
    effect: forbid
    when:
      model: ["llama-*"]
    reason: Llama models are not approved.
  - id: permit-all
    effect: permit
    reason: Every other model may be used.
"""


class ModelOnlyPolicyTest(PolicyGatewayCase):
    """A policy without detectors still decides the model: a body a lenient server could read as
    another model than the gateway's is refused, whatever its label."""

    policy_text = MODEL_ONLY_POLICY

    def post(self, body, content_type="text/plain"):
        return exchange(self.gateway.port, self.certs,
                        request_bytes("POST", "/custom/search", body, {"Content-Type": content_type}))

    def test_a_body_a_lenient_server_could_read_as_another_model_is_refused(self):
        # Strict JSON naming other models is refused for that (invalid_body, as on the API).
        for body, code in ((b'{"model":"mistral-small","model":"llama-3"}', "invalid_json"),
                           (b'{"model":"mistral-small","Model":"llama-3"}', "invalid_json"),
                           (b'{"model":"mistral-small","fallbacks":["llama-3"]}', "invalid_body"),
                           (b'{"model":"mistral-small",}', "invalid_json")):
            with self.subTest(body=body):
                resp = self.post(body)
                self.assertEqual(resp.status, 400, resp.body)
                self.assertEqual(resp.json()["error"]["code"], code)
        # Strict JSON is read for its model, whatever its label; text that is not JSON passes.
        resp = self.post(b'{"model":"llama-3","prompt":"hi"}')
        self.assertEqual(resp.status, 403, resp.body)
        self.assertIn("forbid-llama", resp.json()["error"]["message"])
        self.assertNotIn(self.post(b"plain words, no model").status, (400, 403))


ALIAS_ROUTES_POLICY = """version: 1
rules:
  - id: permit-all
    effect: permit
    reason: Every model may be used.
  - id: llama-in-france
    effect: restrict
    when:
      model: ["llama-*"]
    route:
      cluster.country: [FR]
    reason: Llama models run in France only.
"""


class AliasRoutesTest(PolicyGatewayCase):
    """A restrict rule written for a base name holds for every spelling of it, and a spelling's rules
    never drop a cluster merely because its `models:` names the model another way."""

    policy_text = ALIAS_ROUTES_POLICY

    @classmethod
    def clusters(cls):
        # A LiteLLM-style US cluster serving provider/publisher names, and a French one serving bare names.
        virginia = cluster_yaml("virginia", f"127.0.0.1:{cls.standin.port}", cls.certs).replace(
            "country: FR", "country: US").replace("operator_jurisdiction: EU", "operator_jurisdiction: US").replace(
            'models: ["*"]', 'models: ["meta/*", "openai/*"]')
        paris = cluster_yaml("paris", f"127.0.0.1:{cls.standin.port}", cls.certs).replace(
            'models: ["*"]', 'models: ["llama-3", "gpt-4o"]')
        return virginia + paris

    def chat(self, model):
        return exchange(self.gateway.port, self.certs,
                        chat_request(json.dumps({"model": model, "messages": []}).encode()))

    def test_a_restrict_on_the_base_name_holds_for_a_prefixed_spelling(self):
        # meta/llama-3 is llama-3 to LiteLLM; only the US cluster serves that spelling, and llama runs in
        # France only: refused rather than run in the US.
        resp = self.chat("meta/llama-3")
        self.assertEqual(resp.status, 403, resp.body)
        # The rule that left no cluster is named, to the client and in the record (probe round 39: it
        # matched only the base name, and was missing from both).
        self.assertIn("llama-in-france", resp.json()["error"]["message"])
        log = self.gateway.wait_for_json(
            lambda o: o.get("msg") == "request" and o.get("request_id") == resp.header("x-request-id"))
        self.assertIn("llama-in-france", log["rules"].split(","))
        self.assertEqual(self.chat("llama-3").status, 200)

    def test_a_prefixed_spelling_is_served_where_its_name_is_served(self):
        # openai/gpt-4o: served by the cluster that lists that spelling, though its base name is another
        # cluster's (the base name's rules narrow, its serving clusters do not).
        resp = self.chat("openai/gpt-4o")
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(self.chat("gpt-4o").status, 200)


class PolicyEnforcementTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.certs = make_certs(os.path.join(cls.tmp.path, "certs"))
        cls.standin = start_standin(cls.certs)
        cls.policy = os.path.join(cls.tmp.path, "policy.yaml")
        with open(cls.policy, "w") as f:
            f.write(POLICY)
        # The US-operated cluster is listed first: only the policy keeps traffic off it.
        virginia = cluster_yaml("virginia", f"127.0.0.1:{cls.standin.port}", cls.certs).replace(
            "country: FR", "country: US").replace("operator_jurisdiction: EU", "operator_jurisdiction: US")
        paris = cluster_yaml("paris", f"127.0.0.1:{cls.standin.port}", cls.certs)
        cls.config = gateway_yaml(cls.certs, virginia + paris, extra=f"policy: {cls.policy}\n")
        cls.gateway = Gateway(cls.config, cls.tmp.path)

    @classmethod
    def tearDownClass(cls):
        cls.gateway.stop()
        cls.standin.stop()
        cls.tmp.cleanup()

    def last_request_log(self, request_id):
        return self.gateway.wait_for_json(lambda o: o.get("msg") == "request" and o.get("request_id") == request_id)

    def test_permitted_request_is_routed_to_the_eu_cluster(self):
        resp = exchange(self.gateway.port, self.certs, chat_request())
        self.assertEqual(resp.status, 200)
        log = self.last_request_log(resp.header("x-request-id"))
        self.assertEqual(log["cluster"], "paris")
        self.assertEqual(log["client_country"], "private")
        self.assertEqual(log["decision"], "permit")
        self.assertIn("permit-internal", log["rules"])
        self.assertIn("compute-in-eu", log["rules"])
        self.assertEqual(len(log["policy_version"]), 64)

    def test_forbidden_model_gets_403_with_rule_and_reason(self):
        body = b'{"model":"llama-3.1-8b-instruct","messages":[]}'
        resp = exchange(self.gateway.port, self.certs, chat_request(body))
        self.assertEqual(resp.status, 403)
        err = resp.json()["error"]
        self.assertEqual(err["code"], "policy_denied")
        self.assertEqual(err["type"], "permission_error")
        self.assertIn("forbid-llama", err["message"])
        self.assertIn("Llama models are not approved", err["message"])
        # The client is told the rule that decided; the record keeps every rule that matched.
        self.assertNotIn("permit-internal", err["message"])
        log = self.last_request_log(resp.header("x-request-id"))
        self.assertEqual(log["decision"], "deny")
        self.assertIn("permit-internal", log["rules"])
        self.assertEqual(log["cluster"], "")

    def test_a_model_in_another_case_is_forbidden_alike(self):
        # A server that looks models up without regard to case serves LLAMA-3.1 as llama-3.1.
        for model in ("LLAMA-3.1-8b-instruct", "Llama-3.1-8B-Instruct"):
            with self.subTest(model):
                body = json.dumps({"model": model, "messages": []}).encode()
                resp = exchange(self.gateway.port, self.certs, chat_request(body))
                self.assertEqual(resp.status, 403, resp.body)
                self.assertIn("forbid-llama", resp.json()["error"]["message"])

    def post(self, path, body, content_type="application/json"):
        headers = {"Content-Type": content_type} if content_type else {}
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return exchange(self.gateway.port, self.certs, request_bytes("POST", path, data, headers))

    def test_a_model_running_method_on_what_names_no_model_is_refused(self):
        # Probe round 45: {resource}:{method} targets that run a model, on a resource other than
        # models/ (a Gemini tuned model, a Vertex endpoint), were forwarded with no model decided or
        # recorded; an empty model before the method was recorded as the model ":generateContent".
        for path in ("/v1beta/tunedModels/llama-3:generateContent", "/v1beta/tunedModels/x:streamGenerateContent",
                     "/v1/endpoints/x:predict", "/v1/projects/p/endpoints/e:rawPredict",
                     "/v1/projects/p/endpoints/e:generateContent", "/v1/projects/p/endpoints/e:streamRawPredict",
                     "/V1BETA/TUNEDMODELS/X:GENERATECONTENT", "/v1beta/tunedModels/x:embedContent/"):
            for body in ({"contents": [{"parts": [{"text": "hi"}]}]}, {"model": "mistral-small", "contents": []}):
                with self.subTest(path=path, body=body):
                    resp = self.post(path, body)
                    self.assertEqual(resp.status, 400, resp.body)
                    err = resp.json()["error"]
                    self.assertEqual(err["code"], "invalid_body")
                    self.assertIn("runs a model it cannot name", err["message"])
                    log = self.last_request_log(resp.header("x-request-id"))
                    self.assertEqual(log["error"], "invalid_body")
                    self.assertEqual(log["cluster"], "")
        for path in ("/v1beta/models/:generateContent", "/models/:predict/",
                     "/v1beta/tunedModels/:generateContent", "/v1beta/models/meta-llama/:generateContent"):
            with self.subTest(path=path):
                resp = self.post(path, {"contents": [{"parts": [{"text": "hi"}]}]})
                self.assertEqual(resp.status, 400, resp.body)
                err = resp.json()["error"]
                self.assertEqual(err["code"], "invalid_body")
                self.assertIn("names no model", err["message"])
                self.assertEqual(self.last_request_log(resp.header("x-request-id"))["model"], "")
        # The method's ':' encoded is no spelling of it: servers decode it before they route, so the
        # target is refused as not canonical before anything reads a model in it.
        for path in ("/v1beta/tunedModels/x%3AgenerateContent", "/v1/models/%3Apredict",
                     "/v1beta/models/meta-llama/llama-3%3AstreamGenerateContent"):
            with self.subTest(path=path):
                resp = self.post(path, {"contents": [{"parts": [{"text": "hi"}]}]})
                self.assertEqual(resp.status, 400, resp.body)
                self.assertEqual(resp.json()["error"]["code"], "non_canonical_target")
        # A model named there is decided as ever; a method that runs no model is not refused so.
        resp = self.post("/v1beta/models/mistral-small:generateContent", {"contents": []})
        self.assertEqual(self.last_request_log(resp.header("x-request-id"))["model"], "mistral-small")
        self.assertNotEqual(resp.status, 400, resp.body)
        resp = self.post("/v1beta/tunedModels/x:cancel", {})
        self.assertNotIn("cannot name", resp.body.decode(errors="replace"))

    def test_an_assistants_run_names_the_model_it_runs(self):
        # Probe round 40: a run without "model" (or with null) was forwarded, and the cluster ran the
        # assistant's stored model, which no rule saw; its record named no model. The run's "model"
        # is the one the API runs over the assistant's: the policy decides it.
        for path in ("/v1/threads/runs", "/v1/threads/thread_1/runs", "/openai/threads/thread_1/runs",
                     "/threads/runs/"):
            for body in ({"assistant_id": "asst_llama"}, {"assistant_id": "asst_llama", "model": None}, b""):
                with self.subTest(path=path, body=body):
                    resp = self.post(path, body)
                    self.assertEqual(resp.status, 400, resp.body)
                    err = resp.json()["error"]
                    self.assertEqual(err["code"], "invalid_body")
                    self.assertIn("names no model", err["message"])
            with self.subTest(path=path):
                resp = self.post(path, {"assistant_id": "asst_1", "model": "llama-3", "stream": True})
                self.assertEqual(resp.status, 403, resp.body)
                self.assertIn("forbid-llama", resp.json()["error"]["message"])
                self.assertEqual(self.last_request_log(resp.header("x-request-id"))["model"], "llama-3")

    def test_work_on_a_model_the_request_cannot_name_is_refused(self):
        # A batch runs an input file's requests, which the gateway never sees; tool outputs continue a
        # run, a resumed fine-tune trains, a remix generates with the model they started with, which
        # the gateway cannot know: no rule would decide the model that runs (probe round 40).
        for path, says in (("/v1/batches", "send each request through the gateway"),
                           ("/openai/batches", "send each request through the gateway"),
                           ("/v1/messages/batches", "send each request through the gateway"),
                           ("/v1/threads/thread_1/runs/run_1/submit_tool_outputs", "function_call_output"),
                           ("/v1/fine_tuning/jobs/ftjob_1/resume", "create a new job"),
                           ("/v1/videos/video_1/remix", "create a new video")):
            with self.subTest(path=path):
                resp = self.post(path, {"input_file_id": "file_1", "endpoint": "/v1/chat/completions",
                                        "tool_outputs": [{"tool_call_id": "call_1", "output": "42"}]})
                self.assertEqual(resp.status, 400, resp.body)
                err = resp.json()["error"]
                self.assertEqual(err["code"], "invalid_body")
                self.assertIn("runs a model it cannot name", err["message"])
                self.assertIn(says, err["message"])
                self.assertEqual(self.last_request_log(resp.header("x-request-id"))["status"], 400)
        # Mistral's agents and conversations run the agent's or the conversation's stored model
        # (probe round 44: forwarded with no model decided). OpenAI's Conversations API shares the
        # paths and runs no model: created with items, updated with metadata, it is served.
        for path, body, says in (
                ("/v1/conversations", {"agent_id": "ag_1", "inputs": "hi"}, "names an agent"),
                ("/v1/agents/completions", {"agent_id": "ag_1", "model": "mistral-small",
                                            "messages": [{"role": "user", "content": "hi"}]}, "names an agent"),
                ("/v1/conversations", {"inputs": "hi"}, "names no model"),
                ("/v1/conversations/conv_1", {"inputs": "hi"}, "runs a model it cannot name"),
                ("/V1/Conversations/conv_1/", {"Inputs": "hi"}, "runs a model it cannot name"),
                ("/v1/conversations/conv_1/restart", {"inputs": "hi", "from_entry_id": "e1"},
                 "runs a model it cannot name")):
            with self.subTest(path=path, body=body):
                resp = self.post(path, body)
                self.assertEqual(resp.status, 400, resp.body)
                err = resp.json()["error"]
                self.assertEqual(err["code"], "invalid_body")
                self.assertIn(says, err["message"])
        for path, body in (("/v1/conversations", {"items": [{"type": "message", "role": "user", "content": "hi"}]}),
                           ("/v1/conversations/conv_1", {"metadata": {"topic": "x"}})):
            with self.subTest(path=path, body=body):
                resp = self.post(path, body)
                self.assertEqual(resp.status, 404, resp.body)
                self.assertEqual(resp.json()["error"]["code"], "not_found")
        # Not model work: cancelling, pausing, a vector store's files (the cluster's own embedding
        # model, which no request chooses), reading a run back. The stand-in's own 404 answers them.
        for method, path in (("POST", "/v1/batches/batch_1/cancel"), ("POST", "/v1/threads/thread_1/runs/run_1/cancel"),
                             ("POST", "/v1/fine_tuning/jobs/ftjob_1/pause"), ("POST", "/v1/vector_stores/vs_1/files"),
                             ("GET", "/v1/threads/thread_1/runs/run_1")):
            with self.subTest(path=path):
                body = b"" if method == "GET" else b'{"file_id":"file_1"}'
                resp = exchange(self.gateway.port, self.certs, request_bytes(
                    method, path, body, {"Content-Type": "application/json"} if body else {}))
                self.assertEqual(resp.status, 404, resp.body)
                self.assertEqual(resp.json()["error"]["code"], "not_found")

    def test_a_model_named_in_the_target_is_the_model_the_policy_decides(self):
        # Azure OpenAI, the legacy engines API, Bedrock and Gemini put the model in the path: a
        # cluster serving those paths runs it whatever the body says.
        for path in ("/openai/deployments/llama-3/chat/completions?api-version=2024-10-21",
                     "/v1/engines/llama-3/completions", "/OPENAI/Deployments/llama-3/chat/completions",
                     "/v1beta/models/llama-3:generateContent", "/v1/models/llama-3:generateContent",
                     "/model/llama-3/invoke",
                     # Hugging Face's router, Triton, KServe: .../models/{model}/...
                     "/models/llama-3/v1/chat/completions", "/v2/models/llama-3/infer",
                     "/v2/models/llama-3/versions/1/generate", "/v1/models/llama-3:predict",
                     # Hugging Face's Inference API: the model ends the target (probe round 30)
                     "/models/llama-3", "/models/llama-3/", "/v1/models/llama-3",
                     # TorchServe's (probe round 22: the path picks the worker; the body's model
                     # was all the policy saw)
                     "/predictions/llama-3", "/predictions/llama-3/1.0",
                     "/predictions/llama-3/1.0/v1/chat/completions", "/explanations/llama-3"):
            with self.subTest(path=path):
                resp = self.post(path, {"messages": [{"role": "user", "content": "hi"}]})
                self.assertEqual(resp.status, 403, resp.body)
                self.assertIn("forbid-llama", resp.json()["error"]["message"])
                self.assertEqual(self.last_request_log(resp.header("x-request-id"))["model"], "llama-3")
        # Hugging Face's and Replicate's ids are {org}/{name}: the model is both (probe round 31:
        # "meta-llama" was decided, and a body naming the whole id refused as another model).
        for path, body in (("/models/meta-llama/Llama-3", {"inputs": "hi"}),
                           ("/models/meta-llama/Llama-3/v1/chat/completions",
                            {"model": "meta-llama/Llama-3", "messages": []}),
                           ("/v1/models/meta-llama/Llama-3/predictions", {"input": {"prompt": "hi"}}),
                           # LiteLLM's /openai/deployments/{model:path}/... and /engines/{model:path}/...
                           # read every segment up to the action (probe round 32: "meta-llama" was decided)
                           ("/openai/deployments/meta-llama/Llama-3/chat/completions?api-version=2024-10-21",
                            {"messages": []}),
                           ("/v1/engines/meta-llama/Llama-3/completions", {"prompt": "hi"})):
            with self.subTest(path=path):
                resp = self.post(path, body)
                self.assertEqual(self.last_request_log(resp.header("x-request-id"))["model"], "meta-llama/Llama-3")
                self.assertEqual(resp.status, 403, resp.body)
                self.assertIn("forbid-llama", resp.json()["error"]["message"])
        # The method follows the last ':' (greedy path templates): a tagged model is that model.
        resp = self.post("/v1beta/models/llama-3:70b:generateContent", {"messages": []})
        self.assertEqual(self.last_request_log(resp.header("x-request-id"))["model"], "llama-3:70b")
        # An {org}/{name} model before the method is read the same way (probe round 45: decided and
        # recorded as "meta-llama/llama-3:generateContent", which met no model rule, and forwarded);
        # and a ':' in a segment that more path follows is the model's tag, not a method.
        for path, model in (("/v1beta/models/meta-llama/llama-3:generateContent", "meta-llama/llama-3"),
                            ("/v1/models/meta-llama/llama-3:generateContent", "meta-llama/llama-3"),
                            ("/v1/models/meta-llama/llama-3:predict", "meta-llama/llama-3"),
                            ("/models/meta-llama/Llama-3.1-8B:predict", "meta-llama/Llama-3.1-8B"),
                            ("/v1beta/models/meta-llama/llama-3:embedContent", "meta-llama/llama-3"),
                            ("/v1beta/models/meta-llama/llama-3:countTokens", "meta-llama/llama-3"),
                            ("/v1beta/models/meta-llama/llama-3:70b:generateContent", "meta-llama/llama-3:70b"),
                            ("/v2/models/llama-3:70b/infer", "llama-3:70b")):
            with self.subTest(path=path):
                resp = self.post(path, {"contents": [{"parts": [{"text": "hi"}]}]})
                self.assertEqual(resp.status, 403, resp.body)
                self.assertIn("forbid-llama", resp.json()["error"]["message"])
                self.assertEqual(self.last_request_log(resp.header("x-request-id"))["model"], model)
        # More than two segments before the method: a greedy reader takes them all, the {org}/{name}
        # reading two. Refused, not guessed.
        resp = self.post("/v1beta/models/a/b/llama-3:generateContent", {"contents": []})
        self.assertEqual(resp.status, 400, resp.body)
        self.assertIn("cannot be read as one name", resp.json()["error"]["message"])
        # Percent-encoded: the cluster decodes it into a name the policy never saw.
        resp = self.post("/openai/deployments/llama-3%E2%80%8B/chat/completions", {"messages": []})
        self.assertEqual(resp.status, 400, resp.body)
        self.assertIn("percent-encoded", resp.json()["error"]["message"])
        # Named twice, differently: a cluster may run either.
        resp = self.post("/openai/deployments/mistral-small/chat/completions", {"model": "llama-3", "messages": []})
        self.assertEqual(resp.status, 400, resp.body)
        self.assertIn("'mistral-small'", resp.json()["error"]["message"])
        # The whole deployment name against the body's: "mistral-small/llama-3" is not "mistral-small".
        resp = self.post("/openai/deployments/mistral-small/llama-3/chat/completions",
                         {"model": "mistral-small", "messages": []})
        self.assertEqual(resp.status, 400, resp.body)
        self.assertIn("'mistral-small/llama-3'", resp.json()["error"]["message"])
        # Where servers would disagree on where the name ends: refused, not guessed.
        resp = self.post("/openai/deployments/mistral-small/extensions/chat/completions", {"messages": []})
        self.assertEqual(resp.status, 400, resp.body)
        self.assertIn("cannot be read as one name", resp.json()["error"]["message"])
        # In the query (LiteLLM's handlers take ?model= over the body's), in any spelling a query
        # parser decodes; or as a list a router runs as a batch: refused, audited.
        for query in ("model=llama-3", "MODEL=llama-3", "%6Dodel=llama-3", "x=1;model=llama-3", "model[]=llama-3",
                      "deployment_id=llama-3", "engine=llama-3", "model+=llama-3",
                      # LiteLLM's other fallback lists, refused in the body (probe round 39)
                      "context_window_fallbacks=llama-3", "Content_Policy_Fallbacks=llama-3",
                      # as JavaScript's URLSearchParams and Hono's query reader find it (probe round 22)
                      "?model=llama-3", "x=1?model=llama-3"):
            with self.subTest(query=query):
                resp = self.post("/v1/chat/completions?" + query, {"model": "mistral-small", "messages": []})
                self.assertEqual(resp.status, 400, resp.body)
                self.assertIn("the query names a model", resp.json()["error"]["message"])
                self.assertEqual(self.last_request_log(resp.header("x-request-id"))["error"], "invalid_body")
        # A method override in the query or the body (Laravel, Symfony, Spring run it as that method):
        # refused like its header forms are removed (probe round 18).
        for path, body in (("/v1/chat/completions?_method=DELETE", {"model": "mistral-small", "messages": []}),
                           ("/v1/chat/completions?%5Fmethod=PUT", {"model": "mistral-small", "messages": []}),
                           # as PHP reads a name: spaces and dots are '_' (probe round 19)
                           ("/v1/chat/completions?.method=PUT", {"model": "mistral-small", "messages": []}),
                           ("/v1/chat/completions?+_method=PUT", {"model": "mistral-small", "messages": []}),
                           ("/v1/chat/completions", {"model": "mistral-small", "messages": [], "_method": "DELETE"})):
            with self.subTest(path=path, body=body):
                resp = self.post(path, body)
                self.assertEqual(resp.status, 400, resp.body)
                self.assertIn("overrides the method", resp.json()["error"]["message"])
        # In a form off the API, which Symfony, Laravel and Spring read as they read the query (probe
        # round 19); a form without it passes.
        multipart = (b"--b1\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nhi\r\n"
                     b"--b1\r\ncontent-disposition: form-data; name=\"%s\"\r\n\r\nDELETE\r\n--b1--\r\n")
        for body, content_type, where in (
                (b"q=1&_method=DELETE", "application/x-www-form-urlencoded", "the form body"),
                (b"q=1&+.method=DELETE", "application/x-www-form-urlencoded; charset=utf-8", "the form body"),
                (multipart % b"_method", "multipart/form-data; boundary=b1", "a part of the multipart body"),
                (multipart % b" .method", "Multipart/Form-Data; boundary=b1", "a part of the multipart body"),
                # however a part header is written or folded, and whatever a strict parser says of the label
                # (probe round 21)
                (b"--b1\r\nContent-Disposition: form-data;\r\n name='_method'\r\n\r\nDELETE\r\n--b1--\r\n",
                 "multipart/form-data; boundary=b1", "a part of the multipart body"),
                (b"--b1\r\nContent-Disposition: x; name = _method\r\n\r\nDELETE\r\n--b1--\r\n",
                 "multipart/form-data; boundary=b1", "a part of the multipart body"),
                (b"--b1\r\nContent-Disposition: form-data; name*=utf-8''%5Fmethod\r\n\r\nDELETE\r\n--b1--\r\n",
                 "multipart/form-data; boundary=b1", "a part of the multipart body"),
                (b"q=1&_method%00x=DELETE", "application/x-www-form-urlencoded", "the form body"),
                (b"q=1&_method=DELETE", "application/x-www-form-urlencoded;charset", "the form body"),
                # (a list of media types is refused before, as ambiguous: probe round 46)
                (b"q=1&_method=DELETE", "application/x-www-form-urlencoded, text/plain",
                 "Content-Type given more than once, or as a list")):
            with self.subTest(body=body):
                resp = self.post("/custom/search", body, content_type)
                self.assertEqual(resp.status, 400, resp.body)
                self.assertIn(where if where.startswith("Content-Type") else f"{where} overrides the method",
                              resp.json()["error"]["message"])
        for body, content_type in ((b"q=1&method_name=x", "application/x-www-form-urlencoded"),
                                   (multipart % b"q", "multipart/form-data; boundary=b1"),
                                   (multipart.replace(b'name="file"', b'name="_methodology"') % b"q",
                                    "multipart/form-data; boundary=b1")):
            with self.subTest(body=body):
                self.assertNotEqual(self.post("/custom/search", body, content_type).status, 400)
        resp = self.post("/openai/deployments/mistral-small,llama-3/chat/completions", {"messages": []})
        self.assertEqual(resp.status, 400, resp.body)
        self.assertIn("holds a comma", resp.json()["error"]["message"])
        resp = self.post("/v1/chat/completions?api-version=2024-10-21&modelx=1", {"model": "mistral-small", "messages": []})
        self.assertNotIn(resp.status, (400, 403), resp.body)
        # Named once, or twice alike: decided and served as that model.
        for body in ({"messages": []}, {"model": "mistral-small", "messages": []}):
            resp = self.post("/openai/deployments/mistral-small/chat/completions", body)
            self.assertNotIn(resp.status, (400, 403), resp.body)
            log = self.last_request_log(resp.header("x-request-id"))
            self.assertEqual((log["model"], log["cluster"]), ("mistral-small", "paris"))

    def test_a_json_body_names_its_model_whatever_its_label(self):
        # Servers that parse a body as JSON whatever its Content-Type run the model it names.
        for content_type in ("text/plain", None, "application/octet-stream"):
            with self.subTest(content_type=content_type):
                resp = self.post("/custom/search", {"model": "llama-3", "prompt": "hi"}, content_type)
                self.assertEqual(resp.status, 403, resp.body)
                self.assertIn("forbid-llama", resp.json()["error"]["message"])

    def test_every_spelling_of_an_endpoint_that_runs_a_model_needs_one(self):
        # Prefixes (LiteLLM-style proxies, /openai/v1), a trailing slash, Anthropic and Ollama: a
        # body naming no model would run the cluster's default, which no model rule saw.
        for path in ("/v1/chat/completions/", "/openai/v1/chat/completions", "/api/v1/chat/completions",
                     "/v1/openai/chat/completions", "/V1/EMBEDDINGS/", "/v1/messages", "/api/chat", "/api/generate",
                     "/api/embed"):
            with self.subTest(path=path):
                resp = self.post(path, {"messages": [{"role": "user", "content": "hi"}]})
                self.assertEqual(resp.status, 400, resp.body)
                self.assertIn("names no model", resp.json()["error"]["message"])
        # The other servers' endpoints that run a model, under any prefix: Ollama behind a router,
        # Anthropic behind one, TGI and SGLang, SageMaker, vLLM's pooling, scoring and tokenizer,
        # Cohere, TEI, and the rest of the OpenAI API.
        for path in ("/ollama/api/chat", "/anthropic/v1/messages", "/api/v1/messages", "/generate",
                     "/generate_stream", "/invocations", "/v1/rerank", "/v2/rerank", "/rerank", "/v1/score",
                     "/pooling", "/classify", "/tokenize", "/v1/moderations", "/v1/images/generations",
                     "/v1/audio/speech", "/v2/chat", "/v1/embed", "/embed", "/predict", "/custom/prefix/generate/"):
            with self.subTest(path=path):
                resp = self.post(path, {"inputs": "hi", "messages": [{"role": "user", "content": "hi"}]})
                self.assertEqual(resp.status, 400, resp.body)
                self.assertIn("names no model", resp.json()["error"]["message"])
        # And their bodies are JSON, labelled so.
        for path in ("/api/chat", "/generate", "/openai/v1/audio/transcriptions", "/openai/v1/files", "/files",
                     "/api/v1/uploads"):
            with self.subTest(path=path):
                resp = self.post(path, {"model": "llama-3", "messages": []}, "text/plain")
                self.assertEqual(resp.status, 415, resp.body)
                resp = self.post(path, b"--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n--b--\r\n",
                                 "multipart/form-data; boundary=b")
                self.assertEqual(resp.status, 415, resp.body)

    def test_models_a_router_would_run_instead_are_refused(self):
        # LiteLLM's fallbacks (forced by mock_testing_fallbacks) and OpenRouter's models run a
        # model other than the one the policy decided.
        for extra in ({"fallbacks": ["llama-3"], "mock_testing_fallbacks": True}, {"models": ["llama-3"]},
                      {"Fallbacks": ["llama-3"]}):
            with self.subTest(extra):
                resp = self.post("/v1/chat/completions", dict({"model": "mistral-small", "messages": []}, **extra))
                self.assertEqual(resp.status, 400, resp.body)
                self.assertEqual(resp.json()["error"]["code"], "invalid_body")
                self.assertIn("other models", resp.json()["error"]["message"])

    def test_a_forbid_on_a_path_and_a_model_holds_when_both_are_in_another_case(self):
        # A router that folds the path and a server that folds the model read /V1/EMBEDDINGS for
        # GPT-4O as /v1/embeddings for gpt-4o: each spelling folded alone matches neither condition.
        for path, model in (("/v1/embeddings", "gpt-4o"), ("/V1/EMBEDDINGS", "GPT-4O"), ("/v1/Embeddings", "Gpt-4o"),
                            ("/V1/EMBEDDINGS/", "GPT-4O"), ("/v1/embeddings/", "gpt-4o"), ("/v1/embeddings", "GPT-4O"),
                            ("/V1/embeddings", "gpt-4o")):
            with self.subTest(path=path, model=model):
                body = json.dumps({"model": model, "input": "hello"}).encode()
                resp = exchange(self.gateway.port, self.certs, request_bytes("POST", path, body, {
                    "Content-Type": "application/json"}))
                self.assertEqual(resp.status, 403, resp.body)
                self.assertIn("forbid-embeddings-gpt-4o", resp.json()["error"]["message"])
        body = json.dumps({"model": "GPT-4O-mini", "input": "hello"}).encode()
        resp = exchange(self.gateway.port, self.certs, request_bytes("POST", "/V1/EMBEDDINGS", body, {
            "Content-Type": "application/json"}))
        self.assertNotEqual(resp.status, 403, resp.body)

    def test_a_forbid_on_a_model_holds_for_its_aliases(self):
        # Ollama fills in a registry, a namespace and a tag, and folds case: every one of these is the
        # model gpt-4o (or llama-3) to it, which a forbid written for the bare name must meet.
        for path, model, rule in (("/v1/embeddings", "gpt-4o:latest", "forbid-embeddings-gpt-4o"),
                                  ("/v1/embeddings", "library/gpt-4o", "forbid-embeddings-gpt-4o"),
                                  ("/V1/Embeddings", "Registry.Ollama.AI/Library/GPT-4o:LATEST",
                                   "forbid-embeddings-gpt-4o"),
                                  ("/v1/embeddings", "https://registry.ollama.ai/library/gpt-4o",
                                   "forbid-embeddings-gpt-4o"),
                                  ("/v1/chat/completions", "library/llama-3", "forbid-llama"),
                                  # LiteLLM's provider prefix: gpt-4o, run at that provider.
                                  ("/v1/embeddings", "openai/gpt-4o", "forbid-embeddings-gpt-4o"),
                                  ("/v1/chat/completions", "meta/Llama-3", "forbid-llama"),
                                  ("/v1/chat/completions", "registry.ollama.ai/library/LLAMA-3:latest",
                                   "forbid-llama"),
                                  # Fine-tunes of it, and a dated snapshot (probe round 39).
                                  ("/v1/embeddings", "ft:gpt-4o:acme::abc123", "forbid-embeddings-gpt-4o"),
                                  ("/v1/embeddings", "ft:gpt-4o-2024-08-06:acme::x", "forbid-embeddings-gpt-4o"),
                                  ("/v1/embeddings", "gpt-4o-2024-08-06.ft-0123abc", "forbid-embeddings-gpt-4o"),
                                  ("/v1/embeddings", "GPT-4o-2024-08-06", "forbid-embeddings-gpt-4o"),
                                  ("/v1/chat/completions", "ft:llama-3:acme:tuned:1", "forbid-llama")):
            with self.subTest(path=path, model=model):
                body = json.dumps({"model": model, "input": "hello", "messages": []}).encode()
                resp = exchange(self.gateway.port, self.certs, request_bytes("POST", path, body, {
                    "Content-Type": "application/json"}))
                self.assertEqual(resp.status, 403, resp.body)
                self.assertIn(rule, resp.json()["error"]["message"])
        # Another tag is another model.
        for model in ("gpt-4o:8b", "gpt-4o/x"):
            with self.subTest(model=model):
                body = json.dumps({"model": model, "input": "hello"}).encode()
                resp = exchange(self.gateway.port, self.certs, request_bytes("POST", "/v1/embeddings", body, {
                    "Content-Type": "application/json"}))
                self.assertNotEqual(resp.status, 403, resp.body)

    def test_data_classes_declared_in_the_request_header_reach_the_policy(self):
        health = exchange(self.gateway.port, self.certs,
                          chat_request(extra_headers={"Sovereign-Data-Class": 'public, "health-data"'}))
        self.assertEqual(health.status, 403)
        self.assertIn("forbid-health-data", health.json()["error"]["message"])
        public = exchange(self.gateway.port, self.certs, chat_request(extra_headers={"Sovereign-Data-Class": "public"}))
        self.assertEqual(public.status, 200)
        log = self.last_request_log(public.header("x-request-id"))
        self.assertEqual(log["cluster"], "paris")
        self.assertEqual(log["data_classes"], "public")
        unknown = exchange(self.gateway.port, self.certs,
                           chat_request(extra_headers={"Sovereign-Data-Class": "public, secret"}))
        self.assertEqual(unknown.status, 400)
        err = unknown.json()["error"]
        self.assertEqual(err["code"], "unknown_data_class")
        self.assertIn("'secret'", err["message"])
        self.assertIn("health-data, public", err["message"])
        # What a gateway in front of this one forwards, Sovereign-Data-Classes, declares its classes
        # here too (both lists, as claims): the health data it found is refused (probe round 21: a
        # chain of two gateways refused every request).
        chained = exchange(self.gateway.port, self.certs, chat_request(extra_headers={
            "Sovereign-Data-Classes": 'declared=(), detected=("health")'}))
        self.assertEqual(chained.status, 403, chained.body)
        self.assertIn("forbid-health-data", chained.json()["error"]["message"])
        # A declaration under another Sovereign-* name (a misspelling) or not in the gateway's form is
        # refused, not dropped with the gateway's geo-tags: the request would be served as if it declared
        # nothing. The gateway's other geo-tags are only replaced.
        for name, value in (("Sovereign-Data-Classes", 'declared=("health-data")'),
                            ("Sovereign-Data-Classes", "health"),
                            ("Sovereign-Data-Classes", 'declared=("health"), declared=()'),
                            ("sovereign-data-classification", "health-data"), ("Sovereign-Class", "health-data")):
            with self.subTest(name=name):
                resp = exchange(self.gateway.port, self.certs, chat_request(extra_headers={name: value}))
                self.assertEqual(resp.status, 400, resp.body)
                err = resp.json()["error"]
                self.assertEqual(err["code"], "unknown_data_class")
                self.assertIn("Sovereign-Data-Class", err["message"])
        replaced = exchange(self.gateway.port, self.certs,
                            chat_request(extra_headers={"Sovereign-Decision": "permit", "Sovereign-Cluster": "x"}))
        self.assertEqual(replaced.status, 200, replaced.body)

    def test_detectors_put_requests_in_data_classes(self):
        card = b'{"model":"mistral-small","messages":[{"role":"user","content":"my card is 4111 1111 1111 1111"}]}'
        resp = exchange(self.gateway.port, self.certs, chat_request(card))
        self.assertEqual(resp.status, 403)
        self.assertIn("forbid-payment-data", resp.json()["error"]["message"])
        # A number of the same shape that fails the Luhn check is not a card.
        other = card.replace(b"4111 1111 1111 1111", b"4111 1111 1111 1112")
        resp = exchange(self.gateway.port, self.certs, chat_request(other))
        self.assertEqual(resp.status, 200, resp.body)

    def test_redact_obligation_rewrites_the_prompt_before_it_leaves(self):
        body = json.dumps({"model": "mistral-small", "messages": [
            {"role": "user", "content": "Write to jeanne.dupont@exemple.fr or call +33 6 12 34 56 78."}]}).encode()
        resp = exchange(self.gateway.port, self.certs,
                        request_bytes(path="/debug/headers", body=body, headers={"Content-Type": "application/json"}))
        self.assertEqual(resp.status, 200)
        forwarded = json.loads(resp.json()["body"])  # what the cluster received: still valid JSON
        self.assertEqual(forwarded["messages"][0]["content"],
                         "Write to [redacted:email] or call [redacted:phone].")
        self.assertEqual(self.last_request_log(resp.header("x-request-id"))["redacted"], 2)
        self.assertGreaterEqual(metric(self.gateway, "sovgw_redactions_total"), 2)
        # A body the gateway cannot redact is refused, not forwarded as it is (off /v1/: there a body
        # that is not JSON is refused before the policy, see test_body_classification.py).
        plain = exchange(self.gateway.port, self.certs,
                         request_bytes(path="/debug/headers", body=b"call +33 6 12 34 56 78",
                                       headers={"Content-Type": "text/plain"}))
        self.assertEqual(plain.status, 415)
        self.assertEqual(plain.json()["error"]["code"], "redaction_unsupported")
        self.assertIn("email, phone", plain.json()["error"]["message"])

    def test_broken_policy_on_reload_keeps_the_last_good_one(self):
        version = self.gateway.wait_for_json(lambda o: o.get("msg") == "listening")["policy_version"]
        with open(self.policy, "w") as f:
            f.write(POLICY.replace("effect: forbid", "effect: forbidd"))
        try:
            self.gateway.signal(signal.SIGHUP)
            failed = self.gateway.wait_for_json(lambda o: o.get("msg", "").startswith("policy reload failed"))
            self.assertIn(f"{self.policy}:", failed["errors"])
            self.assertEqual(failed["version"], version)
            body = b'{"model":"llama-3.1-8b-instruct","messages":[]}'
            self.assertEqual(exchange(self.gateway.port, self.certs, chat_request(body)).status, 403)
        finally:
            with open(self.policy, "w") as f:
                f.write(POLICY)

    def test_broken_policy_at_start_is_refused_with_positions(self):
        bad = os.path.join(self.tmp.path, "bad-policy.yaml")
        with open(bad, "w") as f:
            f.write(POLICY.replace("client.country: [private]", "client.country: [ZZ]"))
        config = os.path.join(self.tmp.path, "bad.yaml")
        with open(config, "w") as f:
            f.write(self.config.replace(self.policy, bad))
        # Exit codes as `--help` says them: config check 1 (the config has errors), serve 2 (an invalid config).
        for argv, code in (([SOVGW, "config", "check", config], 1), ([SOVGW, "serve", "--config", config], 2)):
            r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, code, r.stderr)
            self.assertRegex(r.stderr, rf"(?m)^{bad}:\d+:\d+: .*ZZ")


if __name__ == "__main__":
    unittest.main()
