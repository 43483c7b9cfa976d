#include "gateway/pipeline.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "gateway/config.hpp"

using namespace sovgw::gateway;

namespace {

// One cluster in Paris serving mistral-*, no policy.
std::shared_ptr<const config> paris_config() {
  return parse_config(R"(tls: {certificate: a.pem, private_key: a.key}
clusters:
  - name: paris
    endpoints: ["127.0.0.1:9443"]
    country: FR
    operator_jurisdiction: EU
    models: ["mistral-*"]
)",
                      "t.yaml");
}

}  // namespace

TEST_CASE("classify reads model and stream; route fails closed") {
  pipeline p(paris_config());
  request_context ctx;
  std::string raw = "POST / HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n\r\n";
  REQUIRE(sovgw::http::parse_request_head(raw, {}, ctx.head) == sovgw::http::parse_error::none);
  ctx.body = R"({"model":"mistral-small","stream":true,"messages":[]})";
  CHECK(p.classify(ctx).proceed());
  CHECK(ctx.model == "mistral-small");
  CHECK(ctx.stream);
  CHECK(p.decide(ctx).proceed());
  CHECK(p.route(ctx, [](int) { return true; }).proceed());
  CHECK(ctx.cluster == 0);
  auto down = p.route(ctx, [](int) { return false; });
  CHECK_FALSE(down.proceed());
  CHECK(down.result == outcome::cluster_unavailable);
  ctx.model = "llama-3";
  auto none = p.route(ctx, [](int) { return true; });
  CHECK(none.result == outcome::model_not_found);
  ctx.model.clear();  // GET /v1/models names no model: any allowed cluster serves it
  CHECK(p.route(ctx, [](int) { return true; }).proceed());
  ctx.body = "{not json";
  CHECK(p.classify(ctx).result == outcome::invalid_json);
}

// Probe round 40: an Assistants run naming no model ran the assistant's stored model, which no
// rule saw; a batch, a run's tool outputs, a fine-tune's resumption and a video's remix run a model
// the request cannot name at all.
TEST_CASE("classify: model work names its model, or is refused when the request cannot name it") {
  pipeline p(paris_config());
  const auto classify = [&](std::string_view method, std::string_view path, std::string body) {
    request_context ctx;
    const std::string raw =
        fmt::format("{} {} HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n\r\n", method, path);
    REQUIRE(sovgw::http::parse_request_head(raw, {}, ctx.head) == sovgw::http::parse_error::none);
    ctx.body = std::move(body);
    stage_result r = p.classify(ctx);
    return std::pair{r.result, r.message + "|" + ctx.model};
  };
  // A run names the model it runs (the API takes "model" over the assistant's), under any prefix.
  // LocalAI's endpoints that fill an empty model with a default one (probe round 49).
  for (const char* path :
       {"/v1/threads/runs", "/v1/threads/thread_1/runs", "/openai/threads/thread_1/runs", "/threads/runs/",
        "/V1/Threads/thread_1/Runs", "/v1/fine_tuning/jobs", "/v1/edits", "/edits", "/v1/videos/generations",
        "/v1/images/generations", "/video", "/v1/images/inpainting", "/images/inpainting", "/v1/detection",
        "/vad", "/v1/vad"}) {
    const std::string where(path);
    CAPTURE(where);
    for (const char* body :
         {R"({"assistant_id":"asst_1"})", R"({"assistant_id":"asst_1","model":null})", ""}) {
      const std::string what(body);
      CAPTURE(what);
      const auto [result, message] = classify("POST", path, body);
      CHECK(result == outcome::invalid_body);
      CHECK(message.find("names no model") != std::string::npos);
    }
    const auto [result, message] =
        classify("POST", path, R"({"assistant_id":"asst_1","model":"mistral-small"})");
    CHECK(result == outcome::ok);
    CHECK(message == "|mistral-small");
  }
  // Work on a model the request has no field to name: refused, whatever the body says.
  for (const char* path :
       {"/v1/batches", "/openai/batches", "/batches/", "/v1/messages/batches",
        "/v1/threads/thread_1/runs/run_1/submit_tool_outputs", "/v1/fine_tuning/jobs/ftjob_1/resume",
        "/v1/videos/video_1/remix", "/api/agent/jobs/execute", "/api/agent/tasks/nightly/execute"}) {
    const std::string where(path);
    CAPTURE(where);
    const auto [result, message] = classify("POST", path, R"({"model":"mistral-small","input_file_id":"f"})");
    CHECK(result == outcome::invalid_body);
    CHECK(message.find("runs a model it cannot name") != std::string::npos);
  }
  // Not model work: reads, cancelling, pausing, a run's update, a vector store's files (the
  // cluster's own embedding model, which no request chooses), an assistant's creation.
  const std::pair<std::string_view, std::string_view> not_model_work[] = {
      {"GET", "/v1/threads/thread_1/runs"},
      {"GET", "/v1/batches"},
      {"POST", "/v1/threads/thread_1/runs/run_1/cancel"},
      {"POST", "/v1/threads/thread_1/runs/run_1"},
      {"POST", "/v1/batches/b_1/cancel"},
      {"POST", "/v1/fine_tuning/jobs/ftjob_1/pause"},
      {"POST", "/v1/vector_stores/vs_1/files"},
      {"POST", "/v1/vector_stores/vs_1/file_batches"},
      {"POST", "/v1/assistants"},
      {"GET", "/v1/evals/eval_1/runs"}};
  for (const auto& [method, path] : not_model_work) {
    const std::string where(path);
    CAPTURE(where);
    const auto [result, message] = classify(method, path, method == "GET" ? "" : R"({"file_id":"file_1"})");
    CHECK(result == outcome::ok);
  }
}

namespace {

// A pipeline over an inline policy (written to a temporary file, as the config names a file) and
// two clusters: a French EU-operated one and a US one listed first, so only the policy keeps
// personal data off it.
struct policy_fixture {
  static constexpr std::string_view policy_text = R"(version: 1
data_classes:
  personal:
    header: personal
    detectors: [email, iban]
rules:
  - id: forbid-admin
    effect: forbid
    when:
      path: ["/admin/*"]
    reason: no admin API through the gateway
  - id: forbid-gpt-4o
    effect: forbid
    when:
      model: ["gpt-4o"]
    reason: no GPT-4o through the gateway
  - id: permit-all
    effect: permit
    reason: everyone may ask
  - id: personal-in-eu
    effect: restrict
    when:
      data.class: [personal]
    route:
      cluster.operator_jurisdiction: [EU]
    obligations:
      redact: [iban]
    reason: personal data stays with EU operators
)";

  policy_fixture() {
    char dir_template[] = "/tmp/sovgw-pipeline-XXXXXX";
    dir = mkdtemp(dir_template);
    const std::string policy_path = dir + "/policy.yaml";
    std::ofstream(policy_path) << policy_text;
    cfg = parse_config("tls: {certificate: a.pem, private_key: a.key}\npolicy: " + policy_path + R"(
clusters:
  - name: virginia
    endpoints: ["127.0.0.1:9444"]
    country: US
    operator_jurisdiction: US
  - name: paris
    endpoints: ["127.0.0.1:9443"]
    country: FR
    operator_jurisdiction: EU
)",
                       "t.yaml");
    stages = std::make_unique<pipeline>(cfg);
  }
  ~policy_fixture() { std::filesystem::remove_all(dir); }

  // Runs identify, classify, decide and route over one request; the first stage that refuses wins.
  stage_result run(std::string_view method, std::string_view target, std::string_view content_type,
                   std::string body) {
    ctx = request_context{};
    ctx.peer_ip = "10.0.0.1";
    raw =
        fmt::format("{} {} HTTP/1.1\r\nHost: a\r\n{}\r\n", method, target,
                    content_type.empty() ? std::string() : fmt::format("Content-Type: {}\r\n", content_type));
    REQUIRE(sovgw::http::parse_request_head(raw, {}, ctx.head) == sovgw::http::parse_error::none);
    ctx.body = std::move(body);
    stage_result r = stages->identify(ctx);
    if (r.proceed()) {
      r = stages->identify_body(ctx);
    }
    if (r.proceed()) {
      r = stages->classify(ctx);
    }
    if (r.proceed()) {
      r = stages->decide(ctx);
    }
    if (r.proceed()) {
      r = stages->route(ctx, [](int) { return true; });
    }
    return r;
  }

  std::string dir;
  std::shared_ptr<const config> cfg;
  std::unique_ptr<pipeline> stages;
  request_context ctx;
  std::string raw;
};

}  // namespace

TEST_CASE_FIXTURE(policy_fixture, "pipeline with a policy: permit routes to the first allowed cluster") {
  const stage_result r = run("POST", "/v1/chat/completions", "application/json",
                             R"({"model":"m","messages":[{"role":"user","content":"hello"}]})");
  REQUIRE(r.proceed());
  CHECK(ctx.permitted);
  CHECK(ctx.matched_rules == std::vector<std::string>{"permit-all"});
  CHECK(cfg->clusters[static_cast<std::size_t>(ctx.cluster)].name == "virginia");
  CHECK(ctx.data_classes.empty());
}

TEST_CASE_FIXTURE(policy_fixture, "pipeline with a policy: personal data is redacted and pinned to the EU") {
  const stage_result r = run(
      "POST", "/v1/chat/completions", "application/json",
      R"({"model":"m","messages":[{"role":"user","content":"IBAN FR7630006000011234567890189 of ann@example.com"}]})");
  REQUIRE(r.proceed());
  CHECK(ctx.data_classes == std::vector<std::string>{"personal"});
  CHECK(cfg->clusters[static_cast<std::size_t>(ctx.cluster)].name == "paris");
  CHECK(ctx.redactions == 1);
  CHECK(ctx.body.find("FR7630006000011234567890189") == std::string::npos);
  CHECK(ctx.body.find("[redacted:iban]") != std::string::npos);
  CHECK(ctx.body.find("ann@example.com") != std::string::npos);  // email classifies; only iban is redacted
}

TEST_CASE_FIXTURE(policy_fixture, "pipeline with a policy: redaction is checked on the body as forwarded") {
  // An IBAN split over two content parts is redacted in both.
  REQUIRE(
      run("POST", "/v1/chat/completions", "application/json",
          R"({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"IBAN FR76 3000 6000"},)"
          R"({"type":"text","text":"0112 3456 7890 189"}]}]})")
          .proceed());
  CHECK(cfg->clusters[static_cast<std::size_t>(ctx.cluster)].name == "paris");
  CHECK(ctx.redactions == 2);  // one IBAN, a piece in each part
  CHECK(ctx.body.find("3000") == std::string::npos);
  CHECK(ctx.body.find("7890") == std::string::npos);
  // What redaction cannot rewrite (the model a request is routed by) refuses the request rather
  // than reach the cluster.
  const stage_result r = run("POST", "/v1/chat/completions", "application/json",
                             R"({"model":"m FR7630006000011234567890189","messages":[]})");
  CHECK(r.result == outcome::redaction_unsupported);
  CHECK(r.message.find("iban") != std::string::npos);
  CHECK_FALSE(ctx.permitted);
}

TEST_CASE_FIXTURE(policy_fixture, "pipeline with a policy: a forbid rule answers 403 naming the rule") {
  const stage_result r = run("POST", "/admin/x", "application/json", R"({"model":"m"})");
  CHECK(r.result == outcome::policy_denied);
  CHECK(info(r.result).status == 403);
  CHECK(r.message.find("forbid-admin") != std::string::npos);
  CHECK(r.message.find("no admin API") != std::string::npos);
  CHECK_FALSE(ctx.permitted);
}

TEST_CASE_FIXTURE(policy_fixture, "pipeline with a policy: a body on /v1/ not labelled JSON is 415") {
  const stage_result r = run("POST", "/v1/completions", "text/plain", R"({"model":"m","prompt":"hi"})");
  CHECK(r.result == outcome::unsupported_media_type);
  CHECK(info(r.result).status == 415);
}

TEST_CASE_FIXTURE(policy_fixture, "pipeline with a policy: a redaction the gateway cannot do is 415") {
  // Off /v1/, a body that is not JSON is scanned as bytes; a redaction there cannot be done.
  const stage_result r = run("POST", "/internal/upload", "text/plain", "IBAN FR7630006000011234567890189");
  CHECK(r.result == outcome::redaction_unsupported);
  CHECK(info(r.result).status == 415);
  CHECK(r.message.find("iban") != std::string::npos);
}

TEST_CASE_FIXTURE(policy_fixture,
                  "pipeline with a policy: a form field given twice is read joined (probe round 46)") {
  // A server reads prompt=a&prompt=b, prompt[]=..., or two parts of one name as a list, as the
  // gateway reads a JSON prose array: an address split over its values is found.
  const std::string multipart =
      "--b0\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nmail alice.smith\r\n"
      "--b0\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n"
      "--b0\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\n@example.com please\r\n--b0--\r\n";
  const std::pair<std::string_view, std::string> bodies[] = {
      {"application/x-www-form-urlencoded", "prompt=alice.smith&prompt=%40example.com"},
      {"application/x-www-form-urlencoded", "prompt[]=alice.smith&prompt[]=%40example.com"},
      {"application/x-www-form-urlencoded", "text=mail+alice.smith&n=1&text=%40example.com"},
      {"application/x-www-form-urlencoded", "prompt=mail+alice.smith;prompt=%40example.com"},
      {"multipart/form-data; boundary=b0", multipart},
  };
  for (const auto& [type, body] : bodies) {
    CAPTURE(body);
    REQUIRE(run("POST", "/foo", type, body).proceed());
    CHECK(ctx.data_classes == std::vector<std::string>{"personal"});
    CHECK(cfg->clusters[static_cast<std::size_t>(ctx.cluster)].name == "paris");
  }
  // Two fields of different names are two texts, as two JSON keys are.
  REQUIRE(
      run("POST", "/foo", "application/x-www-form-urlencoded", "a=alice.smith&b=%40example.com").proceed());
  CHECK(ctx.data_classes.empty());
}

TEST_CASE_FIXTURE(policy_fixture, "pipeline with a policy: an undeclared data class is 400") {
  ctx = request_context{};
  raw = "POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nSovereign-Data-Class: secret\r\n\r\n";
  REQUIRE(sovgw::http::parse_request_head(raw, {}, ctx.head) == sovgw::http::parse_error::none);
  const stage_result r = stages->decide(ctx);
  CHECK(r.result == outcome::unknown_data_class);
  CHECK(r.message.find("personal") != std::string::npos);  // the declared classes are listed
}

TEST_CASE_FIXTURE(policy_fixture,
                  "pipeline with a policy: a deployment's or an engine's name is read whole") {
  // LiteLLM declares /openai/deployments/{model:path}/chat/completions (and /engines/...): the
  // greedy `path` reads every segment up to the action, and that model overrides the body's
  // (probe round 32: `openai` was decided, `openai/gpt-4o` run).
  for (const std::string_view target :
       {"/openai/deployments/openai/gpt-4o/chat/completions?api-version=2024-10-21",
        "/engines/openai/gpt-4o/chat/completions", "/v1/engines/openai/gpt-4o/completions",
        "/OPENAI/Deployments/openai/gpt-4o/Embeddings/",
        "/openai/deployments/openai/gpt-4o/images/generations"}) {
    CAPTURE(target);
    const stage_result r = run("POST", target, "application/json", R"({"messages":[]})");
    CHECK(ctx.model == "openai/gpt-4o");
    CHECK(r.result == outcome::policy_denied);
    CHECK(r.message.find("forbid-gpt-4o") != std::string::npos);
  }
  // More segments, as a LiteLLM name with its provider and publisher: the whole name.
  REQUIRE(run("POST", "/openai/deployments/openrouter/meta-llama/llama-3/chat/completions",
              "application/json", R"({"model":"openrouter/meta-llama/llama-3","messages":[]})")
              .proceed());
  CHECK(ctx.model == "openrouter/meta-llama/llama-3");
  // One segment, as before.
  REQUIRE(run("POST", "/openai/deployments/mistral-small/chat/completions", "application/json",
              R"({"messages":[]})")
              .proceed());
  CHECK(ctx.model == "mistral-small");
  // The body and the target agree on the whole name, or the request is refused.
  stage_result r = run("POST", "/openai/deployments/evil-a/gpt-4o/chat/completions", "application/json",
                       R"({"model":"evil-a","messages":[]})");
  CHECK(r.result == outcome::invalid_body);
  CHECK(r.message.find("'evil-a/gpt-4o'") != std::string::npos);
  // Where servers disagree on where the name ends, refused rather than guessed: an action the
  // gateway does not know after more than one segment (a greedy reader takes `a/b`, a
  // one-segment reader `a`), and a segment that is itself an action (Azure's
  // /extensions/chat/completions is `d` to Azure and `d/extensions` to LiteLLM).
  for (const std::string_view target :
       {"/openai/deployments/a/b/search", "/openai/deployments/d/extensions/chat/completions",
        "/engines/a/completions/chat/completions", "/openai/deployments/a/models/b/embeddings"}) {
    CAPTURE(target);
    r = run("POST", target, "application/json", R"({"messages":[]})");
    CHECK(r.result == outcome::invalid_body);
    CHECK(r.message.find("cannot be read as one name") != std::string::npos);
  }
}
