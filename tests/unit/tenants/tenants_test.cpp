#include "tenants/tenants.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace sovgw::tenants;

namespace {

std::string errors_of(const load_result& r) {
  std::string out;
  for (const auto& d : r.diagnostics) {
    out += d.format() + "\n";
  }
  return out;
}

std::string key_line(std::string_view tenant, std::string_view key, std::string_view extra = "") {
  return "  - {tenant: " + std::string(tenant) + ", id: " + key_id_of(key) + ", hash: \"" +
         format_hash(hash_key(key)) + "\", created: 2026-12-01T00:00:00Z" + std::string(extra) + "}\n";
}

}  // namespace

TEST_CASE("keys: generated keys are well formed, distinct, and identified by a short prefix") {
  const std::string a = generate_key();
  const std::string b = generate_key();
  CHECK(a != b);
  CHECK(a.size() == key_scheme.size() + key_secret_chars);
  CHECK(a.starts_with("sk-sovgw-"));
  CHECK(key_id_of(a) == a.substr(0, 17));
  CHECK(key_id_of("sk-sovgw-short").empty());
  CHECK(key_id_of(a.substr(0, a.size() - 1) + "!").empty());
  CHECK(format_hash(hash_key(a)).starts_with("blake2b-256:"));
}

TEST_CASE("tenants file: a revocation or a creation dated in the future is a warning") {
  const std::string key = generate_key();
  std::string line = key_line("acme", key, ", revoked: 2062-12-05T23:40:00Z");
  line.replace(line.find("created: 2026"), 13, "created: 2062");
  const load_result r = parse_tenants("tenants:\n  - name: acme\nkeys:\n" + line, "t.yaml");
  REQUIRE_MESSAGE(r.ok(), errors_of(r));
  REQUIRE(r.diagnostics.size() == 2);
  CHECK(r.diagnostics[0].format().find("t.yaml:4:") == 0);
  CHECK(r.diagnostics[0].message.find(
            "is revoked at 2062-12-05T23:40:00Z, in the future: it is revoked from now") !=
        std::string::npos);
  CHECK(r.diagnostics[1].message.find("was created at 2062-12-01T00:00:00Z, in the future") !=
        std::string::npos);
  CHECK(r.tenants->check_key(key, *parse_time("2026-12-05T00:00:00Z")).status == key_check::revoked);
}

TEST_CASE("tenants file: keys are found by hash; revoked, expired, unknown and malformed told apart") {
  const std::string good = generate_key(), revoked = generate_key(), expired = generate_key();
  const std::string text =
      "tenants:\n  - name: acme\n    certificates:\n      - cn: acme-app\n      - dns: app.acme.example\n"
      "  - name: globex\nkeys:\n" +
      key_line("acme", good, ", expires: 2030-01-01T00:00:00Z") +
      key_line("globex", revoked, ", revoked: 2026-12-02T00:00:00Z") +
      key_line("acme", expired, ", expires: 2026-12-02T00:00:00Z");
  const load_result r = parse_tenants(text, "t.yaml");
  REQUIRE_MESSAGE(r.ok(), errors_of(r));
  const std::int64_t now = *parse_time("2026-12-03T03:00:00Z");
  key_lookup k = r.tenants->check_key(good, now);
  CHECK(k.status == key_check::valid);
  REQUIRE(k.key != nullptr);
  CHECK(k.key->tenant == "acme");
  CHECK(k.key->id == key_id_of(good));
  CHECK(r.tenants->check_key(revoked, now).status == key_check::revoked);
  // A revocation holds from when it is written, whatever time it names (a typo for a later year).
  CHECK(r.tenants->check_key(revoked, *parse_time("2026-12-01T00:00:00Z")).status == key_check::revoked);
  CHECK(r.tenants->check_key(expired, now).status == key_check::expired);
  CHECK(r.tenants->check_key(expired, *parse_time("2026-12-01T12:00:00Z")).status == key_check::valid);
  CHECK(r.tenants->check_key(generate_key(), now).status == key_check::unknown);
  CHECK(r.tenants->check_key("sk-other", now).status == key_check::malformed);
  // One character changed: another hash, unknown.
  std::string near = good;
  near.back() = near.back() == 'A' ? 'B' : 'A';
  CHECK(r.tenants->check_key(near, now).status == key_check::unknown);

  bool ambiguous = false;
  const tenant* t = r.tenants->find_by_certificate({{subject_kind::cn, "acme-app", {}}}, ambiguous);
  REQUIRE(t != nullptr);
  CHECK(t->name == "acme");
  CHECK(r.tenants->find_by_certificate({{subject_kind::dns, "acme-app", {}}}, ambiguous) == nullptr);
  CHECK(r.tenants->find_by_certificate({{subject_kind::cn, "nobody", {}}}, ambiguous) == nullptr);
}

TEST_CASE("key memo: a connection's valid key is recalled only for itself, its table and its time") {
  const std::string good = generate_key(), other = generate_key(), soon = generate_key();
  const std::string keys = key_line("acme", good, "") + key_line("globex", other, "") +
                           key_line("acme", soon, ", expires: 2026-12-03T04:00:00Z");
  const load_result r = parse_tenants("tenants:\n  - name: acme\n  - name: globex\nkeys:\n" + keys, "t.yaml");
  REQUIRE_MESSAGE(r.ok(), errors_of(r));
  const std::int64_t now = *parse_time("2026-12-03T03:00:00Z");
  key_memo memo;
  key_lookup k = memo.check(*r.tenants, good, now);
  REQUIRE(k.status == key_check::valid);
  CHECK(k.key->tenant == "acme");
  k = memo.check(*r.tenants, good, now);  // recalled
  REQUIRE(k.status == key_check::valid);
  CHECK(k.key->tenant == "acme");
  // Another client's key on the same connection (a pooled front proxy), or one byte changed, at
  // either end: looked up, never taken for the remembered one.
  k = memo.check(*r.tenants, other, now);
  REQUIRE(k.status == key_check::valid);
  CHECK(k.key->tenant == "globex");
  for (const std::size_t at : {std::size_t{9}, good.size() - 1}) {
    (void)memo.check(*r.tenants, good, now);
    std::string near = good;
    near[at] = near[at] == 'A' ? 'B' : 'A';
    CHECK(memo.check(*r.tenants, near, now).status == key_check::unknown);
    CHECK(memo.check(*r.tenants, good.substr(0, good.size() - 1), now).status == key_check::malformed);
  }
  // A remembered key expires like any other.
  REQUIRE(memo.check(*r.tenants, soon, now).status == key_check::valid);
  CHECK(memo.check(*r.tenants, soon, *parse_time("2026-12-03T04:00:00Z")).status == key_check::expired);
  // A reload (a new table) that revokes the key: the memo of the old table does not answer for it.
  REQUIRE(memo.check(*r.tenants, good, now).status == key_check::valid);
  const load_result revoked = parse_tenants("tenants:\n  - name: acme\n  - name: globex\nkeys:\n" +
                                                key_line("acme", good, ", revoked: 2026-12-03T02:00:00Z"),
                                            "t.yaml");
  REQUIRE_MESSAGE(revoked.ok(), errors_of(revoked));
  CHECK(revoked.tenants->serial() != r.tenants->serial());
  CHECK(memo.check(*revoked.tenants, good, now).status == key_check::revoked);
  // A reload that removes the key: another key has its place in the new table, and is not taken
  // for it.
  REQUIRE(memo.check(*r.tenants, good, now).status == key_check::valid);
  const load_result removed = parse_tenants(
      "tenants:\n  - name: acme\n  - name: globex\nkeys:\n" + key_line("globex", other, ""), "t.yaml");
  REQUIRE_MESSAGE(removed.ok(), errors_of(removed));
  CHECK(memo.check(*removed.tenants, good, now).status == key_check::unknown);
}

TEST_CASE("tenants file: a certificate naming two tenants identifies nobody") {
  const load_result r = parse_tenants(
      "tenants:\n  - name: a\n    certificates: [{cn: x}]\n  - name: b\n    certificates: [{dns: "
      "y.example}]\n",
      "t.yaml");
  REQUIRE_MESSAGE(r.ok(), errors_of(r));
  bool ambiguous = false;
  CHECK(r.tenants->find_by_certificate({{subject_kind::cn, "x", {}}, {subject_kind::dns, "y.example", {}}},
                                       ambiguous) == nullptr);
  CHECK(ambiguous);
}

TEST_CASE("tenants file: every problem reported at file:line:col") {
  const std::string k = generate_key();
  struct row {
    std::string text;
    std::string error;
  };
  const row rows[] = {
      {"tenants:\n  - name: acme\n    colour: red\n", "t.yaml:3:5: error: unknown key 'colour' in a tenant"},
      {"tenants:\n  - name: 'a b'\n", "t.yaml:2:11: error: tenant name 'a b'"},
      {"tenants:\n  - name: a\n  - name: a\n", "t.yaml:3:5: error: tenant 'a' is declared twice"},
      {"tenants:\n  - certificates: []\n", "t.yaml:2:5: error: a tenant needs a name"},
      {"tenants:\n  - name: a\n    certificates: [{cn: x, dns: y}]\n",
       "t.yaml:3:20: error: a certificate subject names exactly one"},
      {"tenants:\n  - name: a\n    certificates: [{cn: x}]\n  - name: b\n    certificates: [{cn: x}]\n",
       "t.yaml:5:25: error: certificate cn 'x' is claimed by tenants 'a' and 'b'"},
      {"tenants:\n  - name: a\n    certificates: [{cn: \"a\\0b\"}]\n",
       "t.yaml:3:25: error: certificate cn must be"},
      {"tenants:\n  - name: a\nkeys:\n" + key_line("b", k),
       "t.yaml:4:5: error: key " + key_id_of(k) + " is for tenant 'b'"},
      // One copied entry is one mistake, one error (probe round 25: "id twice" and "same hash").
      {"tenants:\n  - name: a\nkeys:\n" + key_line("a", k) + key_line("a", k),
       "t.yaml:5:5: error: key " + key_id_of(k) + " appears twice (the same entry, copied)\n"},
      {"tenants:\n  - name: a\nkeys:\n  - {tenant: a, id: sk-sovgw-abcdefgh, hash: md5:00}\n",
       "t.yaml:4:46: error: hash must be blake2b-256:"},
      {"tenants:\n  - name: a\nkeys:\n" + key_line("a", k, ", expires: tomorrow"),
       "expires 'tomorrow' is not a UTC time"},
      {"tenants:\n  - name: a\nkeys:\n  - {tenant: a, hash: \"" + format_hash(hash_key(k)) + "\"}\n",
       "t.yaml:4:5: error: a key needs id"},
      {"tenants: [\n", "t.yaml:2:1: error: YAML syntax error: "},
      {"tenants:\n  - name: default\n", "t.yaml:2:11: error: tenant name 'default' is reserved"},
      {"tenants:\n\t- name: a\n",
       "t.yaml:2:1: error: YAML syntax error: illegal tab when looking for indentation"},
      {"tenants:\n  - name: a # caf\xe9\n", "t.yaml:2:18: error: byte 0xE9 is not UTF-8"},
      {"", "t.yaml: error: the tenants file is empty"},
  };
  for (const row& r : rows) {
    CAPTURE(r.text);
    const load_result res = parse_tenants(r.text, "t.yaml");
    CHECK_FALSE(res.ok());
    CHECK_MESSAGE(errors_of(res).find(r.error) != std::string::npos, errors_of(res));
  }
  const load_result copied =
      parse_tenants("tenants:\n  - name: a\nkeys:\n" + key_line("a", k) + key_line("a", k), "t.yaml");
  CHECK(errors_of(copied) ==
        "t.yaml:5:5: error: key " + key_id_of(k) + " appears twice (the same entry, copied)\n");
}

TEST_CASE("times and text checks") {
  CHECK(parse_time("2026-12-03T03:02:00Z") == 1796266920);
  CHECK(format_time(1796266920) == "2026-12-03T03:02:00Z");
  CHECK_FALSE(parse_time("2026-02-31T00:00:00Z"));
  CHECK_FALSE(parse_time("2026-12-03 03:02:00Z"));
  CHECK(valid_utf8("acme é ✓ 😀"));
  CHECK_FALSE(valid_utf8("\xc0\x80"));      // overlong NUL
  CHECK_FALSE(valid_utf8("\xed\xa0\x80"));  // surrogate
  CHECK_FALSE(valid_utf8("ab\xe2\x9c"));    // truncated
  CHECK_FALSE(valid_utf8("\xff"));
  CHECK(valid_tenant_name("acme-eu.prod_1"));
  CHECK_FALSE(valid_tenant_name("-acme"));
  CHECK_FALSE(valid_tenant_name(std::string(65, 'a')));
}

TEST_CASE("tenants file: limits") {
  const load_result ok = parse_tenants(
      "tenants:\n  - name: a\n    limits: {requests_per_minute: 60, tokens_per_minute: 1000, "
      "tokens_per_month: 5}\n",
      "t.yaml");
  REQUIRE_MESSAGE(ok.ok(), errors_of(ok));
  CHECK(ok.tenants->tenants()[0].limits.requests_per_minute == 60);
  CHECK(ok.tenants->tenants()[0].limits.tokens_per_month == 5);
  const load_result bad =
      parse_tenants("tenants:\n  - name: a\n    limits: {requests_per_minute: 0, rpm: 1}\n", "t.yaml");
  CHECK(errors_of(bad).find("t.yaml:3:35: error: limits.requests_per_minute must be a whole number") !=
        std::string::npos);
  CHECK(errors_of(bad).find("t.yaml:3:38: error: unknown key 'rpm' in limits") != std::string::npos);
}

TEST_CASE("tenants file: a key's own limits") {
  const std::string key = generate_key();
  const load_result ok = parse_tenants(
      "tenants:\n  - name: a\nkeys:\n" + key_line("a", key, ", limits: {tokens_per_minute: 10}"), "t.yaml");
  REQUIRE_MESSAGE(ok.ok(), errors_of(ok));
  CHECK(ok.tenants->keys()[0].limits.tokens_per_minute == 10);
  CHECK(ok.tenants->keys()[0].limits.requests_per_minute == 0);
  const load_result bad =
      parse_tenants("tenants:\n  - name: a\nkeys:\n" + key_line("a", key, ", limits: {tpm: 10}") +
                        key_line("a", generate_key(), ", limits: {}"),
                    "t.yaml");
  CHECK(errors_of(bad).find("t.yaml:4:") != std::string::npos);
  CHECK(errors_of(bad).find("error: unknown key 'tpm' in limits") != std::string::npos);
  CHECK(errors_of(bad).find("t.yaml:5:") != std::string::npos);
  CHECK(errors_of(bad).find("error: limits sets no limit") != std::string::npos);
}

TEST_CASE("tenants file: model limits, exact names or globs, the first match wins") {
  const load_result ok = parse_tenants(
      "tenants:\n"
      "  - name: a\n"
      "    model_limits:\n"
      "      gpt-4o-mini: {requests_per_minute: 100}\n"
      "      \"gpt-4o*\": {tokens_per_month: 5000}\n"
      "      \"*\": {tokens_per_minute: 7}\n",
      "t.yaml");
  REQUIRE_MESSAGE(ok.ok(), errors_of(ok));
  const tenant& t = ok.tenants->tenants()[0];
  REQUIRE(t.model_limits.size() == 3);
  REQUIRE(t.model_rule("gpt-4o-mini") != nullptr);
  CHECK(t.model_rule("gpt-4o-mini")->limits.requests_per_minute == 100);
  CHECK(t.model_rule("gpt-4o-2024-08-06")->model.text() == "gpt-4o*");
  CHECK(t.model_rule("mistral-large")->limits.tokens_per_minute == 7);
  CHECK(t.model_rule("mistral-large")->pos.line == 6);

  const load_result none =
      parse_tenants("tenants:\n  - name: a\n    model_limits: {m: {tokens_per_month: 1}}\n", "t.yaml");
  REQUIRE(none.ok());
  CHECK(none.tenants->tenants()[0].model_rule("other") == nullptr);
}

TEST_CASE("tenants file: bad model limits reported at file:line:col") {
  const load_result bad = parse_tenants(
      "tenants:\n"
      "  - name: a\n"
      "    model_limits:\n"
      "      \"gpt-*\": {tokens_per_month: 5}\n"
      "      gpt-4o: {tokens_per_month: 5}\n"
      "      \"gpt-*\": {requests_per_minute: 1}\n"
      "      \"\": {requests_per_minute: 1}\n"
      "      m: {tokens_per_month: -1, rpm: 2}\n"
      "      n: {}\n"
      "  - name: b\n"
      "    model_limits: [gpt-4o]\n",
      "t.yaml");
  CHECK_FALSE(bad.ok());
  const std::string e = errors_of(bad);
  CHECK(e.find("t.yaml:5:7: error: model_limits 'gpt-4o' never applies: 'gpt-*' (line 4) matches it first") !=
        std::string::npos);
  CHECK(e.find("t.yaml:6:7: error: model_limits names 'gpt-*' twice, first at line 4") != std::string::npos);
  CHECK(e.find("t.yaml:7:7: error: a model_limits key must be a model name or glob") != std::string::npos);
  CHECK(e.find("t.yaml:8:29: error: model_limits 'm'.tokens_per_month must be a whole number") !=
        std::string::npos);
  CHECK(e.find("t.yaml:8:33: error: unknown key 'rpm' in model_limits 'm'") != std::string::npos);
  CHECK(e.find("t.yaml:9:10: error: model_limits 'n' sets no limit") != std::string::npos);
  CHECK(e.find("t.yaml:11:19: error: model_limits must be a mapping") != std::string::npos);
}

TEST_CASE("model limits match a model name whatever its case") {
  const load_result r = parse_tenants(
      "tenants:\n"
      "  - name: a\n"
      "    model_limits:\n"
      "      \"gpt-4o*\": {tokens_per_month: 5}\n"
      "      \"Meta-Llama/*\": {tokens_per_month: 6}\n",
      "t.yaml");
  REQUIRE(r.ok());
  const tenant& t = *r.tenants->find_tenant("a");
  for (const char* model : {"gpt-4o", "GPT-4O-mini", "Gpt-4o"}) {
    CAPTURE(model);
    REQUIRE(t.model_rule(model) != nullptr);
    CHECK(t.model_rule(model)->model.text() == "gpt-4o*");
  }
  REQUIRE(t.model_rule("meta-llama/llama-3.1-8b") != nullptr);
  CHECK(t.model_rule("meta-llama/llama-3.1-8b")->model.text() == "Meta-Llama/*");
  CHECK(t.model_rule("mistral-small") == nullptr);
  const load_result twice = parse_tenants(
      "tenants:\n  - name: a\n    model_limits:\n      gpt-4o: {tokens_per_month: 5}\n"
      "      GPT-4O: {tokens_per_month: 6}\n",
      "t.yaml");
  CHECK(errors_of(twice).find("t.yaml:5:7: error: model_limits names 'GPT-4O' twice") != std::string::npos);
}

TEST_CASE("model limits match a model by its base name, whatever alias a client writes") {
  // Ollama serves llama3, llama3:latest, library/llama3 and registry.ollama.ai/library/llama3 as one model;
  // LiteLLM serves openai/llama3 as llama3 at that provider.
  const load_result r = parse_tenants(
      "tenants:\n"
      "  - name: a\n"
      "    model_limits:\n"
      "      llama3: {tokens_per_month: 5}\n"
      "      \"library/mistral:latest\": {tokens_per_month: 6}\n",
      "t.yaml");
  REQUIRE_MESSAGE(r.ok(), errors_of(r));
  const tenant& t = *r.tenants->find_tenant("a");
  for (const char* model :
       {"llama3", "llama3:latest", "LLAMA3:Latest", "library/llama3", "openai/llama3", "meta/Llama3",
        "llama3@sha256:0123abcd", "openrouter/llama3:free", "meta/llama3/",
        "registry.ollama.ai/library/llama3:latest", "https://registry.ollama.ai/library/llama3",
        // A snapshot or a fine-tune of it (probe round 39).
        "llama3-latest", "llama3-2407", "ft:llama3:acme::x"}) {
    CAPTURE(model);
    REQUIRE(t.model_rule(model) != nullptr);
    CHECK(t.model_rule(model)->model.text() == "llama3");
  }
  for (const char* model : {"mistral", "mistral:latest"}) {
    CAPTURE(model);
    REQUIRE(t.model_rule(model) != nullptr);
    CHECK(t.model_rule(model)->model.text() == "library/mistral:latest");
  }
  for (const char* model : {"llama3:70b", "llama3-70b", ":latest", "llama3/x"}) {
    CAPTURE(model);
    CHECK(t.model_rule(model) == nullptr);
  }
  // A provider's spelling is a limit of its own: openai/gpt-4o's is not azure/gpt-4o's.
  const load_result providers = parse_tenants(
      "tenants:\n  - name: a\n    model_limits:\n      openai/gpt-4o: {tokens_per_month: 5}\n"
      "      azure/gpt-4o: {tokens_per_month: 6}\n",
      "t.yaml");
  REQUIRE_MESSAGE(providers.ok(), errors_of(providers));
  const tenant& p = *providers.tenants->find_tenant("a");
  CHECK(p.model_rule("azure/gpt-4o")->model.text() == "azure/gpt-4o");
  CHECK(p.model_rule("gpt-4o") == nullptr);
  const load_result twice = parse_tenants(
      "tenants:\n  - name: a\n    model_limits:\n      llama3: {tokens_per_month: 5}\n"
      "      llama3:latest: {tokens_per_month: 6}\n",
      "t.yaml");
  CHECK(errors_of(twice).find("t.yaml:5:7: error: model_limits names 'llama3:latest' twice, first at line 4 (a "
                              "model matches whatever its case, and by its base name: 'llama3' for every alias)") !=
        std::string::npos);
}

TEST_CASE("tenants file: mistakes that used to pass (probe F16)") {
  const std::string key = generate_key();
  const load_result bad = parse_tenants(
      "tenants:\n"
      "  - name: acme\n"
      "    certificates: [{dns: App.Acme.example}]\n"
      "    model_limits:\n"
      "      \"*\": {tokens_per_month: 5}\n"
      "      \"gpt-*\": {tokens_per_month: 9}\n"
      "  - name: ACME\n"
      "    certificates: [{dns: app.acme.example}]\n"
      "keys:\n"
      "  - {tenant: acme, id: " +
          key_id_of(key) + ", hash: \"" + format_hash(hash_key(key)) +
          "\", created: 2026-12-01T00:00:00Z, expires: 2026-11-01T00:00:00Z, revoked: "
          "2026-10-01T00:00:00Z}\n",
      "t.yaml");
  CHECK_FALSE(bad.ok());
  CHECK(
      errors_of(bad) ==
      "t.yaml:6:7: error: model_limits 'gpt-*' never applies: '*' (line 5) matches every model it does "
      "first\n"
      "t.yaml:10:169: error: key " +
          key_id_of(key) +
          " expires before it was created\n"
          "t.yaml:10:200: error: key " +
          key_id_of(key) +
          " was revoked before it was created\n"
          "t.yaml:7:5: error: tenant 'ACME' differs from 'acme' (line 2) only in case: name them apart\n"
          "t.yaml:8:26: error: certificate dns 'app.acme.example' is claimed by tenants 'acme' and 'ACME'\n");
}

TEST_CASE("tenants file: a DNS name identifies its tenant whatever its case") {
  const load_result r =
      parse_tenants("tenants:\n  - name: acme\n    certificates: [{dns: App.Acme.example}]\n", "t");
  REQUIRE(r.ok());
  bool ambiguous = false;
  const tenant* t = r.tenants->find_by_certificate({{subject_kind::dns, "app.ACME.example", {}}}, ambiguous);
  REQUIRE(t != nullptr);
  CHECK(t->name == "acme");
  CHECK(r.tenants->find_by_certificate({{subject_kind::cn, "app.acme.example", {}}}, ambiguous) == nullptr);
}

TEST_CASE("tenants file: mistakes that used to pass or were misnamed (probe round 39)") {
  const std::string key = generate_key();
  // The reserved name in any case: `Default` could not be told from `default` in a report either.
  for (const char* name : {"Default", "DEFAULT", "dEfAuLt"}) {
    CAPTURE(name);
    const load_result r = parse_tenants(std::string("tenants:\n  - name: ") + name + "\n", "t.yaml");
    CHECK_FALSE(r.ok());
    CHECK(errors_of(r).find(std::string("t.yaml:2:11: error: tenant name '") + name + "' is reserved") !=
          std::string::npos);
  }
  // Expiring when it is created is not expiring before.
  const load_result at_creation = parse_tenants(
      "tenants:\n  - name: acme\nkeys:\n" + key_line("acme", key, ", expires: 2026-12-01T00:00:00Z"),
      "t.yaml");
  CHECK(errors_of(at_creation).find("key " + key_id_of(key) + " expires when it is created") !=
        std::string::npos);
  // One key under two tenants is not "the same entry, copied": both tenants named.
  const load_result two_tenants = parse_tenants(
      "tenants:\n  - name: acme\n  - name: globex\nkeys:\n" + key_line("acme", key) + key_line("globex", key),
      "t.yaml");
  CHECK(errors_of(two_tenants) == "t.yaml:6:5: error: key " + key_id_of(key) +
                                      " appears twice, for tenants 'acme' (line 5) and 'globex': a key "
                                      "identifies one tenant; remove the wrong entry\n");
}

TEST_CASE("a key entry whose id is not its key's is refused at use, not accounted under that id") {
  // Probe round 39: an entry with another key's id (a copy-paste) served its key under the wrong
  // key_id in logs, metrics, audit and the shared store's counts.
  const std::string key = generate_key();
  const std::string other = generate_key();
  std::string line = key_line("acme", key);
  line.replace(line.find(key_id_of(key)), 17, key_id_of(other));
  const load_result r = parse_tenants("tenants:\n  - name: acme\nkeys:\n" + line, "t.yaml");
  REQUIRE_MESSAGE(r.ok(), errors_of(r));  // the file cannot tell: it holds no key, only hashes
  const key_lookup k = r.tenants->check_key(key, *parse_time("2026-12-03T00:00:00Z"));
  CHECK(k.status != key_check::valid);
  REQUIRE(k.key != nullptr);  // the entry, so that the gateway can name its line
  CHECK(k.key->id == key_id_of(other));
  CHECK(k.key->pos.line == 4);
  key_memo memo;
  CHECK(memo.check(*r.tenants, key, *parse_time("2026-12-03T00:00:00Z")).status != key_check::valid);
}
