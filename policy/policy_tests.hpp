#pragma once

#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "policy/clusters_config.hpp"
#include "policy/geo_db.hpp"
#include "policy/policy.hpp"

// Policy test files: requests with their expected decisions, kept beside the policy.
//
//   clusters: clusters.yaml          # optional: a config file (relative to this file) or an inline list
//   tests:
//     - name: German client, personal data, EU cluster
//       request: {client.ip: 85.214.132.117, tenant: acme, model: mistral-large,
//                 data.class.detected: [personal], data.class.declared: [public]}
//       expect: {effect: permit, rules: [permit-eea, personal-eu-only], clusters: [fr-par-1]}
//
// A request with client.ip and no client.country is geolocated. data.class.detected (or
// data.class) are the classes the gateway's detectors found, data.class.declared those the client
// declared; a test naming a class the policy does not define, or detecting one without detectors,
// fails. `expect` may list effect (permit |
// deny), cause (forbidden | no_permit | no_cluster), rules and clusters (exact sets, any order), and
// obligations ({redact: [detector, ...], log_payload: sealed | digest | none}, exactly the merged ones).
namespace sovgw::policy {

struct policy_test_case {
  std::string name;
  source_pos pos;
  request_values request;
  std::optional<effect> expect_effect;
  std::optional<deny_cause> expect_cause;
  std::optional<std::vector<std::string>> expect_rules;
  std::optional<std::vector<std::string>> expect_clusters;
  // The merged obligations, exactly: a redact list left out is none, a log_payload left out is
  // unset (no rule sets one).
  std::optional<obligations> expect_obligations;
};

struct policy_tests {
  std::string file;
  std::vector<policy_test_case> cases;
  bool has_clusters = false;
  clusters_result clusters;
  std::vector<diagnostic> diagnostics;

  [[nodiscard]] bool ok() const noexcept;
  [[nodiscard]] bool needs_geo() const noexcept;
};

[[nodiscard]] policy_tests load_policy_tests(const std::filesystem::path& path);
[[nodiscard]] policy_tests parse_policy_tests(std::string_view text, const std::string& file_name,
                                              const std::filesystem::path& base_dir);

// Expectations that name what the policy or the clusters do not have (a rule id, a cluster): the
// test could only ever fail, so it is an error of the file, not a failed test.
[[nodiscard]] std::vector<diagnostic> expectation_problems(const snapshot& policy, const policy_tests& tests,
                                                           std::span<const cluster_info> clusters);

struct test_outcome {
  std::string name;
  std::string location;  // file:line:col of the test
  bool passed = false;
  std::string failure;  // what differed
  std::string trace;    // explain_text of the decision
};

// Runs every case against `policy` with `clusters`; `geo` geolocates requests that need it (may be
// null when none does).
[[nodiscard]] std::vector<test_outcome> run_policy_tests(const snapshot& policy, const policy_tests& tests,
                                                         std::span<const cluster_info> clusters,
                                                         const geo_db* geo);

}  // namespace sovgw::policy
