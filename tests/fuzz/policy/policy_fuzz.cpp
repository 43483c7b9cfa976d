// Fuzz entry point over the policy parser and everything that consumes its output: compile (all the
// checks), decide, explain, the invariant checker (with a small class budget), and the parsers of
// test files, cluster configs and request JSON. None of them may crash or hang on any input.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "policy/clusters_config.hpp"
#include "policy/explain.hpp"
#include "policy/invariant_checker.hpp"
#include "policy/policy.hpp"
#include "policy/policy_tests.hpp"
#include "policy/request_json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sovgw::policy;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const compile_result compiled = compile_policy(text, "fuzz.yaml");
  (void)format_diagnostics(compiled.diagnostics);
  const clusters_result clusters = parse_clusters_text(text, "fuzz.yaml");
  const policy_tests tests = parse_policy_tests(text, "fuzz.yaml", ".");
  std::string error;
  const auto request = parse_request_json(text, error);
  if (compiled.ok()) {
    const snapshot& policy = *compiled.policy;
    request_values r;
    r.client_country = "DE";
    r.tenant = "acme";
    r.model = "mistral-large";
    r.path = "/v1/chat/completions";
    r.method = "POST";
    r.detected_classes = {"personal"};
    r.declared_classes = {"public"};
    std::vector<std::string_view> storage;
    const decision d = policy.decide(r.view(storage), clusters.clusters);
    (void)explain_text(policy, r, clusters.clusters, d);
    (void)explain_json(policy, r, clusters.clusters, d);
    if (request) {
      const decision d2 = policy.decide(request->view(storage), {});
      (void)explain_text(policy, *request, {}, d2);
    }
    (void)check_invariants(policy, clusters.clusters, 2000);
    (void)lint_clusters(policy, clusters.clusters);
    if (tests.ok()) {
      (void)run_policy_tests(policy, tests, clusters.clusters, nullptr);
    }
  }
  return 0;
}
