"""The official OpenAI SDK (npm `openai`) through the gateway: an application must not notice it,
except when a rule stops it, and then the SDK must surface a clear error. The cluster is the stand-in
in --require-signature mode: every request the SDK makes passes only because the gateway signed it
(docs/signatures.md), and the same request sent straight to the cluster is refused."""

import json
import os
import shutil
import subprocess
import unittest

from support import BUILD, SOVGW, Gateway, TempDir, chat_request, cluster_yaml, exchange, gateway_yaml, make_certs
from test_signed_requests import make_keys
from test_signed_requests import start_standin as start_verifying_standin

SDK_DIR = os.path.join(BUILD, "node-openai")


def install_sdk():
    """Installs the SDK once into the build folder. Returns an error message, or None."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "node/npm not installed"
    if os.path.isdir(os.path.join(SDK_DIR, "node_modules", "openai")):
        return None
    os.makedirs(SDK_DIR, exist_ok=True)
    r = subprocess.run(["npm", "install", "--prefix", SDK_DIR, "--no-audit", "--no-fund", "openai@^4"],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        return "npm install openai failed: " + r.stderr[-500:]
    return None


class OpenAISdkTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        problem = install_sdk()
        if problem:
            raise unittest.SkipTest(problem)
        cls.tmp = TempDir()
        cls.certs = make_certs(os.path.join(cls.tmp.path, "certs"))
        keys = os.path.join(cls.tmp.path, "keys")
        make_keys(keys)
        cls.standin = start_verifying_standin(cls.certs, ["--verify-key", os.path.join(keys, "gateway.pub.jwk")],
                                              chunks=6, delay_ms=20, cluster="paris")
        clusters = cluster_yaml("paris", f"127.0.0.1:{cls.standin.port}", cls.certs).replace(
            'models: ["*"]', 'models: ["mistral-small", "mistral-*", "llama-*"]')
        signing = f"signing:\n  key: {os.path.join(keys, 'gateway.key')}\n"
        # The application holds a tenant key, as it would hold an OpenAI key.
        tenants = os.path.join(cls.tmp.path, "tenants.yaml")
        with open(tenants, "w") as f:
            f.write("tenants:\n  - name: acme\n")
        created = subprocess.run([SOVGW, "tenants", "key", "create", "acme", "--file", tenants], capture_output=True,
                                 text=True, check=True)
        cls.key = created.stdout.strip()
        cls.gateway = Gateway(gateway_yaml(cls.certs, clusters, extra=signing + f"tenants: {tenants}\n"),
                              cls.tmp.path)

    @classmethod
    def tearDownClass(cls):
        cls.gateway.stop()
        cls.standin.stop()
        cls.tmp.cleanup()

    def test_sdk_chat_stream_models_and_errors(self):
        script = os.path.join(SDK_DIR, "openai_client.mjs")
        shutil.copy(os.path.join(os.path.dirname(__file__), "openai_client.mjs"), script)
        env = dict(os.environ, NODE_EXTRA_CA_CERTS=os.path.join(self.certs, "ca.pem"), SOVGW_API_KEY=self.key)
        r = subprocess.run(["node", script, f"https://localhost:{self.gateway.port}/v1"], capture_output=True,
                           text=True, timeout=120, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout.strip().splitlines()[-1])
        self.assertEqual(out["chat"]["content"], "Les données restent en Europe.")
        self.assertEqual(out["chat"]["usage"]["completion_tokens"], 6)
        self.assertEqual(out["stream"]["text"], "Les données restent en Europe.")
        self.assertEqual(out["stream"]["chunks"], 7)
        self.assertEqual(out["stream"]["usage"]["total_tokens"], 18)
        self.assertEqual(out["plain_stream"], {"chunks": 6, "usage_chunks": 0})
        self.assertEqual(out["stream_helper"], {"content": "Les données restent en Europe.", "finish_reason": "stop"})
        self.assertEqual(out["embeddings"]["length"], 8)
        self.assertEqual(out["embeddings"]["usage"]["prompt_tokens"], 4)
        self.assertEqual(out["responses"]["text"], "Les données restent en Europe.")
        self.assertEqual(out["responses"]["usage"]["output_tokens"], 6)
        self.assertEqual(out["responses_stream"]["text"], "Les données restent en Europe.")
        # created, in_progress, output_item.added, content_part.added, 6 deltas, output_text.done,
        # content_part.done, output_item.done, completed: OpenAI's order
        self.assertEqual(out["responses_stream"]["events"], 14)
        self.assertEqual(out["responses_helper"]["text"], "Les données restent en Europe.")
        self.assertEqual(out["responses_helper"]["status"], "completed")
        self.assertEqual(out["responses_helper"]["usage"]["output_tokens"], 6)
        self.assertEqual(out["embeddings_batch"], {"vectors": 3, "indexes": [0, 1, 2]})
        self.assertEqual(out["responses_stream"]["usage"]["total_tokens"], 18)
        tokens = [(o["path"], o["stream"], o["prompt_tokens"], o["completion_tokens"]) for o in self.gateway.logs()
                  if o.get("msg") == "request" and o.get("status") == 200 and o["path"] != "/v1/models"]
        self.assertEqual(tokens, [("/v1/chat/completions", False, 12, 6), ("/v1/chat/completions", True, 12, 6),
                                  ("/v1/chat/completions", True, 12, 6), ("/v1/chat/completions", True, 12, 6),
                                  ("/v1/embeddings", False, 4, 0), ("/v1/embeddings", False, 12, 0),
                                  ("/v1/responses", False, 12, 6), ("/v1/responses", True, 12, 6),
                                  ("/v1/responses", True, 12, 6)])
        self.assertEqual(out["models"], ["mistral-small"])  # the gateway's list: exact names it may route
        self.assertEqual(out["wrong_key"], {"status": 401, "code": "invalid_api_key"})
        err = out["error"]
        self.assertEqual(err["status"], 404)
        self.assertEqual(err["code"], "model_not_found")
        self.assertEqual(err["type"], "invalid_request_error")
        self.assertIn("gpt-unknown", err["message"])
        self.assertRegex(err["request_id"] or "", r"^[0-9a-f]{32}$")

    def test_request_sent_straight_to_the_cluster_is_refused(self):
        resp = exchange(self.standin.port, self.certs, chat_request())
        self.assertEqual(resp.status, 401, resp.body)
        self.assertEqual(resp.json()["error"]["code"], "missing_signature")


if __name__ == "__main__":
    unittest.main()
