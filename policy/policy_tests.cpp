#include "policy/policy_tests.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "common/regular_file.hpp"
#include "policy/explain.hpp"
#include "policy/request_json.hpp"
#include "policy/spelling_variants.hpp"
#include "policy/yaml_util.hpp"

namespace sovgw::policy {
namespace {

void parse_request(const YAML::Node& node, source_pos owner, diagnostics& diags, request_values& out) {
  if (!yaml::expect_map(node, owner, diags, "request")) {
    return;
  }
  yaml::for_each_entry(node, diags, "request",
                       {"client.country", "client.ip", "tenant", "model", "path", "method",
                        "data.class.detected", "data.class.declared", "data.class"},
                       [&](const std::string& key, source_pos kpos, const YAML::Node& value) {
                         if (auto* classes = data_class_list(key, out)) {
                           for (auto& v : yaml::value_list(value, kpos, diags, key)) {
                             classes->push_back(std::move(v.text));
                           }
                           return;
                         }
                         const auto text = yaml::scalar(value, kpos, diags, key);
                         if (!text) {
                           return;
                         }
                         if (const std::string problem = set_request_value(out, key, *text);
                             !problem.empty()) {
                           diags.error(yaml::pos_of(value), key + " " + problem);
                         }
                       });
  // A country the gateway could never derive from the address (probe round 41: a test of client.ip
  // 10.1.2.3 with client.country DE passed; the gateway says `private` for it).
  if (const std::string problem = request_origin_problem(out); !problem.empty()) {
    diags.error(yaml::pos_of(node["client.country"]), problem);
  }
}

std::vector<std::string> names(const YAML::Node& node, source_pos owner, diagnostics& diags,
                               std::string_view what) {
  std::vector<std::string> out;
  if (node.IsSequence() && node.size() == 0) {
    return out;  // an explicitly empty expectation: no rules / no clusters
  }
  for (auto& v : yaml::value_list(node, owner, diags, what)) {
    out.push_back(std::move(v.text));
  }
  return out;
}

// `obligations: {redact: [iban], log_payload: digest}`: what a permit's merged obligations must be,
// exactly (probe round 41: a removed redact could not be pinned by a test).
obligations parse_expected_obligations(const YAML::Node& node, source_pos owner, diagnostics& diags) {
  obligations out;
  if (!yaml::expect_map(node, owner, diags, "obligations")) {
    return out;
  }
  yaml::for_each_entry(
      node, diags, "obligations", {"redact", "log_payload"},
      [&](const std::string& key, source_pos kpos, const YAML::Node& value) {
        if (key == "redact") {
          if (value.IsSequence() && value.size() == 0) {
            return;  // explicitly none
          }
          for (const auto& d : yaml::value_list(value, kpos, diags, "redact")) {
            const auto index = detector_index(d.text);
            if (!index) {
              diags.error(d.pos, fmt::format("unknown detector '{}' (known: {})", d.text,
                                             fmt::join(known_detectors(), ", ")));
            } else if ((out.redact & (1u << *index)) != 0) {
              diags.error(d.pos, fmt::format("expect: '{}' is listed twice (the list is a set)", d.text));
            } else {
              out.redact |= 1u << *index;
            }
          }
          return;
        }
        const auto text = yaml::scalar(value, kpos, diags, "log_payload");
        if (!text) {
          return;
        }
        if (const auto l = log_payload_named(*text)) {
          out.log = *l;
          return;
        }
        diags.error(yaml::pos_of(value), "unknown log_payload '" + *text +
                                             "' (expected sealed, digest or none; leave it out when no rule "
                                             "sets one)");
      });
  return out;
}

void parse_expect(const YAML::Node& node, source_pos owner, diagnostics& diags, policy_test_case& tc) {
  if (!yaml::expect_map(node, owner, diags, "expect")) {
    return;
  }
  yaml::for_each_entry(
      node, diags, "expect", {"effect", "cause", "rules", "clusters", "obligations"},
      [&](const std::string& key, source_pos kpos, const YAML::Node& value) {
        if (key == "obligations") {
          tc.expect_obligations = parse_expected_obligations(value, kpos, diags);
          return;
        }
        if (key == "rules") {
          tc.expect_rules = names(value, kpos, diags, "rules");
          return;
        }
        if (key == "clusters") {
          tc.expect_clusters = names(value, kpos, diags, "clusters");
          return;
        }
        const auto text = yaml::scalar(value, kpos, diags, key);
        if (!text) {
          return;
        }
        if (key == "effect") {
          if (*text == "permit") {
            tc.expect_effect = effect::permit;
          } else if (*text == "deny") {
            tc.expect_effect = effect::deny;
          } else {
            diags.error(yaml::pos_of(value), "unknown effect '" + *text + "' (expected permit or deny)");
          }
          return;
        }
        for (const auto c : {deny_cause::forbidden, deny_cause::no_permit, deny_cause::no_cluster}) {
          if (*text == deny_cause_name(c)) {
            tc.expect_cause = c;
            return;
          }
        }
        diags.error(yaml::pos_of(value),
                    "unknown cause '" + *text + "' (expected forbidden, no_permit or no_cluster)");
      });
  if (node.IsMap() && node.size() == 0) {
    diags.error(yaml::pos_of(node), "expect is empty");
  }
  // Expectations no decision can meet: the test could only ever fail.
  if (tc.expect_cause && tc.expect_effect == effect::permit) {
    diags.error(yaml::pos_of(node["cause"]), "expect: a cause is a denial's, and this test expects a permit");
  }
  if (tc.expect_effect == effect::deny && tc.expect_clusters && !tc.expect_clusters->empty()) {
    diags.error(yaml::pos_of(node["clusters"]),
                "expect: a denied request is routed to no cluster: clusters must be [] or left out");
  }
  if (tc.expect_effect == effect::deny && tc.expect_obligations) {
    diags.error(
        yaml::pos_of(node["obligations"]),
        "expect: a denied request carries no obligations (they bind a permitted one): leave them out");
  }
  if (tc.expect_effect == effect::permit && tc.expect_clusters && tc.expect_clusters->empty()) {
    diags.error(yaml::pos_of(node["clusters"]),
                "expect: a permitted request is routed to at least one cluster (with none it is denied, "
                "no_cluster)");
  }
  if (tc.expect_effect == effect::permit && tc.expect_rules && tc.expect_rules->empty()) {
    diags.error(yaml::pos_of(node["rules"]),
                "expect: a permitted request matched at least the permit rule that allowed it");
  }
  for (const auto* list : {&tc.expect_rules, &tc.expect_clusters}) {
    if (!*list) {
      continue;
    }
    std::vector<std::string> sorted = **list;
    std::sort(sorted.begin(), sorted.end());
    if (const auto twice = std::adjacent_find(sorted.begin(), sorted.end()); twice != sorted.end()) {
      diags.error(yaml::pos_of(node[list == &tc.expect_rules ? "rules" : "clusters"]),
                  fmt::format("expect: '{}' is listed twice (the list is a set)", *twice));
    }
  }
}

std::string set_text(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return fmt::format("[{}]", fmt::join(v, ", "));
}

}  // namespace

bool policy_tests::ok() const noexcept {
  return std::none_of(diagnostics.begin(), diagnostics.end(),
                      [](const auto& d) { return d.level == severity::error; });
}

bool policy_tests::needs_geo() const noexcept {
  return std::any_of(cases.begin(), cases.end(),
                     [](const auto& c) { return c.request.client_ip && c.request.client_country.empty(); });
}

namespace {

// A test file's `clusters: FILE` (relative to the test file): its clusters, or why it cannot be
// read at the entry's position.
void load_clusters_entry(const std::filesystem::path& path, source_pos pos, diagnostics& diags,
                         policy_tests& out) {
  auto text = read_regular_file(path.string(), max_config_bytes, "configuration file");
  if (!text.is_ok()) {
    out.clusters.file = path.string();
    diags.error(pos, fmt::format("clusters: {}: {}", path.string(), text.error().message()));
    return;
  }
  out.clusters = parse_clusters_text(*text, path.string());
  out.diagnostics.insert(out.diagnostics.end(), out.clusters.diagnostics.begin(),
                         out.clusters.diagnostics.end());
}

}  // namespace

policy_tests parse_policy_tests(std::string_view text, const std::string& file_name,
                                const std::filesystem::path& base_dir) {
  diagnostics diags(file_name);
  policy_tests out;
  out.file = file_name;
  const YAML::Node root = yaml::load(text, diags);
  if (root.IsDefined() && !root.IsMap()) {
    diags.error(source_pos{1, 1}, "a policy test file must be a mapping with a 'tests' list");
  } else if (root.IsDefined()) {
    bool has_tests = false;
    yaml::for_each_entry(
        root, diags, "the test file", {"clusters", "tests"},
        [&](const std::string& key, source_pos kpos, const YAML::Node& value) {
          if (key == "clusters") {
            out.has_clusters = true;
            if (value.IsScalar()) {
              load_clusters_entry(base_dir / value.Scalar(), yaml::pos_of(value), diags, out);
            } else {
              out.clusters.file = file_name;
              read_clusters_node(value, kpos, diags, out.clusters);
            }
            return;
          }
          has_tests = true;
          if (!yaml::expect_list(value, kpos, diags, "tests")) {
            return;
          }
          if (value.size() == 0) {
            // A run of no tests would "pass": the file was cut short, or the tests never written.
            diags.error(kpos, "'tests' is empty: a test file holds at least one test");
          }
          for (const auto& item : value) {
            const source_pos pos = yaml::pos_of(item);
            if (!yaml::expect_map(item, pos, diags, "a test")) {
              continue;
            }
            policy_test_case tc;
            tc.pos = pos;
            bool has_request = false;
            bool has_expect = false;
            yaml::for_each_entry(item, diags, "a test", {"name", "request", "expect"},
                                 [&](const std::string& k, source_pos p, const YAML::Node& v) {
                                   if (k == "name") {
                                     if (auto n = yaml::scalar(v, p, diags, "name")) {
                                       tc.name = *n;
                                     }
                                   } else if (k == "request") {
                                     has_request = true;
                                     parse_request(v, p, diags, tc.request);
                                   } else {
                                     has_expect = true;
                                     parse_expect(v, p, diags, tc);
                                   }
                                 });
            if (tc.name.empty()) {
              tc.name = "test at line " + std::to_string(pos.line);
            } else if (const auto same =
                           std::find_if(out.cases.begin(), out.cases.end(),
                                        [&](const policy_test_case& c) { return c.name == tc.name; });
                       same != out.cases.end()) {
              diags.error(pos, "test '" + tc.name + "' is named twice (first at line " +
                                   std::to_string(same->pos.line) + "): a failure must name one test");
            }
            if (!has_request) {
              diags.error(pos, "test '" + tc.name + "' has no 'request'");
            }
            if (!has_expect) {
              diags.error(pos, "test '" + tc.name + "' has no 'expect'");
            }
            out.cases.push_back(std::move(tc));
          }
        });
    if (!has_tests) {
      diags.error(source_pos{1, 1}, "the test file has no 'tests' list");
    }
  }
  auto own = diags.take();
  out.diagnostics.insert(out.diagnostics.end(), own.begin(), own.end());
  return out;
}

policy_tests load_policy_tests(const std::filesystem::path& path) {
  auto text = read_regular_file(path.string(), max_policy_bytes, "test file");
  if (!text.is_ok()) {
    policy_tests out;
    out.file = path.string();
    out.diagnostics.push_back({path.string(), {}, severity::error, text.error().message()});
    return out;
  }
  return parse_policy_tests(*text, path.string(), path.parent_path());
}

std::vector<diagnostic> expectation_problems(const snapshot& policy, const policy_tests& tests,
                                             std::span<const cluster_info> clusters) {
  std::vector<diagnostic> out;
  std::set<std::string_view> rules;
  for (std::uint32_t r = 0; r < policy.rule_count(); ++r) {
    rules.insert(policy.rule_id(r));
  }
  for (const auto& tc : tests.cases) {
    std::vector<std::string> problems = request_class_problems(policy, tc.request);
    for (std::string& problem : request_missing_problems(policy, tc.request)) {
      problems.push_back(std::move(problem));
    }
    for (const std::string& problem : problems) {
      out.push_back({tests.file, tc.pos, severity::error, fmt::format("test '{}': {}", tc.name, problem)});
    }
    for (const std::string& id : tc.expect_rules.value_or(std::vector<std::string>{})) {
      if (!rules.contains(id)) {
        out.push_back(
            {tests.file, tc.pos, severity::error,
             fmt::format("test '{}' expects rule '{}', which the policy does not have", tc.name, id)});
      }
    }
    for (const std::string& name : tc.expect_clusters.value_or(std::vector<std::string>{})) {
      if (std::none_of(clusters.begin(), clusters.end(),
                       [&](const cluster_info& c) { return c.name == name; })) {
        out.push_back(
            {tests.file, tc.pos, severity::error,
             clusters.empty()
                 ? fmt::format("test '{}' expects cluster '{}', but no clusters are given (--clusters, "
                               "or clusters: in the test file)",
                               tc.name, name)
                 : fmt::format("test '{}' expects cluster '{}', which no given cluster is", tc.name, name)});
      }
    }
  }
  return out;
}

std::vector<test_outcome> run_policy_tests(const snapshot& policy, const policy_tests& tests,
                                           std::span<const cluster_info> clusters, const geo_db* geo) {
  std::vector<test_outcome> out;
  std::vector<std::string_view> class_storage;
  const bound_clusters routes(policy, std::vector<cluster_info>(clusters.begin(), clusters.end()));
  for (const auto& tc : tests.cases) {
    request_values request = tc.request;
    if (geo) {
      geolocate(request, *geo);
    }
    // As the gateway decides it: the spellings a cluster may take for the path and model included.
    const gateway_decision decided = decide_as_gateway(policy, routes, request.view(class_storage));
    const decision& d = decided.final;
    std::vector<std::string> failures = request_class_problems(policy, request);
    const auto effect_name = [](effect e) { return e == effect::permit ? "permit" : "deny"; };
    if (tc.expect_effect && *tc.expect_effect != d.result) {
      failures.push_back(
          fmt::format("effect: expected {}, got {}", effect_name(*tc.expect_effect), effect_name(d.result)));
    }
    if (tc.expect_cause && (*tc.expect_cause != d.cause || d.result != effect::deny)) {
      failures.push_back(fmt::format("cause: expected {}, got {}", deny_cause_name(*tc.expect_cause),
                                     d.result == effect::permit ? "permit" : deny_cause_name(d.cause)));
    }
    if (tc.expect_rules) {
      std::vector<std::string> got;
      for (const auto r : d.matched_rules) {
        got.emplace_back(policy.rule_id(r));
      }
      if (set_text(got) != set_text(*tc.expect_rules)) {
        failures.push_back(
            fmt::format("rules: expected {}, got {}", set_text(*tc.expect_rules), set_text(got)));
      }
    }
    if (tc.expect_clusters) {
      std::vector<std::string> got;
      for (const auto c : d.allowed_clusters) {
        got.push_back(clusters[c].name);
      }
      if (set_text(got) != set_text(*tc.expect_clusters)) {
        failures.push_back(
            fmt::format("clusters: expected {}, got {}", set_text(*tc.expect_clusters), set_text(got)));
      }
    }
    if (tc.expect_obligations) {
      const obligations& want = *tc.expect_obligations;
      if (d.result != effect::permit) {
        failures.push_back(fmt::format("obligations: expected {}, got none (the request is denied)",
                                       obligations_text(want)));
      } else if (want.redact != d.duties.redact || want.log != d.duties.log) {
        failures.push_back(fmt::format("obligations: expected {}, got {}", obligations_text(want),
                                       obligations_text(d.duties)));
      }
    }
    test_outcome outcome;
    outcome.name = tc.name;
    outcome.location = fmt::format("{}:{}:{}", tests.file, tc.pos.line, tc.pos.column);
    outcome.passed = failures.empty();
    outcome.failure = fmt::format("{}", fmt::join(failures, "\n"));
    if (!outcome.passed) {
      outcome.trace = explain_text(
          policy, request, clusters, decided,
          geo != nullptr && tc.request.client_ip && tc.request.client_country.empty() ? geo->source() : "");
    }
    out.push_back(std::move(outcome));
  }
  return out;
}

}  // namespace sovgw::policy
