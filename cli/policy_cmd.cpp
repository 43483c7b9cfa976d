#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "classify/detectors.hpp"
#include "cli/commands.hpp"
#include "cli/geo_option.hpp"
#include "common/regular_file.hpp"
#include "common/trusted_file.hpp"
#include "policy/clusters_config.hpp"
#include "policy/compiled_policy.hpp"
#include "policy/countries.hpp"
#include "policy/deployment_check.hpp"
#include "policy/explain.hpp"
#include "policy/invariant_checker.hpp"
#include "policy/policy.hpp"
#include "policy/policy_source.hpp"
#include "policy/policy_tests.hpp"
#include "policy/request_json.hpp"
#include "policy/spelling_variants.hpp"
#include "tenants/tenants.hpp"

namespace sovgw::cli {
namespace {

using namespace sovgw::policy;

constexpr const char* check_usage = R"(usage: sovgw policy check POLICY [--clusters CONFIG]
  lint the policy (every error as file:line:col) and prove its invariants; with --clusters also
  cross-check routes against the config's clusters and prove invariants on them
)";
constexpr const char* test_usage = R"(usage: sovgw policy test POLICY TESTS [--clusters CONFIG] [--mmdb FILE]
  run a policy test file; failures print the explain trace
)";
constexpr const char* explain_usage =
    R"(usage: sovgw policy explain POLICY --request JSON [--json] [--clusters CONFIG] [--mmdb FILE]
  show the full decision trace for one request
)";
constexpr const char* diff_usage =
    R"(usage: sovgw policy diff OLD NEW --requests FILE [--clusters CONFIG] [--mmdb FILE]
  list the requests (JSON lines) whose decision differs between two policies
)";

constexpr const char* policy_usage = R"(usage:
  sovgw policy check POLICY [--clusters CONFIG]
      lint the policy (every error as file:line:col) and prove its invariants; with --clusters also
      cross-check routes against the config's clusters and prove invariants on them
  sovgw policy test POLICY TESTS [--clusters CONFIG] [--mmdb FILE]
      run a policy test file; failures print the explain trace
  sovgw policy explain POLICY --request JSON [--json] [--clusters CONFIG] [--mmdb FILE]
      show the full decision trace for one request
  sovgw policy diff OLD NEW --requests FILE [--clusters CONFIG] [--mmdb FILE]
      list the requests (JSON lines) whose decision differs between two policies
  (--mmdb FILE, or --geoip FILE --geoip6 FILE: the geo database for client.ip; without them, the
  geo_database of the --clusters config (or of a tests file's clusters: config), as the gateway uses
  it, else Debian's tor-geoipdb)
  test, explain and diff decide a request as the gateway does: as sent, then the spellings a
  cluster may read its path and model as (lower case, trailing slash, the model's base name)

exit codes: 0 ok; 1 a check or test failed (including errors in the policy or clusters file that
`check` lints) or the policies differ; 2 bad usage or a bad input file for test/explain/diff;
3 a file cannot be read, or the geo database cannot be loaded
)";

// An input file's text; nullopt after saying why it cannot be read (exit 3: missing, unreadable,
// not a regular file, or too large), before a library reports it as one of its diagnostics.
std::optional<std::string> read_input(const std::string& path, std::size_t max_bytes, std::string_view what) {
  auto text = read_regular_file(path, max_bytes, what);
  if (!text.is_ok()) {
    fmt::print(stderr, "{}: {}\n", path, text.error().message());
    return std::nullopt;
  }
  return std::move(text).value();
}

void print_diagnostics(const std::vector<diagnostic>& items) {
  std::fputs(format_diagnostics(items).c_str(), stderr);
}

// Compiles or prints every diagnostic; null on errors.
std::shared_ptr<const snapshot> load_policy(const std::string& path, const std::string& text) {
  auto result = compile_policy(text, path);
  print_diagnostics(result.diagnostics);
  return result.policy;
}

// The inputs of a policy command, read before anything is parsed: the policies, the --clusters
// file, and `extra` (a tests or requests file). nullopt after saying which cannot be read.
struct inputs {
  std::vector<std::string> policies;
  std::optional<std::string> clusters;
  std::string extra;
};
std::optional<inputs> read_inputs(const std::vector<std::string>& policies, const options& o,
                                  const std::string* extra = nullptr, std::string_view extra_what = {},
                                  std::size_t extra_max = 0) {
  inputs in;
  for (const auto& p : policies) {
    auto text = read_input(p, max_policy_bytes, "policy file");
    if (!text) {
      return std::nullopt;
    }
    in.policies.push_back(std::move(*text));
  }
  if (const auto clusters = o.get("clusters")) {
    if (!(in.clusters = read_input(*clusters, max_config_bytes, "configuration file"))) {
      return std::nullopt;
    }
  }
  if (extra != nullptr) {
    auto text = read_input(*extra, extra_max, extra_what);
    if (!text) {
      return std::nullopt;
    }
    in.extra = std::move(*text);
  }
  return in;
}

// The --clusters file (an empty list without it); nullopt after printing its errors.
std::optional<clusters_result> load_clusters_option(const options& o, const inputs& in) {
  if (!in.clusters) {
    return clusters_result{};
  }
  auto result = parse_clusters_text(*in.clusters, *o.get("clusters"));
  print_diagnostics(result.diagnostics);
  if (!result.ok()) {
    return std::nullopt;
  }
  return result;
}

// A detector the policy names but the gateway does not implement never fires: say so, per data
// class, rather than let an admin believe a rule protects what it cannot see. Warnings only: the
// policy is valid, and a client's declaration still carries the class.
void warn_unimplemented_detectors(const snapshot& policy) {
  const std::uint32_t implemented = classify::implemented_detectors();
  const std::string& file = policy.compiled().file;
  for (std::size_t i = 0; i < policy.data_class_names().size(); ++i) {
    const std::string& name = policy.data_class_names()[i];
    const std::uint32_t named = policy.data_class_detectors(name);
    const std::uint32_t missing = named & ~implemented;
    if (missing == 0) {
      continue;
    }
    const std::string lacking = fmt::format("{}", fmt::join(detector_names(missing), ", "));
    if ((named & implemented) == 0) {
      fmt::print(stderr,
                 "{}: warning: data class '{}': this gateway does not implement {} yet, so it never detects "
                 "'{}'; only a client's declaration (Sovereign-Data-Class: {}) carries it\n",
                 file, name, lacking, name, policy.data_class_headers()[i]);
    } else {
      fmt::print(stderr,
                 "{}: warning: data class '{}': this gateway does not implement {} yet; its other detectors "
                 "still fire\n",
                 file, name, lacking);
    }
  }
  if (const std::uint32_t missing = policy.redact_detectors() & ~implemented; missing != 0) {
    fmt::print(stderr, "{}: warning: redact obligations name {}, which this gateway does not implement yet\n",
               file, fmt::format("{}", fmt::join(detector_names(missing), ", ")));
  }
}

int cmd_check(const options& o) {
  const std::string& path = o.positional()[0];
  const auto in = read_inputs({path}, o);
  if (!in) {
    return exit_environment;
  }
  const auto policy = load_policy(path, in->policies[0]);
  if (!policy) {
    return exit_failed;
  }
  warn_unimplemented_detectors(*policy);
  const auto clusters = load_clusters_option(o, *in);
  if (!clusters) {
    return exit_failed;
  }
  const bool with_clusters = o.has("clusters");
  // With --clusters, the tenants file that config names, as the gateway reads it (relative to the
  // working directory). One that cannot be loaded is the gateway's to refuse (`config check` says
  // why); the tenant names are then not checked here.
  std::optional<std::vector<std::string>> tenant_names;
  if (with_clusters && !clusters->tenants_file.empty()) {
    const tenants::load_result t = tenants::load_tenants_file(clusters->tenants_file);
    if (t.ok()) {
      tenant_names.emplace();
      for (const tenants::tenant& tenant : t.tenants->tenants()) {
        tenant_names->push_back(tenant.name);
      }
    } else {
      fmt::print(stderr,
                 "{}: warning: the tenants file {} cannot be loaded ({}): tenant names are not checked\n",
                 clusters->file, clusters->tenants_file, t.diagnostics.front().message);
    }
  }
  // The check the gateway runs at start and on reload (deployment_check.hpp): the same verdict.
  const deployment where{with_clusters ? &clusters->clusters : nullptr,
                         tenant_names ? &*tenant_names : nullptr, clusters->tenants_file};
  const policy_verdict verdict = check_deployment(*policy, where);
  // Who may change the policy may permit anything: the gateway refuses a file others may change
  // (policy_store::reload), and so does its pre-flight.
  const std::string unsafe = others_may_change(path, "the policy file");
  if (!unsafe.empty()) {
    print_diagnostics({diagnostic{path, {}, severity::error, unsafe}});
  }
  print_diagnostics(verdict.diagnostics);
  const bool failed = !verdict.ok() || !unsafe.empty();
  const auto& results = verdict.invariants;
  for (const auto& r : results) {
    if (r.holds) {
      fmt::print("proved    {} over {} request classes{}{}\n", r.id, r.classes_checked,
                 with_clusters ? fmt::format(" on {} clusters", clusters->clusters.size()) : "",
                 r.exhaustive ? "" : " (sampled: globs with inner wildcards or more than 10 data classes)");
      continue;
    }
    if (r.too_large) {
      fmt::print("UNPROVED  {}: the request domain exceeds the class budget\n", r.id);
      continue;
    }
    fmt::print("VIOLATED  {} ({}:{}:{})\n", r.id, policy->compiled().file, r.pos.line, r.pos.column);
    fmt::print("  counterexample: {}\n", request_to_json(*r.counterexample));
    fmt::print("  decision: {}\n  violation: {}\n", r.decision, r.violation);
  }
  fmt::print("{}: {} rules, {} invariants, version {}: {}\n", policy->compiled().file, policy->rule_count(),
             results.size(), policy->version().substr(0, 16), failed ? "FAILED" : "OK");
  return failed ? exit_failed : exit_ok;
}

// `text`, every line indented by six spaces.
std::string indented(const std::string& text) {
  std::string out;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    out += "      " + text.substr(start, end == std::string::npos ? std::string::npos : end - start) + "\n";
    start = end == std::string::npos ? text.size() : end + 1;
  }
  return out;
}

int cmd_test(const options& o) {
  const std::string& policy_path = o.positional()[0];
  const std::string& tests_path = o.positional()[1];
  const auto in = read_inputs({policy_path}, o, &tests_path, "test file", max_policy_bytes);
  if (!in) {
    return exit_environment;
  }
  const auto policy = load_policy(policy_path, in->policies[0]);
  const policy_tests tests =
      parse_policy_tests(in->extra, tests_path, std::filesystem::path(tests_path).parent_path());
  print_diagnostics(tests.diagnostics);
  if (!policy || !tests.ok()) {
    return exit_usage;
  }
  auto clusters = load_clusters_option(o, *in);
  if (!clusters) {
    return exit_usage;
  }
  if (!o.has("clusters") && tests.has_clusters) {
    clusters = tests.clusters;
  }
  if (const auto problems = expectation_problems(*policy, tests, clusters->clusters); !problems.empty()) {
    print_diagnostics(problems);
    return exit_usage;
  }
  geo_option geo(o);
  geo.use_config_database(clusters->geo_database, clusters->file);
  const geo_db* db = tests.needs_geo() ? &geo.get() : nullptr;
  const auto outcomes = run_policy_tests(*policy, tests, clusters->clusters, db);
  std::size_t failed = 0;
  for (const auto& t : outcomes) {
    if (t.passed) {
      fmt::print("ok    {}\n", t.name);
      continue;
    }
    ++failed;
    fmt::print("FAIL  {} ({})\n{}{}", t.name, t.location, indented(t.failure), indented(t.trace));
  }
  fmt::print("{} passed, {} failed\n", outcomes.size() - failed, failed);
  return failed ? exit_failed : exit_ok;
}

int cmd_explain(const options& o) {
  const std::string& path = o.positional()[0];
  if (!o.has("request")) {
    throw usage_error("policy explain needs --request '{...}'");
  }
  std::string error;
  auto request = parse_request_json(o.need("request"), error);
  if (!request) {
    throw usage_error("--request: " + error, false);
  }
  if (const std::string problem = request_origin_problem(*request); !problem.empty()) {
    // `policy test` refuses such a request too: the gateway never sees it.
    throw usage_error("--request: " + problem, false);
  }
  const auto in = read_inputs({path}, o);
  if (!in) {
    return exit_environment;
  }
  const auto policy = load_policy(path, in->policies[0]);
  const auto clusters = load_clusters_option(o, *in);
  if (!policy || !clusters) {
    return exit_usage;
  }
  if (const auto problems = request_class_problems(*policy, *request); !problems.empty()) {
    // `policy test` refuses such a request too; the gateway answers 400.
    throw usage_error(fmt::format("--request: {}", fmt::join(problems, "; ")), false);
  }
  if (const auto problems = request_missing_problems(*policy, *request); !problems.empty()) {
    // `policy test` refuses such a request too: every request the gateway decides has both.
    throw usage_error(fmt::format("--request: {}", fmt::join(problems, "; ")), false);
  }
  geo_option geo(o);
  geo.use_config_database(clusters->geo_database, clusters->file);
  std::string geo_used;
  if (request->client_ip && request->client_country.empty()) {
    geolocate(*request, geo.get());
    geo_used = fmt::format("client.ip {} is in {} by {}", format_ip(*request->client_ip),
                           request->client_country, geo.description());
  }
  std::vector<std::string_view> class_storage;
  // As the gateway decides it: the spellings a cluster may take for the path and model included.
  const bound_clusters routes(*policy, clusters->clusters);
  const gateway_decision d = decide_as_gateway(*policy, routes, request->view(class_storage));
  const std::string text = o.flag("json") ? explain_json(*policy, *request, clusters->clusters, d, geo_used)
                                          : explain_text(*policy, *request, clusters->clusters, d, geo_used);
  std::fputs(text.c_str(), stdout);
  if (const std::string_view hint = policy::country_code_hint(request->client_country); !hint.empty()) {
    // UK, EL: codes people write, which a geo database may return too, and which no rule that
    // names the country's ISO code meets (probe round 31: a default deny without a word).
    std::fprintf(stderr, "sovgw policy explain: note: client.country %s is not the ISO code%.*s: rules name that\n",
                 request->client_country.c_str(), static_cast<int>(hint.size()), hint.data());
  }
  return exit_ok;
}

// The JSON requests of a --requests file (one per line; blank lines and # comments skipped), with
// their line numbers; nullopt after printing each malformed line as file:line:col.
std::optional<std::vector<std::pair<std::size_t, request_values>>> parse_requests(const std::string& file,
                                                                                  std::string_view text) {
  std::vector<std::pair<std::size_t, request_values>> requests;
  bool bad = false;
  std::size_t n = 0;
  for (std::size_t start = 0; start < text.size();) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    const std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++n;
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos || line[first] == '#') {
      continue;
    }
    std::string error;
    auto r = parse_request_json(line, error);
    if (!r) {
      fmt::print(stderr, "{}:{}:{}: error: {}\n", file, n, first + 1, error);
      bad = true;
      continue;
    }
    requests.emplace_back(n, std::move(*r));
  }
  if (bad) {
    return std::nullopt;
  }
  return requests;
}

int cmd_diff(const options& o) {
  if (!o.has("requests")) {
    throw usage_error("policy diff needs --requests FILE (one JSON request per line)");
  }
  const std::string& file = o.need("requests");
  const auto in = read_inputs(o.positional(), o, &file, "requests file", max_data_bytes);
  if (!in) {
    return exit_environment;
  }
  const auto old_policy = load_policy(o.positional()[0], in->policies[0]);
  const auto new_policy = load_policy(o.positional()[1], in->policies[1]);
  const auto clusters = load_clusters_option(o, *in);
  if (!old_policy || !new_policy || !clusters) {
    return exit_usage;
  }
  auto requests = parse_requests(file, in->extra);
  if (!requests) {
    return exit_usage;
  }
  // A request neither policy could see (as `policy test` refuses it; the gateway answers 400).
  bool impossible = false;
  for (const auto& [n, r] : *requests) {
    std::vector<std::string> problems = request_class_problems(*old_policy, r);
    if (std::string origin = request_origin_problem(r); !origin.empty()) {
      problems.push_back(std::move(origin));
    }
    const auto add_new = [&](std::vector<std::string> found) {
      for (std::string& p : found) {
        if (std::find(problems.begin(), problems.end(), p) == problems.end()) {
          problems.push_back(std::move(p));
        }
      }
    };
    add_new(request_class_problems(*new_policy, r));
    // Without a method or a path either policy tests, the request is one the gateway never decides.
    add_new(request_missing_problems(*old_policy, r));
    add_new(request_missing_problems(*new_policy, r));
    for (const std::string& problem : problems) {
      fmt::print(stderr, "{}:{}: error: {}\n", file, n, problem);
      impossible = true;
    }
  }
  if (impossible) {
    return exit_usage;
  }
  geo_option geo(o);
  geo.use_config_database(clusters->geo_database, clusters->file);
  std::size_t changed = 0;
  std::vector<std::string_view> class_storage;
  const bound_clusters old_routes(*old_policy, clusters->clusters);
  const bound_clusters new_routes(*new_policy, clusters->clusters);
  for (auto& [n, r] : *requests) {
    if (r.client_ip && r.client_country.empty()) {
      geolocate(r, geo.get());
    }
    const auto view = r.view(class_storage);
    // As the gateway decides it (the spellings of the path and model included), and a permit's
    // merged obligations too (probe round 41: a removed redact was no change).
    const auto summary = [&](const snapshot& policy, const bound_clusters& routes) {
      const decision d = decide_as_gateway(policy, routes, view).final;
      std::string out = decision_summary(policy, clusters->clusters, d);
      if (d.result == effect::permit) {
        out += " obligations " + obligations_text(d.duties);
      }
      return out;
    };
    const std::string before = summary(*old_policy, old_routes);
    const std::string after = summary(*new_policy, new_routes);
    if (before == after) {
      continue;
    }
    ++changed;
    fmt::print("{}:{}: {}\n  - {}\n  + {}\n", file, n, request_to_json(r), before, after);
  }
  fmt::print("{} of {} requests change decision\n", changed, requests->size());
  return changed ? exit_failed : exit_ok;
}

const subcommand policy_subcommands[] = {
    {"check",
     check_usage,
     {.valued = {"clusters"},
      .min_positional = 1,
      .max_positional = 1,
      .arguments = "exactly one POLICY file"},
     cmd_check},
    {"test",
     test_usage,
     {.valued = {"clusters", "mmdb", "geoip", "geoip6"},
      .min_positional = 2,
      .max_positional = 2,
      .arguments = "POLICY and TESTS files"},
     cmd_test},
    {"explain",
     explain_usage,
     {.valued = {"request", "clusters", "mmdb", "geoip", "geoip6"},
      .flags = {"json"},
      .min_positional = 1,
      .max_positional = 1,
      .arguments = "exactly one POLICY file"},
     cmd_explain},
    {"diff",
     diff_usage,
     {.valued = {"requests", "clusters", "mmdb", "geoip", "geoip6"},
      .min_positional = 2,
      .max_positional = 2,
      .arguments = "OLD and NEW policy files"},
     cmd_diff},
};

}  // namespace

int run_policy(args_t args) { return run_family("policy", policy_usage, args, policy_subcommands); }

}  // namespace sovgw::cli
