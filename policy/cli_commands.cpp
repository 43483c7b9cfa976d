#include "policy/cli_commands.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "policy/clusters_config.hpp"
#include "policy/compiled_policy.hpp"
#include "policy/explain.hpp"
#include "policy/geo_db.hpp"
#include "policy/invariant_checker.hpp"
#include "policy/policy.hpp"
#include "policy/policy_tests.hpp"
#include "policy/request_json.hpp"

namespace sovgw::policy {
namespace {

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

exit codes: 0 ok, 1 a check/test failed or the policies differ, 2 bad usage or bad input
)";

constexpr const char* geo_usage = R"(usage:
  sovgw geo lookup IP... [--mmdb FILE] [--geoip FILE --geoip6 FILE]
      print the country of each address (default data: /usr/share/tor/geoip and geoip6);
      reserved and private ranges print `private`, addresses without data `unknown`
)";

class usage_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct parsed_args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;
  bool json = false;
};

parsed_args parse_args(std::span<const std::string_view> args, const std::vector<std::string_view>& valued,
                       bool allow_json) {
  parsed_args out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view a = args[i];
    if (a == "--json" && allow_json) {
      out.json = true;
      continue;
    }
    if (a.size() > 1 && a.front() == '-') {
      if (std::find(valued.begin(), valued.end(), a) == valued.end()) {
        throw usage_error(fmt::format("unknown option '{}'", a));
      }
      if (i + 1 >= args.size()) {
        throw usage_error(fmt::format("option '{}' needs a value", a));
      }
      if (!out.options.emplace(std::string(a), std::string(args[i + 1])).second) {
        throw usage_error(fmt::format("option '{}' given twice", a));
      }
      ++i;
      continue;
    }
    out.positional.emplace_back(a);
  }
  return out;
}

void print_diagnostics(std::FILE* err, const std::vector<diagnostic>& items) {
  std::fputs(format_diagnostics(items).c_str(), err);
}

bool has_errors(const std::vector<diagnostic>& items) {
  return std::any_of(items.begin(), items.end(), [](const auto& d) { return d.level == severity::error; });
}

// Compiles or prints every diagnostic; null on errors.
std::shared_ptr<const snapshot> load_policy(const std::string& path, std::FILE* err) {
  auto result = compile_policy_file(path);
  print_diagnostics(err, result.diagnostics);
  return result.policy;
}

std::optional<clusters_result> load_clusters_option(const parsed_args& a, std::FILE* err) {
  const auto it = a.options.find("--clusters");
  if (it == a.options.end()) {
    return clusters_result{};
  }
  auto result = load_clusters_file(it->second);
  print_diagnostics(err, result.diagnostics);
  if (!result.ok()) {
    return std::nullopt;
  }
  return result;
}

class lazy_geo {
 public:
  explicit lazy_geo(const parsed_args& a) : args_(a) {}
  const geo_db& get() {
    if (!db_) {
      const auto mmdb = args_.options.find("--mmdb");
      if (mmdb != args_.options.end()) {
        db_ = geo_db::load_mmdb(mmdb->second);
      } else {
        const auto v4 = args_.options.find("--geoip");
        const auto v6 = args_.options.find("--geoip6");
        db_ = geo_db::load_tor(v4 != args_.options.end() ? v4->second : SOVGW_DEFAULT_GEOIP,
                               v6 != args_.options.end() ? v6->second : SOVGW_DEFAULT_GEOIP6);
      }
    }
    return *db_;
  }

 private:
  const parsed_args& args_;
  std::optional<geo_db> db_;
};

void print_request_json(std::FILE* out, const request_values& r) {
  fmt::print(out, "{}", request_to_json(r));
}

int cmd_check(const parsed_args& a, std::FILE* out, std::FILE* err) {
  if (a.positional.size() != 1) {
    throw usage_error("policy check takes exactly one POLICY file");
  }
  const auto policy = load_policy(a.positional[0], err);
  if (!policy) {
    return 2;
  }
  const auto clusters = load_clusters_option(a, err);
  if (!clusters) {
    return 2;
  }
  bool failed = false;
  const bool with_clusters = a.options.count("--clusters") != 0;
  if (with_clusters) {
    const auto lint = lint_clusters(*policy, *clusters);
    print_diagnostics(err, lint);
    failed = has_errors(lint);
  }
  const auto results = check_invariants(*policy, clusters->clusters);
  for (const auto& r : results) {
    if (r.holds) {
      fmt::print(out, "proved    {} over {} request classes{}{}\n", r.id, r.classes_checked,
                 with_clusters ? fmt::format(" on {} clusters", clusters->clusters.size()) : "",
                 r.exhaustive ? "" : " (sampled: globs with inner wildcards or more than 10 data classes)");
      continue;
    }
    failed = true;
    if (r.too_large) {
      fmt::print(out, "UNPROVED  {}: the request domain exceeds the class budget\n", r.id);
      continue;
    }
    fmt::print(out, "VIOLATED  {} ({}:{}:{})\n", r.id, policy->compiled().file, r.pos.line, r.pos.column);
    fmt::print(out, "  counterexample: ");
    print_request_json(out, *r.counterexample);
    fmt::print(out, "\n  decision: {}\n  violation: {}\n", r.decision, r.violation);
  }
  fmt::print(out, "{}: {} rules, {} invariants, version {}: {}\n", policy->compiled().file,
             policy->rule_count(), results.size(), policy->version().substr(0, 16), failed ? "FAILED" : "OK");
  return failed ? 1 : 0;
}

int cmd_test(const parsed_args& a, std::FILE* out, std::FILE* err) {
  if (a.positional.size() != 2) {
    throw usage_error("policy test takes POLICY and TESTS files");
  }
  const auto policy = load_policy(a.positional[0], err);
  const policy_tests tests = load_policy_tests(a.positional[1]);
  print_diagnostics(err, tests.diagnostics);
  if (!policy || !tests.ok()) {
    return 2;
  }
  auto clusters = load_clusters_option(a, err);
  if (!clusters) {
    return 2;
  }
  if (!a.options.count("--clusters") && tests.has_clusters) {
    clusters = tests.clusters;
  }
  lazy_geo geo(a);
  const geo_db* db = tests.needs_geo() ? &geo.get() : nullptr;
  const auto outcomes = run_policy_tests(*policy, tests, clusters->clusters, db);
  std::size_t failed = 0;
  for (const auto& o : outcomes) {
    if (o.passed) {
      fmt::print(out, "ok    {}\n", o.name);
      continue;
    }
    ++failed;
    fmt::print(out, "FAIL  {} ({})\n", o.name, o.location);
    std::string indented;
    for (const auto* text : {&o.failure, &o.trace}) {
      std::size_t start = 0;
      while (start < text->size()) {
        const auto end = text->find('\n', start);
        indented +=
            "      " + text->substr(start, end == std::string::npos ? std::string::npos : end - start) + "\n";
        start = end == std::string::npos ? text->size() : end + 1;
      }
    }
    std::fputs(indented.c_str(), out);
  }
  fmt::print(out, "{} passed, {} failed\n", outcomes.size() - failed, failed);
  return failed ? 1 : 0;
}

int cmd_explain(const parsed_args& a, std::FILE* out, std::FILE* err) {
  if (a.positional.size() != 1) {
    throw usage_error("policy explain takes exactly one POLICY file");
  }
  const auto req = a.options.find("--request");
  if (req == a.options.end()) {
    throw usage_error("policy explain needs --request '{...}'");
  }
  std::string error;
  auto request = parse_request_json(req->second, error);
  if (!request) {
    fmt::print(err, "--request: {}\n", error);
    return 2;
  }
  const auto policy = load_policy(a.positional[0], err);
  const auto clusters = load_clusters_option(a, err);
  if (!policy || !clusters) {
    return 2;
  }
  lazy_geo geo(a);
  if (request->client_ip && request->client_country.empty()) {
    geolocate(*request, geo.get());
  }
  std::vector<std::string_view> class_storage;
  const decision d = policy->decide(request->view(class_storage), clusters->clusters);
  const std::string text = a.json ? explain_json(*policy, *request, clusters->clusters, d)
                                  : explain_text(*policy, *request, clusters->clusters, d);
  std::fputs(text.c_str(), out);
  return 0;
}

int cmd_diff(const parsed_args& a, std::FILE* out, std::FILE* err) {
  if (a.positional.size() != 2) {
    throw usage_error("policy diff takes OLD and NEW policy files");
  }
  const auto file = a.options.find("--requests");
  if (file == a.options.end()) {
    throw usage_error("policy diff needs --requests FILE (one JSON request per line)");
  }
  const auto old_policy = load_policy(a.positional[0], err);
  const auto new_policy = load_policy(a.positional[1], err);
  const auto clusters = load_clusters_option(a, err);
  if (!old_policy || !new_policy || !clusters) {
    return 2;
  }
  std::ifstream in(file->second);
  if (!in) {
    fmt::print(err, "{}: cannot open requests file\n", file->second);
    return 2;
  }
  std::vector<std::pair<std::size_t, request_values>> requests;
  std::string line;
  bool bad = false;
  for (std::size_t n = 1; std::getline(in, line); ++n) {
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') {
      continue;
    }
    std::string error;
    auto r = parse_request_json(line, error);
    if (!r) {
      fmt::print(err, "{}:{}:{}: error: {}\n", file->second, n, first + 1, error);
      bad = true;
      continue;
    }
    requests.emplace_back(n, std::move(*r));
  }
  if (bad) {
    return 2;
  }
  lazy_geo geo(a);
  std::size_t changed = 0;
  std::vector<std::string_view> class_storage;
  for (auto& [n, r] : requests) {
    if (r.client_ip && r.client_country.empty()) {
      geolocate(r, geo.get());
    }
    const auto view = r.view(class_storage);
    const std::string before =
        decision_summary(*old_policy, clusters->clusters, old_policy->decide(view, clusters->clusters));
    const std::string after =
        decision_summary(*new_policy, clusters->clusters, new_policy->decide(view, clusters->clusters));
    if (before == after) {
      continue;
    }
    ++changed;
    fmt::print(out, "{}:{}: {}\n  - {}\n  + {}\n", file->second, n, request_to_json(r), before, after);
  }
  fmt::print(out, "{} of {} requests change decision\n", changed, requests.size());
  return changed ? 1 : 0;
}

}  // namespace

int run_policy_command(std::span<const std::string_view> args, std::FILE* out, std::FILE* err) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(policy_usage, args.empty() ? err : out);
    return args.empty() ? 2 : 0;
  }
  const std::string_view sub = args[0];
  const auto rest = args.subspan(1);
  try {
    if (std::find(rest.begin(), rest.end(), std::string_view("--help")) != rest.end()) {
      std::fputs(policy_usage, out);
      return 0;
    }
    if (sub == "check") {
      return cmd_check(parse_args(rest, {"--clusters"}, false), out, err);
    }
    if (sub == "test") {
      return cmd_test(parse_args(rest, {"--clusters", "--mmdb", "--geoip", "--geoip6"}, false), out, err);
    }
    if (sub == "explain") {
      return cmd_explain(parse_args(rest, {"--request", "--clusters", "--mmdb", "--geoip", "--geoip6"}, true),
                         out, err);
    }
    if (sub == "diff") {
      return cmd_diff(parse_args(rest, {"--requests", "--clusters", "--mmdb", "--geoip", "--geoip6"}, false),
                      out, err);
    }
    fmt::print(err, "sovgw policy: unknown subcommand '{}'\n\n{}", sub, policy_usage);
    return 2;
  } catch (const usage_error& e) {
    fmt::print(err, "sovgw policy {}: {}\n\n{}", sub, e.what(), policy_usage);
    return 2;
  } catch (const geo_error& e) {
    fmt::print(err, "sovgw policy {}: {}\n", sub, e.what());
    return 2;
  }
}

int run_geo_command(std::span<const std::string_view> args, std::FILE* out, std::FILE* err) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(geo_usage, args.empty() ? err : out);
    return args.empty() ? 2 : 0;
  }
  if (args[0] != "lookup") {
    fmt::print(err, "sovgw geo: unknown subcommand '{}'\n\n{}", args[0], geo_usage);
    return 2;
  }
  try {
    const parsed_args a = parse_args(args.subspan(1), {"--mmdb", "--geoip", "--geoip6"}, false);
    if (a.positional.empty()) {
      throw usage_error("geo lookup needs at least one IP address");
    }
    std::vector<ip_address> ips;
    for (const auto& text : a.positional) {
      const auto ip = parse_ip(text);
      if (!ip) {
        fmt::print(err, "sovgw geo lookup: '{}' is not an IP address\n", text);
        return 2;
      }
      ips.push_back(*ip);
    }
    lazy_geo geo(a);
    const geo_db& db = geo.get();
    for (std::size_t i = 0; i < ips.size(); ++i) {
      fmt::print(out, "{} {}\n", a.positional[i], country_name(db.lookup(ips[i])));
    }
    return 0;
  } catch (const usage_error& e) {
    fmt::print(err, "sovgw geo lookup: {}\n\n{}", e.what(), geo_usage);
    return 2;
  } catch (const geo_error& e) {
    fmt::print(err, "sovgw geo lookup: {}\n", e.what());
    return 2;
  }
}

}  // namespace sovgw::policy
