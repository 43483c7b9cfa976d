#include "policy/policy_tests.hpp"

#include <doctest/doctest.h>

#include "policy/geo_db.hpp"
#include "policy/policy.hpp"

using namespace sovgw::policy;

TEST_CASE("the example tests pass against the example policy") {
  const auto policy = compile_policy_file(SOVGW_SOURCE_DIR "/examples/policies/eu_policy.yaml");
  REQUIRE(policy.ok());
  const auto tests = load_policy_tests(SOVGW_SOURCE_DIR "/examples/policies/eu_policy.tests.yaml");
  CHECK(format_diagnostics(tests.diagnostics).empty());
  REQUIRE(tests.ok());
  CHECK(tests.has_clusters);
  CHECK(tests.needs_geo());
  const geo_db geo = geo_db::load_default();
  const auto outcomes = run_policy_tests(*policy.policy, tests, tests.clusters.clusters, &geo);
  CHECK(outcomes.size() >= 10);
  for (const auto& o : outcomes) {
    CAPTURE(o.name);
    CAPTURE(o.failure);
    CHECK(o.passed);
  }
}

TEST_CASE("a wrong expectation fails with the difference and the trace") {
  const auto policy =
      compile_policy("rules:\n  - id: p\n    effect: permit\n    when: {tenant: [a]}\n", "p.yaml");
  REQUIRE(policy.ok());
  const auto tests = parse_policy_tests(R"(
tests:
  - name: wrong
    request: {tenant: a}
    expect: {effect: deny, rules: []}
  - name: right
    request: {tenant: b}
    expect: {effect: deny, cause: no_permit}
)",
                                        "t.yaml", ".");
  REQUIRE(tests.ok());
  const auto outcomes = run_policy_tests(*policy.policy, tests, {}, nullptr);
  REQUIRE(outcomes.size() == 2);
  CHECK_FALSE(outcomes[0].passed);
  CHECK(outcomes[0].location == "t.yaml:3:5");
  CHECK(outcomes[0].failure == "effect: expected deny, got permit\nrules: expected [], got [p]");
  CHECK(outcomes[0].trace.find("decision PERMIT") != std::string::npos);
  CHECK(outcomes[1].passed);
}

TEST_CASE("bad test files: every error with its position") {
  const auto tests = parse_policy_tests(R"(
tests:
  - name: a
    request: {tenant: a, colour: red, client.ip: 1.2.3}
    expect: {effect: maybe}
  - name: b
    request: {client.country: Germany}
  - request: {tenant: x}
    expect: {cause: because}
  - name: c
    request: {client.country: XX}
    expect: {effect: deny}
  - name: d
    request: {client.country: UK}
    expect: {effect: deny}
extra: 1
)",
                                        "t.yaml", ".");
  CHECK_FALSE(tests.ok());
  const std::string out = format_diagnostics(tests.diagnostics);
  CHECK(out.find("t.yaml:4:26: error: unknown key 'colour' in request") != std::string::npos);
  CHECK(out.find("t.yaml:4:50: error: client.ip '1.2.3' is not an IP address") != std::string::npos);
  CHECK(out.find("t.yaml:5:22: error: unknown effect 'maybe' (expected permit or deny)") !=
        std::string::npos);
  CHECK(out.find("t.yaml:6:5: error: test 'b' has no 'expect'") != std::string::npos);
  CHECK(out.find("t.yaml:7:31: error: client.country 'Germany' is not a country code") != std::string::npos);
  CHECK(out.find("t.yaml:9:21: error: unknown cause 'because'") != std::string::npos);
  CHECK(out.find("t.yaml:16:1: error: unknown key 'extra' in the test file") != std::string::npos);
  // An unassigned code is no country; UK is one a geo database returns (not GB), so a test may use it.
  CHECK(out.find("t.yaml:11:31: error: client.country 'XX' is not an ISO 3166-1 alpha-2 code") !=
        std::string::npos);
  CHECK(out.find("'UK'") == std::string::npos);
}

TEST_CASE("test files say which classes the client declared and which the gateway detected") {
  const auto policy = compile_policy(R"(
data_classes:
  personal: {detectors: [email]}
  public: {}
rules:
  - id: permit-personal
    effect: permit
    when: {data.class: [personal]}
  - id: forbid-public-us
    effect: forbid
    when: {data.class: [public], client.country: [US]}
)",
                                     "p.yaml");
  REQUIRE(policy.ok());
  const auto tests = parse_policy_tests(R"(
tests:
  - name: detected grants
    request: {data.class.detected: [personal]}
    expect: {effect: permit}
  - name: declared does not grant
    request: {data.class.declared: [personal]}
    expect: {effect: deny, cause: no_permit}
  - name: data.class means detected
    request: {data.class: personal}
    expect: {effect: permit}
  - name: a declaration forbids
    request: {client.country: US, data.class.detected: [personal], data.class.declared: [public]}
    expect: {effect: deny, cause: forbidden}
  - name: public cannot be detected
    request: {data.class.detected: [public]}
    expect: {effect: deny}
  - name: unknown class
    request: {data.class.declared: [secret]}
    expect: {effect: deny}
)",
                                        "t.yaml", ".");
  INFO(format_diagnostics(tests.diagnostics));
  REQUIRE(tests.ok());
  const auto outcomes = run_policy_tests(*policy.policy, tests, {}, nullptr);
  REQUIRE(outcomes.size() == 6);
  for (std::size_t i = 0; i < 4; ++i) {
    CAPTURE(outcomes[i].name);
    CAPTURE(outcomes[i].failure);
    CHECK(outcomes[i].passed);
  }
  CHECK_FALSE(outcomes[4].passed);
  CHECK(outcomes[4].failure ==
        "data class 'public' has no detectors, so it is never detected: a client can only declare it "
        "(data.class.declared)");
  CHECK_FALSE(outcomes[5].passed);
  CHECK(outcomes[5].failure == "data class 'secret' is not defined by the policy");
}

// The gateway decides the spellings a cluster may read a request's path and model as
// (policy/spelling_variants.hpp); a test expects what the gateway enforces, not the literal request's
// decision (probe: a restrict on gpt-4o was missed for gpt-4o-2024-08-06, a forbid on /admin/* for
// /Admin/users).
TEST_CASE("policy tests expect the decision of every spelling, as the gateway decides") {
  const auto policy = compile_policy(R"(rules:
  - id: permit-all
    effect: permit
    when: {method: [POST]}
  - id: gpt4o-pinned
    effect: restrict
    when: {model: [gpt-4o]}
    route: {cluster: [us-east-1]}
    obligations: {redact: [iban]}
  - id: forbid-admin
    effect: forbid
    when: {path: ["/admin/*"]}
)",
                                     "p.yaml");
  REQUIRE(policy.ok());
  const auto tests = parse_policy_tests(R"(
clusters:
  - {name: us-east-1, endpoints: ["us.example.com:443"], country: US, operator_jurisdiction: US}
  - {name: eu-west-1, endpoints: ["eu.example.com:443"], country: FR, operator_jurisdiction: FR}
tests:
  - name: dated snapshot
    request: {model: gpt-4o-2024-08-06, method: POST, path: /v1/chat/completions}
    expect: {effect: permit, rules: [permit-all, gpt4o-pinned], clusters: [us-east-1], obligations: {redact: [iban]}}
  - name: provider prefix and case
    request: {model: OpenAI/GPT-4o, method: POST, path: /v1/chat/completions}
    expect: {effect: permit, clusters: [us-east-1]}
  - name: admin in another case
    request: {model: m, method: POST, path: /Admin/users}
    expect: {effect: deny, cause: forbidden, rules: [permit-all, forbid-admin]}
  - name: admin without the slash
    request: {model: m, method: POST, path: /admin}
    expect: {effect: deny, cause: forbidden}
  - name: the literal request
    request: {model: gpt-4o, method: POST, path: /v1/chat/completions}
    expect: {effect: permit, clusters: [us-east-1]}
)",
                                        "t.yaml", ".");
  REQUIRE(tests.ok());
  const auto outcomes = run_policy_tests(*policy.policy, tests, tests.clusters.clusters, nullptr);
  REQUIRE(outcomes.size() == 5);
  for (const auto& o : outcomes) {
    CAPTURE(o.name);
    CAPTURE(o.failure);
    CHECK(o.passed);
  }
  // Without clusters only the rules decide: a spelling's restrict adds its rule, and denies nothing.
  const auto rules_only = run_policy_tests(*policy.policy, tests, {}, nullptr);
  CHECK(rules_only[0].failure == "clusters: expected [us-east-1], got []");
}

TEST_CASE("a forbid or restrict written with capitals meets the lower case spellings too") {
  // Probe round 45: the spellings fold the request, not the rule: a forbid on the vendor's
  // Llama-Guard-* or Google's :streamGenerateContent missed llama-guard-3 and
  // :streamgeneratecontent (which case-folding servers run), though an invariant proved them
  // denied; and a restrict met only by a spelling dropped its log_payload.
  const auto policy = compile_policy(R"(rules:
  - id: permit-all
    effect: permit
  - id: forbid-guard
    effect: forbid
    when: {model: ["Llama-Guard-*"]}
  - id: forbid-stream
    effect: forbid
    when: {path: ["/v1beta/models/*:streamGenerateContent"]}
  - id: mistral-quiet
    effect: restrict
    when: {model: [mistral-small]}
    route: {cluster: [eu-west-1]}
    obligations: {log_payload: none}
  - id: permit-exact
    effect: permit
    when: {model: [GPT-4o]}
)",
                                     "p.yaml");
  REQUIRE(policy.ok());
  const auto tests = parse_policy_tests(R"(
clusters:
  - {name: us-east-1, endpoints: ["us.example.com:443"], country: US, operator_jurisdiction: US}
  - {name: eu-west-1, endpoints: ["eu.example.com:443"], country: FR, operator_jurisdiction: FR}
tests:
  - name: the vendor's spelling
    request: {model: Llama-Guard-3, method: POST, path: /v1/chat/completions}
    expect: {effect: deny, cause: forbidden}
  - name: lower case
    request: {model: llama-guard-3, method: POST, path: /v1/chat/completions}
    expect: {effect: deny, cause: forbidden}
  - name: upper case
    request: {model: LLAMA-GUARD-3, method: POST, path: /v1/chat/completions}
    expect: {effect: deny, cause: forbidden}
  - name: the method in lower case
    request: {model: m, method: POST, path: "/v1beta/models/gemini:streamgeneratecontent"}
    expect: {effect: deny, cause: forbidden}
  - name: a restrict met by a dated snapshot keeps its log_payload
    request: {model: MISTRAL-SMALL-2407, method: POST, path: /v1/chat/completions}
    expect: {effect: permit, clusters: [eu-west-1], obligations: {log_payload: none}}
  - name: a permit stays as written
    request: {model: gpt-4o, method: POST, path: /v1/chat/completions}
    expect: {effect: permit, rules: [permit-all]}
)",
                                        "t.yaml", ".");
  REQUIRE(tests.ok());
  const auto outcomes = run_policy_tests(*policy.policy, tests, tests.clusters.clusters, nullptr);
  REQUIRE(outcomes.size() == 6);
  for (const auto& o : outcomes) {
    CAPTURE(o.name);
    CAPTURE(o.failure);
    CHECK(o.passed);
  }
}
