#include "policy/invariant_checker.hpp"

#include <doctest/doctest.h>

#include "policy/clusters_config.hpp"
#include "policy/deployment_check.hpp"
#include "policy/policy.hpp"
#include "policy/policy_store.hpp"
#include "policy/request_json.hpp"

using namespace sovgw::policy;

namespace {

std::shared_ptr<const snapshot> compiled(std::string_view text) {
  const auto result = compile_policy(text, "p.yaml");
  INFO(format_diagnostics(result.diagnostics));
  REQUIRE(result.ok());
  return result.policy;
}

constexpr std::string_view base = R"(
data_classes:
  personal: {}
rules:
  - id: permit-all-eea
    effect: permit
    when: {client.country: [EEA]}
  - id: pin
    effect: restrict
    when: {tenant: [acme]}
    route: {cluster: [nl-1]}
)";

}  // namespace

TEST_CASE("example policy: all invariants proved, symbolically and on the example clusters") {
  const auto result = compile_policy_file(SOVGW_SOURCE_DIR "/examples/policies/eu_policy.yaml");
  REQUIRE(result.ok());
  for (const auto& r : check_invariants(*result.policy, {})) {
    CAPTURE(r.id);
    CHECK(r.holds);
    CHECK(r.exhaustive);
    CHECK(r.classes_checked > 0);
  }
  const auto clusters = load_clusters_file(SOVGW_SOURCE_DIR "/examples/policies/clusters.yaml");
  REQUIRE(clusters.ok());
  CHECK(clusters.clusters.size() == 6);
  CHECK(lint_clusters(*result.policy, clusters.clusters).empty());
  for (const auto& r : check_invariants(*result.policy, clusters.clusters)) {
    CAPTURE(r.id);
    CHECK(r.holds);
  }
}

TEST_CASE("a missing restrict gives a concrete counterexample") {
  const std::string text = std::string(base) + R"(
invariants:
  - id: personal-in-eu
    for: {data.class: [personal]}
    require:
      route: {cluster.country: [EU]}
)";
  const auto p = compiled(text);
  const auto results = check_invariants(*p, {});
  REQUIRE(results.size() == 1);
  const auto& r = results[0];
  CHECK_FALSE(r.holds);
  REQUIRE(r.counterexample);
  CHECK(r.counterexample->declared_classes == std::vector<std::string>{"personal"});  // no detector: declared
  CHECK(r.counterexample->detected_classes.empty());
  CHECK(r.violation ==
        "no matched restrict rule constrains cluster.country: the request may be routed to any cluster");
  // The counterexample really violates it: decide() permits it.
  std::vector<std::string_view> storage;
  CHECK(p->decide(r.counterexample->view(storage), {}).result == effect::permit);
}

TEST_CASE("an IPv4 block's rule reaches the IPv6 addresses that carry it: the checker tries them") {
  // decide() matches a 6to4 (or NAT64, Teredo, ...) address against the IPv4 blocks holding the
  // address it carries (probe round 38): a permit on an IPv4 block admits such clients of an IPv6
  // range an invariant wants denied, and the checker must find one.
  const auto p = compiled(R"(
rules:
  - id: permit-net
    effect: permit
    when: {client.ip: [2.2.2.0/24]}
invariants:
  - id: tunnels-denied
    for: {client.ip: ["2002::/16"]}
    require: {effect: deny}
)");
  const auto results = check_invariants(*p, {});
  REQUIRE(results.size() == 1);
  CHECK_FALSE(results[0].holds);
  REQUIRE(results[0].counterexample);
  REQUIRE(results[0].counterexample->client_ip);
  CHECK(format_ip(*results[0].counterexample->client_ip).starts_with("2002:202:2"));
  std::vector<std::string_view> storage;
  CHECK(p->decide(results[0].counterexample->view(storage), {}).result == effect::permit);
}

TEST_CASE("concrete clusters: the counterexample names the offending cluster") {
  const std::string text = std::string(base) + R"(
  - id: personal-eu
    effect: restrict
    when: {data.class: [personal]}
    route: {cluster.country: [EU]}
invariants:
  - id: personal-eu-jurisdiction
    for: {data.class: [personal]}
    require:
      route: {cluster.operator_jurisdiction: [EU]}
  - id: sanctioned-denied
    for: {client.country: [RU]}
    require: {effect: deny}
)";
  const auto p = compiled(text);
  const std::vector<cluster_info> clusters = {{"nl-1", "NL", "", "NL", {"*"}},
                                              {"de-us", "DE", "", "US", {"*"}}};
  const auto results = check_invariants(*p, clusters);
  REQUIRE(results.size() == 2);
  CHECK_FALSE(results[0].holds);
  CHECK(results[0].violation.find("cluster de-us") != std::string::npos);
  CHECK(results[1].holds);
}

TEST_CASE("client-declared classes are adversarial: the prover tries every declared set") {
  const std::string policy = R"(
data_classes:
  personal: {detectors: [email]}
  internal: {detectors: [ip_address]}
rules:
  - id: permit-eu
    effect: permit
    when: {client.country: [EU]}
  - id: permit-internal
    effect: permit
    when: {data.class: [internal]}
  - id: personal-in-eu
    effect: restrict
    when: {data.class: [personal]}
    route: {cluster.country: [EU]}
invariants:
  - id: us-denied
    for: {client.country: [US]}
    require: {effect: deny}
  - id: personal-in-eu
    for: {data.class: [personal]}
    require: {route: {cluster.country: [EU]}}
)";
  // Only a detected `internal` grants: the counterexample must detect it, not declare it.
  auto results = check_invariants(*compiled(policy), {});
  REQUIRE(results.size() == 2);
  REQUIRE(results[0].counterexample);
  CHECK(results[0].counterexample->detected_classes == std::vector<std::string>{"internal"});
  CHECK(results[0].counterexample->declared_classes.empty());
  // The route invariant holds however `personal` arrives and whatever else is declared.
  CHECK(results[1].holds);
  CHECK(results[1].exhaustive);
  CHECK(results[1].classes_checked > 0);

  // Declarable for permits: now a mere declaration is a counterexample.
  std::string declarable = policy;
  declarable.replace(declarable.find("internal: {detectors: [ip_address]}"), 35,
                     "internal: {permit_on_declaration: true}");
  results = check_invariants(*compiled(declarable), {});
  REQUIRE(results[0].counterexample);
  CHECK(results[0].counterexample->declared_classes == std::vector<std::string>{"internal"});
  CHECK(results[0].counterexample->detected_classes.empty());
  CHECK(results[1].holds);
}

TEST_CASE("require effect deny fails when some class is permitted") {
  const std::string text = std::string(base) + R"(
invariants:
  - id: acme-never
    for: {tenant: [acme]}
    require: {effect: deny}
)";
  const auto results = check_invariants(*compiled(text), {});
  REQUIRE(results.size() == 1);
  CHECK_FALSE(results[0].holds);
  CHECK(results[0].counterexample->tenant == "acme");
  CHECK(results[0].violation == "the request is permitted");
}

TEST_CASE("cluster lint: unknown cluster names, unmatched routes") {
  const auto p = compiled(base);
  const auto clusters = parse_clusters_text(R"(
listen: {port: 8443}
clusters:
  - name: de-1
    endpoints: ["10.0.0.1:443"]
    country: DE
    operator_jurisdiction: DE
)",
                                            "c.yaml");
  REQUIRE(clusters.ok());
  const std::string out = format_diagnostics(lint_clusters(*p, clusters.clusters));
  CHECK(out.find("p.yaml:11:23: error: route of rule 'pin' names cluster 'nl-1', which the config does not "
                 "define") != std::string::npos);
  // That it then admits no cluster is the consequence, not a second mistake (probe round 25).
  CHECK(out.find("admits none") == std::string::npos);
  const auto typo = parse_clusters_text(R"(
listen: {port: 8443}
clusters:
  - name: nl-1x
    endpoints: ["10.0.0.1:443"]
    country: NL
    operator_jurisdiction: NL
)",
                                        "c.yaml");
  REQUIRE(typo.ok());
  CHECK(
      format_diagnostics(lint_clusters(*p, typo.clusters)) ==
      "p.yaml:11:23: error: route of rule 'pin' names cluster 'nl-1', which the config does not define; did "
      "you mean 'nl-1x'?\n");
}

TEST_CASE("cluster lint: models a rule names that no configured cluster can serve") {
  constexpr std::string_view text = R"(rules:
  - id: permit-eu
    effect: permit
    when: {client.country: [EU], model: ["gpt-*", mistral-tiny, mistral-large, llama-3.1-8b]}
  - {id: forbid-old, effect: forbid, when: {model: [gpt-3]}}
  - {id: gpt-in-us, effect: restrict, when: {model: [gpt-4o, mistral-large]}, route: {cluster.country: [US]}}
  - {id: pin, effect: restrict, when: {model: [mistral-large]}, route: {cluster: [nowhere]}}
)";
  const std::vector<cluster_info> clusters = {{"fr-1", "FR", "", "FR", {"mistral-large", "llama-3.1-*"}},
                                              {"us-1", "US", "", "US", {"gpt-4o*"}}};
  // Each warning is at the model it is about (the glob before it in the list does not shift it);
  // a model a cluster serves by a glob, a glob in a rule and a forbid's model are not warned about;
  // 'pin' admits no cluster at all, which is its own error, not one more per model.
  CHECK(
      format_diagnostics(lint_clusters(*compiled(text), clusters)) ==
      "p.yaml:4:51: warning: permit rule 'permit-eu' names model 'mistral-tiny', which no configured cluster "
      "serves: requests for it are denied (no_cluster)\n"
      "p.yaml:6:62: warning: restrict rule 'gpt-in-us': no configured cluster that serves 'mistral-large' is "
      "admitted by its route, so the requests for it this rule matches are always denied (no_cluster); a "
      "forbid says so plainly\n"
      "p.yaml:7:83: error: route of rule 'pin' names cluster 'nowhere', which the config does not define\n");
  // Warnings do not fail the check the gateway runs.
  std::string warned(text);
  warned.erase(warned.find("  - {id: pin"));
  CHECK(check_deployment(*compiled(warned), deployment{&clusters, nullptr, {}}).ok());
  // Clusters that serve every model: nothing to warn about.
  const std::vector<cluster_info> serve_all = {{"fr-1", "FR", "", "FR", {"*"}},
                                               {"us-1", "US", "", "US", {"*"}}};
  CHECK(lint_clusters(*compiled(warned), serve_all).empty());
}

TEST_CASE("cluster lint: a model in another letter case, a region no cluster is in") {
  // Models are compared exactly: a restrict written for 'Mistral-*' never applies to mistral-large,
  // and its route and obligations are silently gone (probe round 20).
  constexpr std::string_view text = R"(rules:
  - {id: permit-all, effect: permit}
  - {id: health, effect: restrict, when: {model: [Mistral-*, GPT-4o]}, route: {cluster.region: [eu-centrl, eu-west]}}
  - {id: no-gpt, effect: forbid, when: {model: [Gpt-4O-mini, gpt-3]}}
)";
  const std::vector<cluster_info> clusters = {
      {"fr-1", "FR", "eu-west", "FR", {"mistral-large", "llama-3.1-*"}},
      {"us-1", "US", "us-east", "US", {"gpt-4o*"}}};
  CHECK(format_diagnostics(lint_clusters(*compiled(text), clusters)) ==
        "p.yaml:3:51: warning: restrict rule 'health' names model 'Mistral-*', which no configured cluster "
        "serves: "
        "the rule never applies to a request a cluster serves (models are compared exactly, in their letter "
        "case: a "
        "cluster serves 'mistral-large')\n"
        "p.yaml:3:62: warning: restrict rule 'health' names model 'GPT-4o', which no configured cluster "
        "serves: the "
        "rule never applies to a request a cluster serves (models are compared exactly, in their letter "
        "case: a "
        "cluster serves 'gpt-4o*')\n"
        "p.yaml:3:97: warning: route of rule 'health' names region 'eu-centrl', which no configured cluster "
        "is in\n"
        "p.yaml:4:49: warning: forbid rule 'no-gpt' names model 'Gpt-4O-mini', which no configured cluster "
        "serves: "
        "the rule never applies to a request a cluster serves (models are compared exactly, in their letter "
        "case: a "
        "cluster serves 'gpt-4o*')\n");
}

TEST_CASE("cluster lint: a typo in a model a restrict, forbid or invariant names") {
  // Probe round 29: a restrict on 'gtp-4o' let gpt-4o go to any cluster, and an invariant with the
  // same typo was "proved", without a word. A forbid for a model nobody serves yet (gpt-5) is a
  // safeguard: named only when it looks like a typo of a model that is served.
  constexpr std::string_view text = R"(rules:
  - {id: permit-all, effect: permit}
  - {id: gpt-in-eu, effect: restrict, when: {model: [gtp-4o, "gtp-4o*"]}, route: {cluster.country: [FR]}}
  - {id: no-mini, effect: forbid, when: {model: [gpt4o, gpt-5]}}
  - {id: nowhere, effect: restrict, when: {model: [claude-x]}, route: {cluster.country: [FR]}}
invariants:
  - id: gpt-stays-in-eu
    for: {model: [gtp-4o]}
    require: {route: {cluster.country: [FR]}}
)";
  const std::vector<cluster_info> clusters = {{"fr-1", "FR", "", "FR", {"mistral-large"}},
                                              {"us-1", "US", "", "US", {"gpt-4o"}}};
  CHECK(format_diagnostics(lint_clusters(*compiled(text), clusters)) ==
        "p.yaml:3:54: warning: restrict rule 'gpt-in-eu' names model 'gtp-4o', which no configured cluster "
        "serves: the rule never applies to a request a cluster serves; did you mean 'gpt-4o'?\n"
        "p.yaml:3:62: warning: restrict rule 'gpt-in-eu' names model 'gtp-4o*', which no configured cluster "
        "serves: the rule never applies to a request a cluster serves; did you mean 'gpt-4o'?\n"
        "p.yaml:4:50: warning: forbid rule 'no-mini' names model 'gpt4o', which no configured cluster "
        "serves: the rule never applies to a request a cluster serves; did you mean 'gpt-4o'?\n"
        "p.yaml:5:52: warning: restrict rule 'nowhere' names model 'claude-x', which no configured cluster "
        "serves: the rule never applies to a request a cluster serves\n"
        "p.yaml:8:19: warning: invariant 'gpt-stays-in-eu' is about model 'gtp-4o', which no configured "
        "cluster serves: it holds vacuously, over no request a cluster serves; did you mean 'gpt-4o'?\n");
}

TEST_CASE("cluster lint: restricts every request meets that together admit no cluster, reported once") {
  const std::vector<cluster_info> clusters = {{"fr-1", "FR", "", "FR", {"*"}},
                                              {"us-1", "US", "", "US", {"*"}}};
  // Each admits a cluster, together none: an error at the rule that closes the last one. A restrict
  // with a `when` does not meet every request; the rule after the error adds nothing to report.
  CHECK(format_diagnostics(lint_clusters(*compiled(R"(rules:
  - {id: permit-all, effect: permit}
  - {id: in-eu, effect: restrict, route: {cluster.country: [EU]}}
  - {id: post-in-us, effect: restrict, when: {method: [POST]}, route: {cluster.country: [US]}}
  - {id: us-operated, effect: restrict, route: {cluster.operator_jurisdiction: [US]}}
  - {id: in-fr, effect: restrict, route: {cluster.country: [FR]}}
)"),
                                         clusters)) ==
        "p.yaml:5:5: error: restrict rules 'in-eu', 'us-operated' apply to every request and together "
        "admit none of the 2 configured clusters: every request is denied (no_cluster)\n");
  // One that admits no cluster by itself is its own error, whichever comes first, and only that.
  constexpr std::string_view eu = "  - {id: in-eu, effect: restrict, route: {cluster.country: [EU]}}\n";
  constexpr std::string_view ch = "  - {id: in-ch, effect: restrict, route: {cluster.country: [CH]}}\n";
  const std::string head = "rules:\n  - {id: permit-all, effect: permit}\n";
  CHECK(format_diagnostics(lint_clusters(*compiled(head + std::string(eu) + std::string(ch)), clusters)) ==
        "p.yaml:4:5: error: route of restrict rule 'in-ch' admits none of the 2 configured clusters\n");
  CHECK(format_diagnostics(lint_clusters(*compiled(head + std::string(ch) + std::string(eu)), clusters)) ==
        "p.yaml:3:5: error: route of restrict rule 'in-ch' admits none of the 2 configured clusters\n");
}

TEST_CASE("clusters config: the gateway's schema, every error with its position") {
  const auto bad = parse_clusters_text(R"(clusters:
  - name: a
    country: XX
    endpoints: ["h:1"]
  - country: DE
    endpoints: ["h:70000"]
    operator_jurisdiction: MARS
    models: []
    colour: red
  - name: a
    endpoints: [h:1]
    country: FR
    operator_jurisdiction: EU
    insecure_loopback_plaintext: true
    tls: {ca: x.pem, client_key: k.pem}
    down_retry_interval: 10
  - name: "de\r\nX-Evil: 1\u202e<b>"
    endpoints: ["http://10.0.0.1:8000/v1", "::1:8443", "h st:1", "[::1]:1", "https://u:pw@api.example.com/v1"]
    country: DE
    operator_jurisdiction: DE
)",
                                       "c.yaml");
  CHECK_FALSE(bad.ok());
  const std::string out = format_diagnostics(bad.diagnostics);
  INFO(out);
  for (const char* line : {
           "c.yaml:2:5: error: cluster 'a' needs an operator_jurisdiction",
           "c.yaml:3:14: error: country must be an ISO 3166-1 alpha-2 code like FR, not 'XX'",
           "c.yaml:5:5: error: cluster needs a name",
           "c.yaml:6:17: error: endpoint port must be 1..65535 in 'h:70000'",
           "c.yaml:7:28: error: operator_jurisdiction must be a country code or EU, not 'MARS'",
           "c.yaml:8:13: error: models must not be empty (leave it out to serve every model)",
           "c.yaml:9:5: error: unknown key 'colour' in cluster",
           "c.yaml:10:5: error: duplicate cluster name 'a'",
           "c.yaml:10:5: error: cluster 'a' sets both tls and insecure_loopback_plaintext",
           "c.yaml:10:5: error: cluster 'a': plaintext is only allowed to loopback endpoints, and h:1 is not "
           "loopback",
           "c.yaml:10:5: error: cluster 'a': tls.client_certificate and tls.client_key go together",
           "c.yaml:16:26: error: down_retry_interval must be a positive duration",
           // A name goes into metrics labels, log lines and the report: no line breaks, no bidi controls,
           // and the message shows them escaped.
           "c.yaml:17:11: error: cluster name 'de\\r\\nX-Evil: 1\\u202e<b>' is not a name: U+000D at "
           "character 3: "
           "cluster names are ASCII letters, digits, '.', '_' and '-', starting with a letter or digit",
           "c.yaml:18:17: error: endpoint must be host:port, not a URL: write '10.0.0.1:8000' (TLS unless "
           "the "
           "cluster sets insecure_loopback_plaintext)",
           "c.yaml:18:44: error: endpoint host must be a DNS name or an IP address (IPv6 as [::1]:port), not "
           "'::1:8443'",
           "c.yaml:18:56: error: endpoint host must be a DNS name or an IP address (IPv6 as [::1]:port), not "
           "'h "
           "st:1'",
           // Never the URL's password, and the scheme's port when it names none.
           "c.yaml:18:77: error: endpoint must be host:port, not a URL: write 'api.example.com:443'",
       }) {
    CHECK(out.find(line) != std::string::npos);
  }
  CHECK_FALSE(parse_clusters_text("listen: x\n", "c.yaml").ok());
  CHECK(format_diagnostics(parse_clusters_text("clusters: []\nclusters: []\n", "c.yaml").diagnostics) ==
        "c.yaml:2:1: error: duplicate key 'clusters' in the configuration\n");
}

TEST_CASE("clusters config: values and defaults") {
  const auto result = parse_clusters_text(R"(clusters:
  - name: a
    endpoints: ["[::1]:8443"]
    country: FR
    operator_jurisdiction: EU
)",
                                          "c.yaml");
  REQUIRE(result.ok());
  REQUIRE(result.clusters.size() == 1);
  CHECK(result.clusters[0].models == std::vector<std::string>{"*"});  // no models: serves every model
  CHECK(result.positions[0].line == 2);
}

TEST_CASE("request JSON") {
  std::string error;
  const auto r = parse_request_json(
      R"({"client.country":"DE","client.ip":"192.0.2.1","tenant":"t","model":"m","path":"/p","method":"POST","data.class":["a","b"],"data.class.declared":"c"})",
      error);
  REQUIRE(r);
  CHECK(r->client_country == "DE");
  CHECK(r->detected_classes == std::vector<std::string>{"a", "b"});  // data.class: what was detected
  CHECK(r->declared_classes == std::vector<std::string>{"c"});
  CHECK(request_to_json(*r).find(R"("data.class.detected":["a","b"],"data.class.declared":["c"])") !=
        std::string::npos);
  const auto again = parse_request_json(request_to_json(*r), error);
  REQUIRE(again);
  CHECK(request_to_json(*again) == request_to_json(*r));
  CHECK_FALSE(parse_request_json("{", error));
  CHECK(error.rfind("invalid JSON", 0) == 0);
  CHECK_FALSE(parse_request_json("[]", error));
  CHECK_FALSE(parse_request_json(R"({"colour":"red"})", error));
  CHECK(error.find("unknown request attribute \"colour\"") != std::string::npos);
  CHECK_FALSE(parse_request_json(R"({"client.country":"Germany"})", error));
  CHECK_FALSE(parse_request_json(R"({"client.ip":"1.2.3"})", error));
  CHECK_FALSE(parse_request_json(R"({"tenant":5})", error));
  CHECK_FALSE(parse_request_json(R"({"data.class":[1]})", error));
}

namespace {

const std::vector<cluster_info> configured = {{"fr-1", "FR", "eu-west", "FR", {"*"}},
                                              {"de-1", "DE", "eu-central", "DE", {"*"}}};

}  // namespace

TEST_CASE("deployment check: an invariant that fails is an error at the invariant, with its counterexample") {
  const auto p = compiled(R"(rules:
  - {id: permit-all, effect: permit}
invariants:
  - id: sanctioned-denied
    for: {client.country: [RU]}
    require: {effect: deny}
)");
  const deployment where{&configured, nullptr, {}};
  const policy_verdict verdict = check_deployment(*p, where);
  CHECK_FALSE(verdict.ok());
  CHECK(verdict.diagnostics.empty());
  CHECK(format_diagnostics(verdict.all()) ==
        "p.yaml:4:5: error: invariant 'sanctioned-denied' is violated: counterexample "
        "{\"client.country\":\"RU\"}; "
        "decision: permit rules [permit-all] clusters [fr-1, de-1]; violation: the request is permitted\n");
}

TEST_CASE("deployment check: routes against the configured clusters, tenants against the tenants file") {
  const auto p = compiled(R"(rules:
  - {id: permit-all, effect: permit}
  - id: pin
    effect: restrict
    when: {tenant: [acmee, globex]}
    route: {cluster: [pariss]}
)");
  const std::vector<std::string> tenants = {"acme", "globex"};
  const deployment where{&configured, &tenants, "t.yaml"};
  const policy_verdict verdict = check_deployment(*p, where);
  CHECK_FALSE(verdict.ok());
  CHECK(format_diagnostics(verdict.all()) ==
        "p.yaml:5:21: error: rule 'pin' names tenant 'acmee', which the tenants file t.yaml does not "
        "declare: it "
        "never matches; did you mean 'acme'?\n"
        "p.yaml:6:23: error: route of rule 'pin' names cluster 'pariss', which the config does not define\n");
  // Without clusters and tenants (policy check without --clusters), neither is cross-checked.
  CHECK(check_deployment(*p, deployment{}).ok());
}

TEST_CASE("deployment check: a policy may only name tenants by the tenant-name syntax") {
  const auto result = compile_policy(
      "rules:\n  - {id: a, effect: permit, when: {tenant: [\"\xd0\xb0"
      "cme\", \"acme\xe2\x80\x8b\", \"acme corp\"]}}\n",
      "p.yaml");
  CHECK_FALSE(result.ok());
  CHECK(format_diagnostics(result.diagnostics) ==
        "p.yaml:2:45: error: tenant '\xd0\xb0"
        "cme' is not a tenant name: U+0430 at character 1: tenant names are "
        "ASCII letters, digits, '.', '_' and '-', starting with a letter or digit\n"
        "p.yaml:2:54: error: tenant 'acme\xe2\x80\x8b' is not a tenant name: U+200B at character 5: tenant "
        "names are "
        "ASCII letters, digits, '.', '_' and '-', starting with a letter or digit\n"
        "p.yaml:2:65: error: tenant 'acme corp' is not a tenant name: U+0020 at character 5: tenant names "
        "are ASCII "
        "letters, digits, '.', '_' and '-', starting with a letter or digit\n");
}

TEST_CASE("a policy store's vetter refuses a policy and keeps the last good one") {
  policy_store store;
  const auto vet = [](const snapshot& s) {
    return check_deployment(s, deployment{&configured, nullptr, {}}).all();
  };
  REQUIRE(store.reload_text("rules:\n  - {id: permit-all, effect: permit}\n", "good.yaml", vet).ok);
  const std::string good = store.current()->version();
  const reload_result bad = store.reload_text(
      "rules:\n  - {id: pin, effect: restrict, route: {cluster: [pariss]}}\n  - {id: p, effect: permit}\n",
      "bad.yaml", vet);
  CHECK_FALSE(bad.ok);
  CHECK(bad.previous_version == good);
  CHECK(store.current()->version() == good);
  CHECK(format_diagnostics(bad.diagnostics)
            .find("bad.yaml:2:51: error: route of rule 'pin' names cluster "
                  "'pariss'") != std::string::npos);
}

TEST_CASE("with clusters, a permit invariant meets a model no cluster serves") {
  const auto p = compiled(R"(rules:
  - {id: p, effect: permit, when: {client.country: [FR]}}
invariants:
  - {id: i, for: {client.country: [FR]}, require: {effect: permit}}
)");
  CHECK(check_invariants(*p, {})[0].holds);  // the rules alone permit every such request
  const std::vector<cluster_info> served = {{"fr-1", "FR", "", "FR", {"mistral-large", "llama-*"}}};
  const auto results = check_invariants(*p, served);
  REQUIRE_FALSE(results[0].holds);
  CHECK(results[0].counterexample->model == "(unserved)");
  CHECK(results[0].violation == "the request is denied (no_cluster)");
}
