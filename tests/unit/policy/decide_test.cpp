#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "common/model_alias.hpp"
#include "policy/compiled_policy.hpp"
#include "policy/explain.hpp"
#include "policy/policy.hpp"
#include "policy/request_json.hpp"

using namespace sovgw::policy;

// Counts heap allocations made by this thread while `counting` is set.
namespace {
thread_local bool counting = false;
thread_local std::size_t allocations = 0;
}  // namespace

// Replacing the global allocator pairs malloc with free on purpose.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t size) {
  if (counting) {
    ++allocations;
  }
  if (void* p = std::malloc(size ? size : 1)) {
    return p;
  }
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace {

constexpr std::string_view policy_text = R"(
country_sets:
  SANCTIONED: [RU, BY]
data_classes:
  personal: {detectors: [email]}
  public: {}
rules:
  - id: forbid-sanctioned
    effect: forbid
    when: {client.country: [SANCTIONED]}
    reason: sanctioned
  - id: permit-eu
    effect: permit
    when: {client.country: [EU], method: [POST]}
    reason: eu clients
  - id: permit-office
    effect: permit
    when: {client.ip: [198.51.100.0/24, "2001:db8:1::/48"], tenant: [acme]}
  - id: eu-only-personal
    effect: restrict
    when: {data.class: [personal]}
    route: {cluster.country: [EU], cluster.operator_jurisdiction: [EU]}
    obligations: {redact: [email, iban], log_payload: sealed}
  - id: mistral-to-west
    effect: restrict
    when: {model: ["mistral-*"]}
    route: {cluster.region: [west]}
    obligations: {log_payload: digest}
)";

std::vector<cluster_info> clusters() {
  return {
      {"paris", "FR", "west", "FR", {"mistral-*", "llama"}},
      {"berlin", "DE", "central", "EU", {"mistral-large", "llama"}},
      {"frankfurt-us", "DE", "central", "US", {"*"}},
      {"virginia", "US", "west", "US", {"*"}},
  };
}

std::shared_ptr<const snapshot> compiled() {
  const auto result = compile_policy(policy_text, "p.yaml");
  INFO(format_diagnostics(result.diagnostics));
  REQUIRE(result.ok());
  return result.policy;
}

std::vector<std::string> ids(const snapshot& s, const decision& d) {
  std::vector<std::string> out;
  for (const auto r : d.matched_rules) {
    out.emplace_back(s.rule_id(r));
  }
  return out;
}

class_view view_of(const compiled_rule& rule) {
  return rule.effect == rule_effect::permit ? class_view::granting : class_view::all;
}

// Every condition of `rule` admits the request: the per-rule semantics decide() must agree with.
bool rule_admits(const compiled_policy& cp, const compiled_rule& rule, const request_values& rv) {
  for (std::size_t a = 0; a < attribute_count; ++a) {
    if (!condition_admits(cp, rule.when[a], static_cast<attribute>(a), rv, view_of(rule))) {
      return false;
    }
  }
  return true;
}

std::vector<std::string> names(const std::vector<cluster_info>& cs, const decision& d) {
  std::vector<std::string> out;
  for (const auto c : d.allowed_clusters) {
    out.push_back(cs[c].name);
  }
  return out;
}

}  // namespace

TEST_CASE("data classes: header values and detectors") {
  const auto p = compiled();
  CHECK(p->data_class_for_header("personal") == "personal");
  CHECK(p->data_class_for_header("secret").empty());
  CHECK(p->data_class_names().size() == 2);
  CHECK(p->data_class_detectors("personal") == 1u);  // email is detector 0
  CHECK(p->data_class_detectors("public") == 0u);
  CHECK(p->data_class_detectors("nope") == 0u);
}

TEST_CASE("forbid overrides permit; matched rules in file order") {
  const auto p = compiled();
  request_attributes r;
  r.client_country = "RU";
  r.method = "POST";
  const decision d = p->decide(r, {});
  CHECK(d.result == effect::deny);
  CHECK(d.cause == deny_cause::forbidden);
  CHECK(d.reason == "sanctioned");
  CHECK(ids(*p, d) == std::vector<std::string>{"forbid-sanctioned"});
  CHECK(d.policy_version == p->version());
}

TEST_CASE("a rule on GET decides HEAD too: servers run the GET handler for a HEAD") {
  // Probe round 40: `forbid` on GET /v1/files/* was passed by HEAD on the same path.
  const auto result = compile_policy(R"(
rules:
  - {id: forbid-file-reads, effect: forbid, when: {method: [GET], path: ["/v1/files/*"]}, reason: no}
  - {id: permit-reads, effect: permit, when: {method: [GET, HEAD, GET]}}
  - {id: permit-posts, effect: permit, when: {method: [POST]}}
)",
                                     "p.yaml");
  REQUIRE(result.ok());
  const auto& p = *result.policy;
  request_attributes r;
  r.client_country = "FR";
  r.path = "/v1/files/abc/content";
  for (const char* method : {"GET", "HEAD"}) {
    r.method = method;
    const decision d = p.decide(r, {});
    CHECK(d.result == effect::deny);
    CHECK(d.cause == deny_cause::forbidden);
    CHECK(ids(p, d) == std::vector<std::string>{"forbid-file-reads", "permit-reads"});
  }
  r.path = "/v1/models";
  r.method = "HEAD";
  CHECK(ids(p, p.decide(r, {})) == std::vector<std::string>{"permit-reads"});
  r.method = "OPTIONS";  // POST's rule is not widened
  CHECK(p.decide(r, {}).result == effect::deny);
  r.method = "POST";
  CHECK(ids(p, p.decide(r, {})) == std::vector<std::string>{"permit-posts"});
}

TEST_CASE("default deny names the nearest permit and the attribute that failed") {
  const auto p = compiled();
  request_attributes r;
  r.client_country = "DE";
  r.method = "GET";
  decision d = p->decide(r, {});
  CHECK(d.result == effect::deny);
  CHECK(d.cause == deny_cause::no_permit);
  REQUIRE(d.nearest_permit != no_rule);
  CHECK(p->rule_id(d.nearest_permit) == "permit-eu");
  CHECK(d.failed_attribute == attribute::method);

  r.client_country = "US";
  r.method = "PUT";
  d = p->decide(r, {});  // fails two attributes of permit-eu and two of permit-office: the first wins
  CHECK(p->rule_id(d.nearest_permit) == "permit-eu");
  CHECK(d.failed_attribute == attribute::client_country);
}

TEST_CASE("restricts intersect; clusters must serve the model; obligations merge") {
  const auto p = compiled();
  const auto cs = clusters();
  std::vector<std::string_view> classes{"personal"};
  request_attributes r;
  r.client_country = "FR";
  r.method = "POST";
  r.model = "llama";
  decision d = p->decide(r, cs);
  CHECK(d.result == effect::permit);
  CHECK(names(cs, d) == std::vector<std::string>{"paris", "berlin", "frankfurt-us", "virginia"});
  CHECK(d.duties.log == log_payload::unset);

  r.detected_classes = classes;
  d = p->decide(r, cs);
  CHECK(names(cs, d) == std::vector<std::string>{"paris", "berlin"});
  CHECK(d.duties.redact_names() == std::vector<std::string_view>{"email", "iban"});
  CHECK(d.duties.log == log_payload::sealed);

  r.model = "mistral-large";  // + mistral-to-west: region west only, and berlin serves it but is central
  d = p->decide(r, cs);
  CHECK(ids(*p, d) == std::vector<std::string>{"permit-eu", "eu-only-personal", "mistral-to-west"});
  CHECK(names(cs, d) == std::vector<std::string>{"paris"});
  CHECK(d.duties.log == log_payload::digest);  // keeps less than sealed

  // Declared instead of detected: the restricts still apply (a client may make its own request
  // stricter) and so does their redaction, but not their log_payload: a client cannot keep its
  // prompt out of the audit log by declaring a class. A rule matched without it keeps its own.
  r.model = "llama";
  r.detected_classes = {};
  r.declared_classes = classes;
  d = p->decide(r, cs);
  CHECK(names(cs, d) == std::vector<std::string>{"paris", "berlin"});
  CHECK(d.duties.redact_names() == std::vector<std::string_view>{"email", "iban"});
  CHECK(d.duties.log == log_payload::unset);
  r.model = "mistral-large";
  d = p->decide(r, cs);
  CHECK(names(cs, d) == std::vector<std::string>{"paris"});
  CHECK(d.duties.log == log_payload::digest);  // mistral-to-west's, which names no class
  r.model = "llama";
  r.detected_classes = classes;  // declared and detected: the class's rules count
  d = p->decide(r, cs);
  CHECK(d.duties.log == log_payload::sealed);
  r.declared_classes = {};

  r.model = "mistral-tiny";
  classes = {"personal", "undeclared-class"};
  r.detected_classes = classes;
  d = p->decide(r, cs);
  CHECK(names(cs, d) == std::vector<std::string>{"paris"});

  r.model = "gpt-4o";  // only US-operated clusters serve it: personal data has nowhere to go
  d = p->decide(r, cs);
  CHECK(d.result == effect::deny);
  CHECK(d.cause == deny_cause::no_cluster);
  CHECK(d.allowed_clusters.empty());
}

TEST_CASE(
    "a declared data class restricts and forbids, but grants a permit only when permit_on_declaration") {
  const auto result = compile_policy(R"(
data_classes:
  personal: {detectors: [email]}
  public: {}
  internal: {permit_on_declaration: true}
  secret: {detectors: [iban]}
rules:
  - id: permit-public
    effect: permit
    when: {client.country: [GB], data.class: [public, personal]}
  - id: permit-internal
    effect: permit
    when: {client.country: [US], data.class: [internal]}
  - id: forbid-secret
    effect: forbid
    when: {data.class: [secret]}
  - id: personal-in-eu
    effect: restrict
    when: {data.class: [personal]}
    route: {cluster.country: [EU]}
)",
                                     "p.yaml");
  INFO(format_diagnostics(result.diagnostics));
  REQUIRE(result.ok());
  const snapshot& p = *result.policy;
  const auto cs = clusters();
  request_values gb{"GB", std::nullopt, "t", "llama", "/v1/x", "POST", {"public"}, {}};
  std::vector<std::string_view> storage;
  decision d = p.decide(gb.view(storage), cs);
  CHECK(d.result == effect::deny);  // the client's claim alone grants nothing
  CHECK(d.cause == deny_cause::no_permit);
  REQUIRE(d.nearest_permit != no_rule);
  CHECK(p.rule_id(d.nearest_permit) == "permit-public");
  CHECK(d.failed_attribute == attribute::data_class);
  CHECK(explain_text(p, gb, cs, d)
            .find("nearest permit: permit-public (line 8) failed on data.class [] not in "
                  "[public, personal] (declared [public]: a declaration grants no permit "
                  "unless the class is permit_on_declaration)") != std::string::npos);

  gb.declared_classes = {};
  gb.detected_classes = {"personal"};  // what the gateway finds does grant
  d = p.decide(gb.view(storage), cs);
  CHECK(d.result == effect::permit);
  CHECK(names(cs, d) == std::vector<std::string>{"paris", "berlin", "frankfurt-us"});

  gb.detected_classes = {};
  gb.declared_classes = {"personal"};  // declared: the restrict applies, the permit does not
  d = p.decide(gb.view(storage), cs);
  CHECK(d.result == effect::deny);
  CHECK(ids(p, d) == std::vector<std::string>{"personal-in-eu"});
  gb.detected_classes = {"personal"};  // declared and detected: both
  d = p.decide(gb.view(storage), cs);
  CHECK(ids(p, d) == std::vector<std::string>{"permit-public", "personal-in-eu"});
  CHECK(names(cs, d) == std::vector<std::string>{"paris", "berlin", "frankfurt-us"});

  gb.declared_classes = {"secret"};  // a declaration forbids like a detection
  d = p.decide(gb.view(storage), cs);
  CHECK(d.cause == deny_cause::forbidden);

  request_values us{"US", std::nullopt, "t", "llama", "/v1/x", "POST", {"internal"}, {}};
  d = p.decide(us.view(storage), cs);
  CHECK(d.result == effect::permit);  // internal is permit_on_declaration
  us.declared_classes = {"internal", "secret"};
  CHECK(p.decide(us.view(storage), cs).cause == deny_cause::forbidden);

  // The same through bound clusters (the gateway's path).
  const bound_clusters bound(p, cs);
  gb.declared_classes = {"public"};
  gb.detected_classes = {};
  p.decide(gb.view(storage), bound, d);
  CHECK(d.cause == deny_cause::no_permit);
}

TEST_CASE("policy check: a permit granted by a declaration warns; one nothing can grant is an error") {
  const auto result = compile_policy(R"(
data_classes:
  public: {}
  internal: {header: int, permit_on_declaration: true}
  personal: {detectors: [email]}
rules:
  - id: permit-internal
    effect: permit
    when: {data.class: [internal, personal]}
  - id: permit-personal
    effect: permit
    when: {data.class: [personal]}
  - id: forbid-public
    effect: forbid
    when: {data.class: [public], client.country: [US]}
)",
                                     "p.yaml");
  REQUIRE(result.ok());
  CHECK(format_diagnostics(result.diagnostics) ==
        "p.yaml:7:5: warning: permit rule 'permit-internal' is granted by a client's own declaration of "
        "'internal' (permit_on_declaration): any client may declare it, whatever its body holds\n");
  const auto dead = compile_policy(R"(
data_classes:
  public: {header: pub}
  other: {permit_on_declaration: false}
rules:
  - id: permit-public
    effect: permit
    when: {data.class: [public, other]}
)",
                                   "q.yaml");
  CHECK_FALSE(dead.ok());
  CHECK(
      format_diagnostics(dead.diagnostics) ==
      "q.yaml:6:5: error: permit rule 'permit-public' can never match: no detector finds 'public' or 'other' "
      "and a client's declaration satisfies a permit only for a class marked permit_on_declaration\n");
  const auto bad = compile_policy("data_classes: {x: {permit_on_declaration: yes}}\nrules: []\n", "r.yaml");
  CHECK(format_diagnostics(bad.diagnostics) ==
        "r.yaml:1:43: error: permit_on_declaration must be true or false, not 'yes'\n");
}

TEST_CASE("a rule pairing special-purpose addresses with a country code can never match: a warning") {
  // Probe round 22: 10.0.0.0/8 is always client.country `private`, so with `client.country: [US]`
  // the permit never applied, and policy check said OK.
  const auto result = compile_policy(R"(
rules:
  - id: never
    effect: permit
    when: {client.ip: [10.0.0.0/8, "fd00::/8", 192.0.2.0/24], client.country: [US]}
  - id: wider-than-private
    effect: permit
    when: {client.ip: [10.0.0.0/7, "0.0.0.0/0"], client.country: [US]}
  - id: lists-private
    effect: permit
    when: {client.ip: [10.0.0.0/8], client.country: [US, private]}
  - id: no-country
    effect: permit
    when: {client.ip: [10.0.0.0/8]}
  - id: carried
    effect: permit
    when: {client.ip: ["64:ff9b::/96"], client.country: [US]}
)",
                                     "p.yaml");
  REQUIRE(result.ok());
  CHECK(format_diagnostics(result.diagnostics) ==
        "p.yaml:3:5: warning: rule 'never' can never match: its client.ip lists only special-purpose "
        "addresses, whose client.country is always 'private', which its client.country does not list\n");
}

TEST_CASE("a model's base name: aliases, pinned versions, dated snapshots and fine-tunes of it") {
  // What a rule written for the base name meets (probe round 39: ft:gpt-4o:org::id and
  // gpt-4o-2024-08-06 passed a forbid on gpt-4o).
  for (const auto& [name, base] : std::initializer_list<std::pair<std::string_view, std::string_view>>{
           {"gpt-4o", "gpt-4o"},
           {"openai/gpt-4o", "gpt-4o"},
           {"registry.ollama.ai/library/llama3:latest", "llama3"},
           {"claude-3-5-sonnet@20240620", "claude-3-5-sonnet"},
           {"gpt-4o:free", "gpt-4o"},
           {"ft:gpt-4o:org::abc123", "gpt-4o"},
           {"ft:gpt-4o-2024-08-06:org::abc", "gpt-4o"},
           {"openai/ft:gpt-4o:org::x", "gpt-4o"},
           {"ft:skynet", "skynet"},
           {"ft:open-mistral-7b:587a6b29:20240514:7e773925", "open-mistral-7b"},
           {"gpt-4o-2024-08-06.ft-abc123", "gpt-4o"},
           {"gpt-4o-2024-08-06", "gpt-4o"},
           {"gpt-4o-mini-2024-07-18", "gpt-4o-mini"},
           {"claude-3-5-sonnet-20240620", "claude-3-5-sonnet"},
           {"mistral-large-2407", "mistral-large"},
           {"mistral-large-latest", "mistral-large"},
           {"gpt-3.5-turbo-0125", "gpt-3.5-turbo"},
           // Other models: another tag, size or name; nothing left empty.
           {"llama3:70b", "llama3:70b"},
           {"gpt-4o-mini", "gpt-4o-mini"},
           {"qwen2-7b", "qwen2-7b"},
           {"model-2499", "model-2499"},
           {"ft:", "ft:"},
           {"-latest", "-latest"},
           {"-2407", "-2407"},
       }) {
    CAPTURE(name);
    CHECK(sovgw::model_base_name(name) == base);
  }
}

TEST_CASE("a model written as an Ollama alias is a warning: the base name meets every alias") {
  const auto result = compile_policy(R"(
rules:
  - id: forbid-llama
    effect: forbid
    when: {model: ["llama3:latest", "library/qwen2", "mistral", "phi-*:latest"]}
)",
                                     "p.yaml");
  REQUIRE(result.ok());
  CHECK(
      format_diagnostics(result.diagnostics) ==
      "p.yaml:5:20: warning: model 'llama3:latest' is one alias of 'llama3' (Ollama fills in its registry, "
      "'library/' and ':latest'): a request for 'llama3' does not meet it; write 'llama3', which every alias "
      "meets\n"
      "p.yaml:5:37: warning: model 'library/qwen2' is one alias of 'qwen2' (Ollama fills in its registry, "
      "'library/' and ':latest'): a request for 'qwen2' does not meet it; write 'qwen2', which every alias "
      "meets\n");
}

TEST_CASE("nearest permit: fewest failing attributes wins, earliest on ties, across 64-rule words") {
  std::string text = "rules:\n";
  for (int i = 0; i < 150; ++i) {  // three failing attributes for a request from DE / t-x / GET
    text += "  - id: far" + std::to_string(i) +
            "\n    effect: permit\n    when: {client.country: [US], tenant: [t" + std::to_string(i) +
            "], method: [POST]}\n";
  }
  text +=
      "  - id: near\n    effect: permit\n    when: {client.country: [DE], tenant: [t-x], method: [POST]}\n";
  text +=
      "  - id: near-later\n    effect: permit\n    when: {client.country: [DE], tenant: [t-x], method: "
      "[PUT]}\n";
  const auto result = compile_policy(text, "p.yaml");
  REQUIRE(result.ok());
  request_attributes r;
  r.client_country = "DE";
  r.tenant = "t-x";
  r.method = "GET";
  const decision d = result.policy->decide(r, {});
  CHECK(d.cause == deny_cause::no_permit);
  CHECK(result.policy->rule_id(d.nearest_permit) == "near");
  CHECK(d.failed_attribute == attribute::method);
  r.tenant = "t-y";
  r.client_country = "US";
  const decision d2 = result.policy->decide(r, {});
  CHECK(result.policy->rule_id(d2.nearest_permit) == "far0");
  CHECK(d2.failed_attribute == attribute::tenant);
}

TEST_CASE("bound clusters used with another policy version fall back to direct evaluation") {
  const auto p = compiled();
  const auto cs = clusters();
  const bound_clusters bound(*p, cs);
  const auto other = compile_policy(
      "rules:\n  - id: all\n    effect: permit\n  - id: virginia-only\n    effect: restrict\n"
      "    route: {cluster: [virginia]}\n",
      "q.yaml");
  REQUIRE(other.ok());
  request_attributes r;
  r.model = "llama";
  decision d;
  other.policy->decide(r, bound, d);
  CHECK(d.result == effect::permit);
  CHECK(names(cs, d) == std::vector<std::string>{"virginia"});
}

TEST_CASE("CIDR rules, IPv4 and IPv6, and absent IPs") {
  const auto p = compiled();
  request_attributes r;
  r.tenant = "acme";
  r.client_country = "US";
  r.client_ip = parse_ip("198.51.100.77");
  CHECK(p->decide(r, {}).result == effect::permit);
  r.client_ip = parse_ip("198.51.101.1");
  CHECK(p->decide(r, {}).result == effect::deny);
  r.client_ip = parse_ip("2001:db8:1:ffff::1");
  CHECK(p->decide(r, {}).result == effect::permit);
  r.client_ip = parse_ip("2001:db8:2::1");
  CHECK(p->decide(r, {}).result == effect::deny);
  r.client_ip.reset();
  CHECK(p->decide(r, {}).result == effect::deny);
  r.client_ip = parse_ip("198.51.100.1");
  r.tenant = "other";
  CHECK(p->decide(r, {}).result == effect::deny);
}

TEST_CASE("an IPv6 address carrying an IPv4 one matches that IPv4 address's blocks too") {
  // Probe round 38: a forbid on an IPv4 block let the same host through as 6to4, Teredo, NAT64,
  // SIIT or IPv4-compatible, which geo_db locates as the IPv4 host.
  const auto result = compile_policy(
      "rules:\n  - id: all\n    effect: permit\n"
      "  - id: no-net\n    effect: forbid\n    when: {client.ip: [2.2.2.0/24]}\n"
      "  - id: no-6to4-range\n    effect: forbid\n    when: {client.ip: ['2002:909::/32']}\n",
      "ip.yaml");
  REQUIRE(result.ok());
  const snapshot& p = *result.policy;
  request_values r;
  std::vector<std::string_view> storage;
  for (const char* ip :
       {"2.2.2.2", "::ffff:2.2.2.2", "2002:202:202::1", "2001:0:4136:e378:8000:63bf:fdfd:fdfd",
        "64:ff9b::2.2.2.2", "::ffff:0:2.2.2.2", "::2.2.2.2", "2002:909:909::1"}) {
    CAPTURE(ip);
    r.client_ip = parse_ip(ip);
    REQUIRE(r.client_ip);
    const decision d = p.decide(r.view(storage), {});
    CHECK(d.result == effect::deny);
    const std::string why = explain_text(p, r, {}, d);
    CAPTURE(why);
    CHECK((why.find("no-net") != std::string::npos || why.find("no-6to4-range") != std::string::npos));
  }
  for (const char* ip : {"2.2.3.2", "2002:203:202::1", "64:ff9b::2.2.3.2", "2001:db8::1"}) {
    CAPTURE(ip);
    r.client_ip = parse_ip(ip);
    CHECK(p.decide(r.view(storage), {}).result == effect::permit);
  }
}

TEST_CASE("empty or malformed request values behave as unknown, never crash") {
  const auto p = compiled();
  request_attributes r;
  CHECK(p->decide(r, {}).result == effect::deny);
  r.client_country = "not a country";
  r.model = "\xff\xfe";
  CHECK(p->decide(r, clusters()).result == effect::deny);
}

TEST_CASE("decide() allocates nothing once the decision object is warm") {
  const auto p = compiled();
  const auto cs = clusters();
  std::vector<std::string_view> classes{"personal"};
  std::vector<std::string_view> declared{"public", "personal"};
  request_attributes r;
  r.client_country = "FR";
  r.method = "POST";
  r.model = "mistral-small";  // not named exactly: exercises the glob path
  r.path = "/v1/chat/completions";
  r.detected_classes = classes;
  r.declared_classes = declared;
  request_attributes denied;
  denied.client_country = "US";
  const bound_clusters bound(*p, cs);
  // Positive control: the counter sees decide()'s own allocations while `out` is cold.
  decision d;
  allocations = 0;
  counting = true;
  p->decide(r, cs, d);
  counting = false;
  CHECK(allocations > 0);
  p->decide(denied, cs, d);
  p->decide(r, bound, d);
  allocations = 0;
  counting = true;
  for (int i = 0; i < 1000; ++i) {
    p->decide(r, cs, d);
    p->decide(denied, cs, d);
    p->decide(r, bound, d);
    p->decide(denied, bound, d);
  }
  counting = false;
  CHECK(allocations == 0);
  p->decide(r, cs, d);
  CHECK(d.result == effect::permit);
}

TEST_CASE("decide agrees with a direct per-rule evaluation on generated requests") {
  const auto p = compiled();
  const auto& cp = p->compiled();
  const char* countries[] = {"DE", "FR", "RU", "US", "private", "unknown", ""};
  const char* ips[] = {"", "198.51.100.5", "2001:db8:1::9", "8.8.8.8"};
  const char* tenants[] = {"acme", "globex", ""};
  const char* models[] = {"mistral-large", "llama", "gpt-4o"};
  const char* methods[] = {"POST", "GET"};
  const std::vector<std::vector<std::string>> class_sets = {
      {}, {"personal"}, {"public"}, {"personal", "public"}};
  const std::vector<std::vector<std::string>> declared_sets = {{}, {"personal"}};
  std::vector<std::string_view> storage;
  const auto cs = clusters();
  const bound_clusters bound(*p, cs);
  decision via_bound;
  for (auto c : countries) {
    for (auto ip : ips) {
      for (auto t : tenants) {
        for (auto m : models) {
          for (auto me : methods) {
            for (const auto& cls : class_sets) {
              for (const auto& decl : declared_sets) {
                request_values rv{c, *ip ? parse_ip(ip) : std::nullopt, t, m, "/v1/x", me, decl, cls};
                const decision d = p->decide(rv.view(storage), {});
                std::vector<std::uint32_t> expected;
                for (std::uint32_t i = 0; i < cp.rules.size(); ++i) {
                  if (rule_admits(cp, cp.rules[i], rv)) {
                    expected.push_back(i);
                  }
                }
                CAPTURE(rv.client_country);
                CHECK(d.matched_rules == expected);
                const decision direct = p->decide(rv.view(storage), cs);
                p->decide(rv.view(storage), bound, via_bound);
                CHECK(via_bound.result == direct.result);
                CHECK(via_bound.cause == direct.cause);
                CHECK(via_bound.allowed_clusters == direct.allowed_clusters);
                CHECK(via_bound.matched_rules == direct.matched_rules);
              }
            }
          }
        }
      }
    }
  }
}

TEST_CASE("large generated policy: indexed decide == per-rule evaluation (tenant grouping, sparse words)") {
  std::mt19937 rng(1234);
  const char* countries[] = {"DE", "FR", "US", "GB", "private", "unknown"};
  const char* models[] = {"mistral-large", "mistral-small", "llama-3", "gpt-4o", "qwen"};
  const char* methods[] = {"GET", "POST"};
  const char* paths[] = {"/v1/chat/completions", "/v1/embeddings", "/admin/x"};
  std::string text =
      "data_classes: {personal: {detectors: [email]}, public: {permit_on_declaration: true}, "
      "internal: {detectors: [iban]}}\nrules:\n";
  for (int i = 0; i < 700; ++i) {
    const int kind = static_cast<int>(rng() % 10);
    std::string when;
    if (kind == 0) {
      // Forbids: their own networks and a method no permit uses, so nothing is shadowed.
      when += "      client.ip: [192.0." + std::to_string(i % 256) + ".0/24]\n      method: [DELETE]\n";
    }
    if (kind < 7 || rng() % 10 < 8) {  // every permit names tenants
      when += "      tenant: [t" + std::to_string(rng() % 60) + ", t" + std::to_string(rng() % 60) + "]\n";
    }
    if (rng() % 2) {
      when += rng() % 3 ? "      model: [" + std::string(models[rng() % 5]) + "]\n"
                        : "      model: [\"mistral-*\"]\n";
    }
    if (rng() % 3 == 0) {
      when += "      client.country: [" + std::string(countries[rng() % 6]) + ", EU]\n";
    }
    if (rng() % 4 == 0) {
      const char* names[] = {"personal", "public", "internal"};
      when += "      data.class: [" + std::string(names[rng() % 3]) + "]\n";
    }
    if (kind != 0 && rng() % 4 == 0) {
      when += "      method: [" + std::string(methods[rng() % 2]) + "]\n";
    }
    if (rng() % 5 == 0) {
      when += "      path: [\"" + std::string(rng() % 2 ? "/v1/*" : paths[rng() % 3]) + "\"]\n";
    }
    if (when.empty()) {
      when = "      tenant: [t" + std::to_string(rng() % 60) + "]\n";
    }
    text += "  - id: r" + std::to_string(i) + "\n    effect: " +
            (kind == 0  ? "forbid"
             : kind < 7 ? "permit"
                        : "restrict") +
            "\n    when:\n" + when;
    if (kind >= 7) {
      text += "    route: {cluster.country: [EU]}\n";
    }
  }
  const std::string cleaned = text;
  const auto result = compile_policy(cleaned, "big.yaml");
  INFO(format_diagnostics(result.diagnostics));
  REQUIRE(result.ok());
  const auto& p = *result.policy;
  const auto& cp = p.compiled();
  std::vector<std::string_view> storage;
  int no_permit = 0;
  for (int n = 0; n < 3000; ++n) {
    request_values rv;
    rv.client_country = countries[rng() % 6];
    if (rng() % 2) {
      rv.client_ip = ip_address{(192u << 24) | (0u << 16) | ((rng() % 300) << 8) | 7u, true};
    }
    rv.tenant = "t" + std::to_string(rng() % 70);
    rv.model = rng() % 4 ? models[rng() % 5] : "mistral-tiny";
    rv.method = rng() % 5 ? methods[rng() % 2] : "DELETE";
    rv.path = paths[rng() % 3];
    const char* class_names[] = {"personal", "public", "internal"};
    if (rng() % 2) {
      rv.detected_classes.push_back(class_names[rng() % 3]);
    }
    if (rng() % 2) {
      rv.declared_classes.push_back(class_names[rng() % 3]);
    }
    const decision d = p.decide(rv.view(storage), {});
    std::vector<std::uint32_t> expected;
    for (std::uint32_t i = 0; i < cp.rules.size(); ++i) {
      if (rule_admits(cp, cp.rules[i], rv)) {
        expected.push_back(i);
      }
    }
    CAPTURE(request_to_text(rv));
    REQUIRE(d.matched_rules == expected);
    if (d.cause == deny_cause::no_permit) {
      ++no_permit;
      // Nearest permit: minimal failure count, earliest in file order.
      std::size_t best = attribute_count + 1;
      std::uint32_t best_rule = no_rule;
      for (std::uint32_t i = 0; i < cp.rules.size(); ++i) {
        if (cp.rules[i].effect != rule_effect::permit) {
          continue;
        }
        std::size_t fails = 0;
        for (std::size_t a = 0; a < attribute_count; ++a) {
          fails +=
              !condition_admits(cp, cp.rules[i].when[a], static_cast<attribute>(a), rv, view_of(cp.rules[i]));
        }
        if (fails < best) {
          best = fails;
          best_rule = i;
        }
      }
      CHECK(d.nearest_permit == best_rule);
      if (best_rule != no_rule) {
        CHECK_FALSE(condition_admits(cp,
                                     cp.rules[best_rule].when[static_cast<std::size_t>(d.failed_attribute)],
                                     d.failed_attribute, rv, view_of(cp.rules[best_rule])));
      }
    }
  }
  CHECK(no_permit > 300);
}
