// The sovgw signature profile (crypto/signature_profile.hpp) and the nonce cache: forwarded
// requests as a cluster verifies them, receipts as a client verifies them offline.

#include "crypto/signature_profile.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "crypto/content_digest.hpp"
#include "crypto/jwk.hpp"
#include "crypto/nonce_cache.hpp"

namespace c = sovgw::crypto;
namespace hs = sovgw::crypto::httpsig;

TEST_CASE("nonces are 128 random bits, never repeated, across the pool's refills") {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {  // ~15 refills of the per-thread pool
    const std::string n = hs::make_nonce();
    CHECK(n.size() == 22);  // 16 bytes, base64url without padding
    CHECK(n.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
          std::string::npos);
    CHECK(seen.insert(n).second);
  }
}

TEST_CASE("the nonce cache refuses replays, forgets what left the window, never says fresh for a replay") {
  c::nonce_cache cache(3, 100);
  CHECK(cache.check("k", "a", 1000, 1000) == hs::nonce_check::fresh);
  CHECK(cache.check("k", "a", 1000, 1001) == hs::nonce_check::replayed);
  CHECK(cache.check("other-key", "a", 1000, 1001) == hs::nonce_check::fresh);  // scoped by keyid
  CHECK(cache.check("k", "b", 1001, 1001) == hs::nonce_check::fresh);
  CHECK(cache.size() == 3);
  // Full: the oldest (created 1000) is evicted and becomes the floor.
  CHECK(cache.check("k", "c", 1002, 1002) == hs::nonce_check::fresh);
  CHECK(cache.size() == 3);
  CHECK(cache.check("k", "a", 1000, 1002) == hs::nonce_check::unverifiable);  // could be a replay
  CHECK(cache.check("k", "d", 1000, 1002) == hs::nonce_check::unverifiable);
  CHECK(cache.check("k", "b", 1001, 1002) == hs::nonce_check::replayed);
  // Older than the window: not remembered, not accepted.
  CHECK(cache.check("k", "e", 1002 - 101, 1002) == hs::nonce_check::unverifiable);
  // Time passes: everything created before now - window is dropped.
  CHECK(cache.check("k", "f", 1200, 1200) == hs::nonce_check::fresh);
  CHECK(cache.size() == 1);
  CHECK_THROWS_AS(c::nonce_cache(0, 10), std::invalid_argument);
}

namespace {

std::span<const std::uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// A request as the gateway forwards it: fields it sends, body, and its signature fields.
struct forwarded {
  std::vector<std::pair<std::string, std::string>> fields;
  std::vector<hs::field_line> lines;
  std::string method = "POST";
  std::string target = "/v1/chat/completions";
  std::string authority = "cluster.example:9443";
  std::string body = R"({"model":"mistral-small","messages":[{"role":"user","content":"Bonjour"}]})";
  hs::message_view view;

  forwarded() {
    fields = {{"Host", authority},
              {"Content-Type", "application/json"},
              {"Content-Length", std::to_string(body.size())},
              {"Content-Digest", c::content_digest(std::string_view(body))},
              {"Sovereign-Request-Id", "\"req-7\""},
              {"Sovereign-Client-Country", "FR;method=geoip-socket"},
              {"Sovereign-Policy-Version", "\"2026-12-01.3\""},
              {"Sovereign-Decision", "permit;rules=(\"eu-only\")"}};
    rebuild();
  }
  forwarded(const forwarded& o)
      : fields(o.fields), method(o.method), target(o.target), authority(o.authority), body(o.body) {
    rebuild();
  }

  void rebuild() {
    lines.clear();
    for (const auto& [n, v] : fields) {
      lines.push_back({n, v});
    }
    view = {};
    view.method = method;
    view.authority = authority;
    view.set_target(target);
    view.fields = lines;
  }
  void set(const std::string& name, std::optional<std::string> value) {
    for (auto it = fields.begin(); it != fields.end(); ++it) {
      if (it->first == name) {
        if (value) {
          it->second = *value;
        } else {
          fields.erase(it);
        }
        rebuild();
        return;
      }
    }
    if (value) {
      fields.emplace_back(name, *value);
    }
    rebuild();
  }
  void sign(const hs::signing_key& key, std::int64_t created, std::string nonce) {
    const auto s = hs::sign_forwarded_request(view, key, {created, 60, std::move(nonce)});
    REQUIRE(s.ok());
    fields.emplace_back("Signature-Input", s.fields.signature_input);
    fields.emplace_back("Signature", s.fields.signature);
    rebuild();
  }
};

struct cluster {
  c::ed25519_key_pair pair = c::ed25519_generate_key_pair();
  std::string keyid = c::ed25519_jwk_thumbprint(pair.public_key);
  hs::signing_key key = hs::signing_key::ed25519(keyid, pair.secret_key.clone());
  hs::verification_key public_key = hs::verification_key::ed25519(keyid, pair.public_key);
  c::nonce_cache nonces{1000, 330};
  std::int64_t now = 1'800'000'000;
  std::vector<std::string> allowed;  // allowed_uncovered

  hs::request_verifier verifier() {
    hs::request_verifier v;
    v.allowed_uncovered = allowed;
    v.resolve_key = [this](std::string_view id) { return id == keyid ? &public_key : nullptr; };
    v.now = [this] { return now; };
    v.nonces = &nonces;
    return v;
  }
  hs::verify_result check(const forwarded& r) {
    return hs::verify_forwarded_request(r.view, bytes(r.body), verifier());
  }
};

}  // namespace

TEST_CASE("the gateway covers method, authority, path, query and every field it sends but the framing ones") {
  forwarded r;
  r.fields.emplace_back("X-Other", "covered too");
  r.fields.emplace_back("sovereign-request-id", "\"second line\"");
  r.fields.emplace_back("Connection", "keep-alive");
  r.fields.emplace_back("Idempotency-Key", "0123456789abcdef.abc");
  r.rebuild();
  std::vector<std::string> names;
  for (const auto& comp : hs::forwarded_request_components(r.view)) {
    names.push_back(comp.identifier());
  }
  // Message order, each name once; not Host ("@authority"), Content-Length, Connection.
  CHECK(names == std::vector<std::string>{"\"@method\"", "\"@authority\"", "\"@path\"", "\"@query\"",
                                          "\"content-type\"", "\"content-digest\"",
                                          "\"sovereign-request-id\"", "\"sovereign-client-country\"",
                                          "\"sovereign-policy-version\"", "\"sovereign-decision\"",
                                          "\"x-other\"", "\"idempotency-key\""});
  cluster k;
  r.sign(k.key, k.now, "n1");
  const std::string& input = r.fields[r.fields.size() - 2].second;
  CHECK(input.starts_with("sovgw=(\"@method\" \"@authority\" \"@path\" \"@query\" \"content-type\""));
  CHECK(input.ends_with(";created=1800000000;expires=1800000060;keyid=\"" + k.keyid +
                        "\";alg=\"ed25519\";nonce=\"n1\";tag=\"sovgw-request\""));
}

TEST_CASE("the gateway's own account of the client and the request id are covered when written") {
  forwarded r;
  r.fields.emplace_back("X-Forwarded-For", "192.0.2.7");
  r.fields.emplace_back("Forwarded", "for=192.0.2.7;proto=https");
  r.fields.emplace_back("X-Forwarded-Proto", "https");
  r.fields.emplace_back("X-Request-Id", "0123456789abcdef0123456789abcdef");
  r.rebuild();
  std::vector<std::string> names;
  for (const auto& comp : hs::forwarded_request_components(r.view)) {
    names.push_back(comp.identifier());
  }
  for (const char* name :
       {"\"x-forwarded-for\"", "\"forwarded\"", "\"x-forwarded-proto\"", "\"x-request-id\""}) {
    CHECK(std::find(names.begin(), names.end(), name) != names.end());
  }
  cluster k;
  r.sign(k.key, k.now, "n2");
  CHECK(k.check(r).ok());
  for (const auto& [field, value] :
       {std::pair{"X-Forwarded-For", "5.255.255.5"}, std::pair{"Forwarded", "for=5.255.255.5;proto=https"},
        std::pair{"X-Request-Id", "ffffffffffffffffffffffffffffffff"}}) {
    CAPTURE(field);
    forwarded changed = r;
    changed.set(field, value);
    CHECK(k.check(changed).failure == hs::verify_failure::bad_signature);
  }
}

TEST_CASE("a cluster accepts a forwarded request only as the gateway signed it") {
  cluster k;
  struct row {
    const char* what;
    std::function<void(forwarded&)> before_signing;
    std::function<void(forwarded&)> after_signing;
    std::function<void(cluster&)> at_cluster;
    hs::verify_failure expected;
    const char* detail;
  };
  const auto nothing = [](forwarded&) {};
  const auto same_clock = [](cluster&) {};
  const std::vector<row> rows = {
      {"as signed", nothing, nothing, same_clock, hs::verify_failure::none, ""},
      {"a request without a body",
       [](forwarded& r) {
         r.method = "GET";
         r.target = "/v1/models?limit=5";
         r.body.clear();
         r.set("Content-Digest", std::nullopt);
         r.set("Content-Type", std::nullopt);
         r.set("Content-Length", std::nullopt);
       },
       nothing, same_clock, hs::verify_failure::none, ""},
      {"unsigned", nothing,
       [](forwarded& r) {
         r.set("Signature", std::nullopt);
         r.set("Signature-Input", std::nullopt);
       },
       same_clock, hs::verify_failure::missing_signature, "Signature-Input"},
      {"body changed after signing", nothing, [](forwarded& r) { r.body[10] = 'X'; }, same_clock,
       hs::verify_failure::content_digest_mismatch, ""},
      {"digest replaced to match the new body", nothing,
       [](forwarded& r) {
         r.body += " ";
         r.set("Content-Digest", c::content_digest(std::string_view(r.body)));
       },
       same_clock, hs::verify_failure::bad_signature, "sovgw"},
      {"a Sovereign field dropped", nothing, [](forwarded& r) { r.set("Sovereign-Decision", std::nullopt); },
       same_clock, hs::verify_failure::component_unavailable, "\"sovereign-decision\""},
      {"a Sovereign field changed", nothing, [](forwarded& r) { r.set("Sovereign-Client-Country", "US"); },
       same_clock, hs::verify_failure::bad_signature, "sovgw"},
      {"a Sovereign field added", nothing, [](forwarded& r) { r.set("Sovereign-Data-Class", "public"); },
       same_clock, hs::verify_failure::uncovered_field, "sovereign-data-class"},
      {"a Sovereign field added with underscores (CGI, WSGI, Rack read it as Sovereign-Client-Country)",
       nothing, [](forwarded& r) { r.set("Sovereign_Client_Country", "RU"); }, same_clock,
       hs::verify_failure::uncovered_field, "sovereign_client_country"},
      {"a field added that reads as a covered one with `_` as `-`", nothing,
       [](forwarded& r) { r.set("Content_Digest", c::content_digest(std::string_view("other"))); },
       same_clock, hs::verify_failure::uncovered_field, "content_digest"},
      // Probe round 28: the two lines verify as the one value signed (RFC 9421 joins them), but an
      // application reading the first line would see only `permit`'s first rule.
      {"a covered field split into two lines",
       [](forwarded& r) { r.set("Sovereign-Data-Classes", "declared=(), detected=(\"personal\")"); },
       [](forwarded& r) {
         r.set("Sovereign-Data-Classes", "declared=()");
         r.fields.emplace_back("Sovereign-Data-Classes", "detected=(\"personal\")");
         r.rebuild();
       },
       same_clock, hs::verify_failure::repeated_field, "sovereign-data-classes"},
      {"a field that reads as Content-Type on a request sent without one",
       [](forwarded& r) {
         r.method = "GET";
         r.body.clear();
         r.set("Content-Digest", std::nullopt);
         r.set("Content-Type", std::nullopt);
         r.set("Content-Length", std::nullopt);
       },
       [](forwarded& r) { r.set("Content_Type", "text/plain"); }, same_clock,
       hs::verify_failure::uncovered_field, "content_type"},
      // The closed world: whatever a cluster reads was signed (probe round 42).
      {"any other field added after signing", nothing,
       [](forwarded& r) { r.set("X-HTTP-Method-Override", "DELETE"); }, same_clock,
       hs::verify_failure::uncovered_field, "x-http-method-override"},
      {"another field with underscores added", nothing, [](forwarded& r) { r.set("X_Trace_Id", "abc"); },
       same_clock, hs::verify_failure::uncovered_field, "x_trace_id"},
      {"a field the verifier's operator allows added", nothing,
       [](forwarded& r) { r.set("X-LB-Trace", "abc"); }, [](cluster& c) { c.allowed = {"x-lb-trace"}; },
       hs::verify_failure::none, ""},
      {"an allowed name that reads as a Sovereign field", nothing,
       [](forwarded& r) { r.set("Sovereign_Tenant", ":AAAA:"); },
       [](cluster& c) { c.allowed = {"Sovereign_Tenant"}; }, hs::verify_failure::uncovered_field,
       "sovereign_tenant"},
      {"framing fields added", nothing,
       [](forwarded& r) {
         r.set("Connection", "keep-alive");
         r.set("TE", "trailers");
         r.set("Keep-Alive", "timeout=5");
       },
       same_clock, hs::verify_failure::none, ""},
      // Probe round 45: a next hop removes what Connection names, after the check.
      {"Connection naming covered fields", nothing,
       [](forwarded& r) { r.set("Connection", "keep-alive, Sovereign-Cluster, Content-Type"); }, same_clock,
       hs::verify_failure::uncovered_field, "connection: sovereign-cluster"},
      {"Connection naming an absent field", nothing, [](forwarded& r) { r.set("Connection", "X-Foo"); },
       same_clock, hs::verify_failure::uncovered_field, "connection: x-foo"},
      {"a covered client field changed",
       [](forwarded& r) { r.set("Idempotency-Key", "0123456789abcdef.abc"); },
       [](forwarded& r) { r.set("Idempotency-Key", "ffffffffffffffff.abc"); }, same_clock,
       hs::verify_failure::bad_signature, "sovgw"},
      {"a required Sovereign field never sent",
       [](forwarded& r) { r.set("Sovereign-Policy-Version", std::nullopt); }, nothing, same_clock,
       hs::verify_failure::missing_required_component, "\"sovereign-policy-version\""},
      {"a body with no digest", [](forwarded& r) { r.set("Content-Digest", std::nullopt); }, nothing,
       same_clock, hs::verify_failure::content_digest_missing, "content-digest"},
      {"a digest with no known algorithm",
       [](forwarded& r) { r.set("Content-Digest", "md5=:Sd/dVLAcvNLSq16eXua5uQ==:"); }, nothing, same_clock,
       hs::verify_failure::content_digest_malformed, "md5=:Sd/dVLAcvNLSq16eXua5uQ==:"},
      {"the query changed", nothing,
       [](forwarded& r) {
         r.target += "?stream=true";
         r.rebuild();
       },
       same_clock, hs::verify_failure::bad_signature, "sovgw"},
      {"sent to another cluster", nothing,
       [](forwarded& r) {
         r.authority = "other.example:9443";
         r.rebuild();
       },
       same_clock, hs::verify_failure::bad_signature, "sovgw"},
      {"an old created", nothing, nothing, [](cluster& c) { c.now += 301; }, hs::verify_failure::too_old,
       "1800000000"},
      {"created in the future", nothing, nothing, [](cluster& c) { c.now -= 31; },
       hs::verify_failure::created_in_future, "1800000000"},
      {"another gateway's key", nothing, nothing,
       [](cluster& c) {
         c.public_key = hs::verification_key::ed25519(c.keyid, c::ed25519_generate_key_pair().public_key);
       },
       hs::verify_failure::bad_signature, "sovgw"},
  };
  int nonce = 0;
  for (const row& r : rows) {
    INFO(std::string(r.what));
    k.now = 1'800'000'000;
    forwarded req;
    r.before_signing(req);
    req.sign(k.key, k.now, "nonce-" + std::to_string(++nonce));
    r.after_signing(req);
    k.public_key = hs::verification_key::ed25519(k.keyid, k.pair.public_key);
    k.allowed.clear();
    r.at_cluster(k);
    const auto verdict = k.check(req);
    CHECK(hs::to_string(verdict.failure) == std::string(hs::to_string(r.expected)));
    if (r.expected != hs::verify_failure::none && r.expected != hs::verify_failure::content_digest_mismatch) {
      CHECK(verdict.detail == r.detail);
    }
  }
}

TEST_CASE("a replayed request is refused, and a request that failed does not burn its nonce") {
  cluster k;
  forwarded req;
  req.sign(k.key, k.now, "once");
  CHECK(k.check(req).ok());
  const auto again = k.check(req);
  CHECK(again.failure == hs::verify_failure::replayed_nonce);
  CHECK(again.detail == "once");

  forwarded tampered;
  tampered.sign(k.key, k.now, "twice");
  tampered.body += "!";
  CHECK(k.check(tampered).failure == hs::verify_failure::content_digest_mismatch);
  tampered.body.pop_back();
  CHECK(k.check(tampered).ok());
}

TEST_CASE("a cluster that knows its name refuses a request signed for another cluster") {
  cluster k;
  const auto check_as = [&](const forwarded& r, const std::string& name) {
    hs::request_verifier v = k.verifier();
    v.cluster = name;
    return hs::verify_forwarded_request(r.view, bytes(r.body), v);
  };
  int nonce = 0;
  const auto signed_for = [&](std::optional<std::string> sovereign_cluster) {
    forwarded r;
    r.set("Sovereign-Cluster", std::move(sovereign_cluster));
    r.sign(k.key, k.now, "n" + std::to_string(++nonce));
    return r;
  };
  CHECK(check_as(signed_for("\"paris\""), "paris").ok());
  const auto berlin = check_as(signed_for("\"berlin\""), "paris");
  CHECK(berlin.failure == hs::verify_failure::wrong_cluster);
  CHECK(berlin.detail == "\"berlin\"");
  CHECK(std::string(hs::to_string(berlin.failure)) == "wrong_cluster");
  // Not a String, a String with parameters, a prefix: not the name.
  for (const char* other : {"paris", "\"paris\";x=1", "\"pari\"", "\"paris-2\"", "\"Paris\""}) {
    INFO(other);
    CHECK(check_as(signed_for(other), "paris").failure == hs::verify_failure::wrong_cluster);
  }
  // Not covered at all: the signature must name the cluster.
  const auto unnamed = check_as(signed_for(std::nullopt), "paris");
  CHECK(unnamed.failure == hs::verify_failure::missing_required_component);
  CHECK(unnamed.detail == "\"sovereign-cluster\"");
  // A verifier that was not told its name accepts any cluster (docs/signatures.md says why not to).
  CHECK(check_as(signed_for("\"berlin\""), "").ok());
  CHECK(check_as(signed_for(std::nullopt), "").ok());
  // A refused request does not burn its nonce.
  const forwarded later = signed_for("\"paris\"");
  CHECK(check_as(later, "berlin").failure == hs::verify_failure::wrong_cluster);
  CHECK(check_as(later, "paris").ok());
}

TEST_CASE("a request covering more than the profile's minimum is accepted (forwarding fields)") {
  cluster k;
  forwarded r;
  r.set("Sovereign-Cluster", "\"paris\"");
  r.set("X-Forwarded-For", "192.0.2.7");
  r.set("Forwarded", "for=192.0.2.7;proto=https");
  r.set("X-Forwarded-Proto", "https");
  r.set("X-Request-Id", "req-7");
  hs::signature_params p;
  p.covered = hs::forwarded_request_components(r.view);
  for (const char* name : {"x-forwarded-for", "forwarded", "x-forwarded-proto", "x-request-id"}) {
    const hs::component c = hs::component::field(name);
    if (std::none_of(p.covered.begin(), p.covered.end(),
                     [&](const hs::component& d) { return d.identifier() == c.identifier(); })) {
      p.covered.push_back(c);  // the profile covers them since the gateway writes them signed
    }
  }
  p.created = k.now;
  p.expires = k.now + 60;
  p.keyid = k.keyid;
  p.alg = "ed25519";
  p.nonce = "more";
  p.tag = std::string(hs::request_tag);
  const auto s = hs::sign(r.view, hs::request_label, p, k.key);
  REQUIRE(s.ok());
  r.fields.emplace_back("Signature-Input", s.fields.signature_input);
  r.fields.emplace_back("Signature", s.fields.signature);
  r.rebuild();
  hs::request_verifier v = k.verifier();
  v.cluster = "paris";
  CHECK(hs::verify_forwarded_request(r.view, bytes(r.body), v).ok());
  // ... and a covered forwarding field changed after signing breaks the signature.
  r.set("X-Forwarded-For", "203.0.113.9");
  CHECK(hs::verify_forwarded_request(r.view, bytes(r.body), v).failure == hs::verify_failure::bad_signature);
}

TEST_CASE("hmac-sha256 per cluster: the keyid is derived from the secret on both sides") {
  c::secret_bytes secret(32);
  c::random_bytes(secret.mutable_view());
  const std::string keyid = hs::hmac_keyid(secret);
  CHECK(keyid.starts_with("hmac-"));
  CHECK(keyid.size() == 5 + 22);
  c::secret_bytes other(32);
  CHECK(hs::hmac_keyid(other) != keyid);
  const auto key = hs::signing_key::hmac_sha256(keyid, secret.clone());
  const auto shared = hs::verification_key::hmac_sha256(keyid, secret.clone());
  c::nonce_cache nonces(10, 330);
  forwarded req;
  req.sign(key, 1'800'000'000, "n");
  CHECK(req.fields[req.fields.size() - 2].second.find(";alg=\"hmac-sha256\";") != std::string::npos);
  hs::request_verifier v;
  v.resolve_key = [&](std::string_view id) { return id == keyid ? &shared : nullptr; };
  v.now = [] { return std::int64_t{1'800'000'010}; };
  v.nonces = &nonces;
  CHECK(hs::verify_forwarded_request(req.view, bytes(req.body), v).ok());
}

namespace {

struct exchange {
  // The client's request to the gateway, and the response head the gateway returns.
  std::vector<hs::field_line> request_fields = {
      {"Host", "gateway.example"},
      {"Content-Type", "application/json"},
      {"Content-Digest", "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"}};
  std::vector<std::pair<std::string, std::string>> response_text = {
      {"Content-Type", "text/event-stream"},
      {"Sovereign-Request-Id", "\"req-7\""},
      {"Sovereign-Cluster", "\"paris-1\""},
      {"Sovereign-Cluster-Country", "FR"},
      {"Sovereign-Policy-Version", "\"2026-12-01.3\""},
      {"Sovereign-Decision", "permit"}};
  std::vector<hs::field_line> response_fields;
  hs::message_view request;
  hs::message_view response;

  exchange() {
    request.method = "POST";
    request.authority = "gateway.example";
    request.set_target("/v1/chat/completions");
    request.fields = request_fields;
    response.status = 200;
    rebuild();
  }
  void rebuild() {
    response_fields.clear();
    for (const auto& [n, v] : response_text) {
      response_fields.push_back({n, v});
    }
    response.fields = response_fields;
  }
};

}  // namespace

TEST_CASE("a receipt binds the response's Sovereign fields and status to the client's request") {
  cluster k;
  exchange x;
  std::vector<std::string> names;
  for (const auto& comp : hs::receipt_components(x.response, x.request)) {
    names.push_back(comp.identifier());
  }
  CHECK(names == std::vector<std::string>{"\"@status\"", "\"sovereign-request-id\"", "\"sovereign-cluster\"",
                                          "\"sovereign-cluster-country\"", "\"sovereign-policy-version\"",
                                          "\"sovereign-decision\"", "\"@method\";req", "\"@authority\";req",
                                          "\"@path\";req", "\"@query\";req", "\"content-digest\";req"});
  const auto s = hs::sign_receipt(x.response, x.request, k.key, k.now);
  REQUIRE(s.ok());
  CHECK(s.fields.signature_input.starts_with("sovgw-receipt=(\"@status\""));
  x.response_text.emplace_back("Signature-Input", s.fields.signature_input);
  x.response_text.emplace_back("Signature", s.fields.signature);
  x.rebuild();
  hs::receipt_verifier v;
  v.resolve_key = [&](std::string_view id) { return id == k.keyid ? &k.public_key : nullptr; };
  CHECK(hs::verify_receipt(x.response, x.request, v).ok());

  // Checked without the request's Content-Digest: the failure keeps what the signature covers, so
  // a verifier can say the body is missing (sovgw receipt verify names --body-file).
  hs::message_view no_body = x.request;
  no_body.fields = std::span<const hs::field_line>(x.request_fields.data(), 2);
  const auto missing = hs::verify_receipt(x.response, no_body, v);
  CHECK(missing.failure == hs::verify_failure::component_unavailable);
  CHECK(missing.detail == "\"content-digest\";req");
  CHECK(missing.params.covered.size() == 11);
  CHECK(missing.params.keyid == k.keyid);

  struct row {
    const char* what;
    std::function<void(exchange&)> change;
    hs::verify_failure expected;
  };
  const std::vector<row> rows = {
      {"another status", [](exchange& e) { e.response.status = 503; }, hs::verify_failure::bad_signature},
      {"another cluster country", [](exchange& e) { e.response_text[3].second = "US"; },
       hs::verify_failure::bad_signature},
      {"another request path", [](exchange& e) { e.request.set_target("/v1/embeddings"); },
       hs::verify_failure::bad_signature},
      {"another request body",
       [](exchange& e) {
         e.request_fields[2].value = "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:";
         e.request.fields = e.request_fields;
       },
       hs::verify_failure::bad_signature},
      {"one byte of the signature",
       [](exchange& e) {
         std::string& sig = e.response_text.back().second;
         sig[20] = sig[20] == 'A' ? 'B' : 'A';
         e.rebuild();
       },
       hs::verify_failure::bad_signature},
      {"a Sovereign field slipped in",
       [](exchange& e) {
         e.response_text.emplace_back("Sovereign-Extra", "?1");
         e.rebuild();
       },
       hs::verify_failure::uncovered_field},
      {"a second receipt signature under the same label (which one would a reader take?)",
       [](exchange& e) {
         const auto input = e.response_text[e.response_text.size() - 2];
         const auto signature = e.response_text.back();
         e.response_text.push_back(input);
         e.response_text.push_back(signature);
         e.rebuild();
       },
       hs::verify_failure::ambiguous_signature},
      {"a Sovereign field slipped in with underscores",
       [](exchange& e) {
         e.response_text.emplace_back("Sovereign_Cluster_Country", "US");
         e.rebuild();
       },
       hs::verify_failure::uncovered_field},
      {"a required field left out",
       [](exchange& e) {
         e.response_text.erase(e.response_text.begin() + 4);
         e.rebuild();
       },
       hs::verify_failure::missing_required_component},
  };
  for (const row& r : rows) {
    INFO(std::string(r.what));
    exchange copy;
    copy.response_text = x.response_text;
    copy.rebuild();
    r.change(copy);
    if (std::string_view(r.what) == "a required field left out") {
      // Signed without the field: the receipt verifier still insists on it.
      exchange unsigned_copy;
      unsigned_copy.response_text.erase(unsigned_copy.response_text.begin() + 4);
      unsigned_copy.rebuild();
      const auto s2 = hs::sign_receipt(unsigned_copy.response, unsigned_copy.request, k.key, k.now);
      REQUIRE(s2.ok());
      unsigned_copy.response_text.emplace_back("Signature-Input", s2.fields.signature_input);
      unsigned_copy.response_text.emplace_back("Signature", s2.fields.signature);
      unsigned_copy.rebuild();
      CHECK(hs::verify_receipt(unsigned_copy.response, unsigned_copy.request, v).failure == r.expected);
      continue;
    }
    CHECK(hs::verify_receipt(copy.response, copy.request, v).failure == r.expected);
  }
}

TEST_CASE("an answer to no request line gets a receipt bound to no request, and says so") {
  cluster k;
  exchange x;
  const hs::message_view none;  // no request line was read: no method
  std::vector<std::string> names;
  for (const auto& comp : hs::receipt_components(x.response, none)) {
    names.push_back(comp.identifier());
  }
  CHECK(names == std::vector<std::string>{"\"@status\"", "\"sovereign-request-id\"", "\"sovereign-cluster\"",
                                          "\"sovereign-cluster-country\"", "\"sovereign-policy-version\"",
                                          "\"sovereign-decision\""});
  x.response.status = 414;
  const auto s = hs::sign_receipt(x.response, none, k.key, k.now);
  REQUIRE(s.ok());
  x.response_text.emplace_back("Signature-Input", s.fields.signature_input);
  x.response_text.emplace_back("Signature", s.fields.signature);
  x.rebuild();
  x.response.status = 414;
  hs::receipt_verifier v;
  v.resolve_key = [&](std::string_view id) { return id == k.keyid ? &k.public_key : nullptr; };
  CHECK(hs::verify_receipt(x.response, none, v).ok());
  // Checked as the answer to a request, it is bound to none: the request components are missing.
  const auto as_bound = hs::verify_receipt(x.response, x.request, v);
  CHECK(as_bound.failure == hs::verify_failure::missing_required_component);
  CHECK(as_bound.detail == "\"@method\";req");
  x.response.status = 200;
  CHECK(hs::verify_receipt(x.response, none, v).failure == hs::verify_failure::bad_signature);

  // And a receipt bound to a request does not verify as bound to none.
  exchange bound;
  const auto b = hs::sign_receipt(bound.response, bound.request, k.key, k.now);
  REQUIRE(b.ok());
  bound.response_text.emplace_back("Signature-Input", b.fields.signature_input);
  bound.response_text.emplace_back("Signature", b.fields.signature);
  bound.rebuild();
  CHECK(hs::verify_receipt(bound.response, none, v).failure == hs::verify_failure::component_unavailable);
}
