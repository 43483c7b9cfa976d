#include "gateway/geo_tags.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "crypto/content_digest.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/jwk.hpp"
#include "crypto/key_file.hpp"
#include "crypto/nonce_cache.hpp"
#include "crypto/signature_profile.hpp"
#include "crypto/structured_field.hpp"

using namespace sovgw;
using namespace sovgw::gateway;
namespace hs = sovgw::crypto::httpsig;

namespace {

struct temp_key {
  std::string dir;
  std::string path;
  crypto::ed25519_public_key public_key{};
  temp_key() {
    char pattern[] = "/tmp/sovgw-geotags-XXXXXX";
    dir = ::mkdtemp(pattern);
    path = dir + "/http.key";
    auto pair = crypto::ed25519_generate_key_pair();
    public_key = pair.public_key;
    crypto::write_secret_key_file(path, hs::http_signing_key_kind, pair.secret_key);
  }
  ~temp_key() {
    ::unlink(path.c_str());
    ::rmdir(dir.c_str());
  }
  temp_key(const temp_key&) = delete;
  temp_key& operator=(const temp_key&) = delete;
};

std::shared_ptr<const config> config_with(const std::string& signing) {
  return parse_config(R"(tls: {certificate: a.pem, private_key: a.key}
clusters:
  - name: paris
    endpoints: ["127.0.0.1:9443"]
    country: FR
    operator_jurisdiction: EU
)" + signing,
                      "gw.yaml");
}

request_context permitted_request() {
  request_context ctx;
  ctx.request_id = "0193a5c1e2f04b7c9d2e000000000001";
  ctx.client_country = "DE";
  ctx.client_country_source = "trusted-xff";
  ctx.data_classes = {"health", "contact"};
  ctx.declared_class_count = 1;
  ctx.detected_classes = {"contact"};
  ctx.matched_rules = {"permit-eu", "r\xc3\xa9sidence"};
  ctx.policy_version = "v7";
  ctx.cluster = 0;
  ctx.tenant = "acme";
  ctx.head.method = "POST";
  ctx.head.target = "/v1/chat/completions?x=1";
  ctx.body = R"({"model":"m"})";
  return ctx;
}

// Splits "Name: value\r\n" lines of the head built so far.
std::vector<hs::field_line> lines_of(std::string_view head) {
  std::vector<hs::field_line> out;
  while (!head.empty()) {
    const std::size_t eol = head.find("\r\n");
    const std::string_view line = head.substr(0, eol);
    const std::size_t colon = line.find(": ");
    out.push_back({line.substr(0, colon), line.substr(colon + 2)});
    head.remove_prefix(eol + 2);
  }
  return out;
}

std::string value_of(const std::vector<hs::field_line>& fields, std::string_view name) {
  for (const auto& f : fields) {
    if (f.name == name) {
      return std::string(f.value);
    }
  }
  return "<absent>";
}

}  // namespace

TEST_CASE("geo-tags without signing: the fields in RFC 8941 syntax, declared and detected classes apart") {
  const geo_tagger tagger(*config_with(""));
  CHECK_FALSE(tagger.signing());
  CHECK(tagger.public_key() == nullptr);
  CHECK(tagger.jwk_set() == R"({"keys":[]})");
  request_context ctx = permitted_request();
  std::string head;
  std::string why;
  REQUIRE(tagger.tag(head, ctx, "cluster.example", {}, why));
  const auto fields = lines_of(head);
  CHECK(value_of(fields, "Sovereign-Request-Id") == R"("0193a5c1e2f04b7c9d2e000000000001")");
  CHECK(value_of(fields, "Sovereign-Client-Country") == "DE;source=trusted-xff");
  CHECK(value_of(fields, "Sovereign-Data-Classes") == R"(declared=("health"), detected=("contact"))");
  CHECK(value_of(fields, "Sovereign-Decision") == "permit");
  CHECK(value_of(fields, "Sovereign-Rules") == R"("permit-eu", "r%C3%A9sidence")");
  CHECK(value_of(fields, "Sovereign-Policy-Version") == R"("v7")");
  CHECK(value_of(fields, "Sovereign-Cluster") == R"("paris")");
  CHECK(value_of(fields, "Sovereign-Cluster-Country") == "FR");
  CHECK(value_of(fields, "Sovereign-Tenant") == "<absent>");
  CHECK(value_of(fields, "Content-Digest") == "<absent>");
  CHECK(value_of(fields, "Signature") == "<absent>");
  CHECK(ctx.signature_keyid.empty());
  for (const auto& f : fields) {
    if (hs::is_sovereign_field(f.name) && f.name != "Sovereign-Rules" && f.name != "Sovereign-Data-Classes") {
      CHECK_MESSAGE(crypto::sf::parse_item(f.value).ok(), f.name);
    }
  }
  CHECK(crypto::sf::parse_dictionary(value_of(fields, "Sovereign-Data-Classes")).ok());
  CHECK(crypto::sf::parse_list(value_of(fields, "Sovereign-Rules")).ok());
}

TEST_CASE(
    "geo-tags with signing: a cluster's verifier accepts the request, and the digest is of the body sent") {
  const temp_key key;
  const geo_tagger tagger(*config_with("signing: {key: " + key.path + ", gateway_id: gw-1}\n"));
  REQUIRE(tagger.signing());
  CHECK(tagger.keyid() == crypto::ed25519_jwk_thumbprint(key.public_key));
  CHECK(tagger.jwk_set().find(tagger.keyid()) != std::string::npos);
  request_context ctx = permitted_request();
  std::string head = "Content-Type: application/json\r\n";
  const std::vector<hs::field_line> forwarded{{"Content-Type", "application/json"}};
  std::string why;
  REQUIRE(tagger.tag(head, ctx, "cluster.example", forwarded, why));
  CHECK(ctx.signature_keyid == tagger.keyid());
  CHECK(ctx.forwarded_digest == crypto::content_digest(ctx.body));
  const auto fields = lines_of(head);
  CHECK(value_of(fields, "Sovereign-Gateway") == R"("gw-1")");
  CHECK(value_of(fields, "Sovereign-Tenant").size() == 26);  // :base64(16 bytes):

  const auto verifier = hs::verification_key::ed25519(tagger.keyid(), key.public_key);
  crypto::nonce_cache nonces(100, 600);
  hs::request_verifier policy;
  policy.resolve_key = [&](std::string_view id) { return id == tagger.keyid() ? &verifier : nullptr; };
  policy.now = [] {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  policy.nonces = &nonces;
  policy.required_fields.push_back("sovereign-client-country");
  policy.required_fields.push_back("sovereign-data-classes");
  policy.required_fields.push_back("sovereign-tenant");
  hs::message_view view;
  view.method = "POST";
  view.authority = "cluster.example";
  view.set_target(ctx.head.target);
  view.fields = fields;
  const auto body = std::span(reinterpret_cast<const std::uint8_t*>(ctx.body.data()), ctx.body.size());
  const hs::verify_result ok = hs::verify_forwarded_request(view, body, policy);
  CHECK_MESSAGE(ok.ok(), hs::to_string(ok.failure), " ", ok.detail);
  CHECK(hs::verify_forwarded_request(view, body, policy).failure == hs::verify_failure::replayed_nonce);

  // The same tenant gets the same pseudonym; another tenant another one.
  CHECK(tagger.tenant_pseudonym("acme") == tagger.tenant_pseudonym("acme"));
  CHECK(tagger.tenant_pseudonym("acme") != tagger.tenant_pseudonym("globex"));
}

TEST_CASE("geo-tags: the tenant pseudonym outlives a signing key rotation only with signing.pseudonym_key") {
  // Probe round 42: clusters keep per-tenant state by Sovereign-Tenant (docs/http.md), and rotating
  // signing.key gave every tenant a new pseudonym and a new Idempotency-Key scope.
  const temp_key old_key;
  const temp_key new_key;
  const std::string pseudonym_file = old_key.dir + "/pseudonym.key";
  crypto::secret_bytes secret(32);
  crypto::random_bytes(std::span(secret.data(), 32));
  crypto::write_secret_key_file(pseudonym_file, hs::pseudonym_key_kind, secret);
  const auto tagger = [&](const temp_key& k, bool own) {
    return geo_tagger(*config_with("signing: {key: " + k.path +
                                   (own ? ", pseudonym_key: " + pseudonym_file : std::string()) + "}\n"));
  };
  const auto scope = [](const geo_tagger& t) {
    std::string out;
    t.scoped_idempotency_key(out, "acme", "abc");
    return out;
  };
  CHECK(tagger(old_key, false).tenant_pseudonym("acme") != tagger(new_key, false).tenant_pseudonym("acme"));
  CHECK(tagger(old_key, true).tenant_pseudonym("acme") == tagger(new_key, true).tenant_pseudonym("acme"));
  CHECK(scope(tagger(old_key, true)) == scope(tagger(new_key, true)));
  CHECK(tagger(old_key, true).tenant_pseudonym("acme") != tagger(old_key, false).tenant_pseudonym("acme"));
  // A file of another kind (the signing key itself) is refused at its line.
  CHECK_THROWS_WITH_AS(
      geo_tagger(*config_with("signing: {key: " + old_key.path + ", pseudonym_key: " + new_key.path + "}\n")),
      doctest::Contains("signing.pseudonym_key"), config_error);
  ::unlink(pseudonym_file.c_str());
}

TEST_CASE("geo-tags with signing: a signed part outside ASCII is refused, not sent unsigned") {
  const temp_key key;
  const geo_tagger tagger(*config_with("signing: {key: " + key.path + "}\n"));
  request_context ctx = permitted_request();
  std::string head;
  const std::vector<hs::field_line> forwarded{{"Content-Type", "text/plain; x=\"caf\xe9\""}};
  std::string why;
  CHECK_FALSE(tagger.tag(head, ctx, "cluster.example", forwarded, why));
  CHECK(why.find("content-type") != std::string::npos);
  CHECK(head.find("Signature") == std::string::npos);
  CHECK(ctx.signature_keyid.empty());
}

TEST_CASE("geo-tags: an unsafe key file stops the start, naming the file") {
  const temp_key key;
  REQUIRE(::chmod(key.path.c_str(), 0644) == 0);
  const auto cfg = config_with("signing: {key: " + key.path + "}\n");
  std::string error;
  try {
    const geo_tagger tagger(*cfg);
  } catch (const config_error& e) {
    CHECK(e.files_only());  // an environment problem: serve exits 3
    error = e.what();
  }
  CHECK(error.find(key.path) != std::string::npos);
  CHECK(error.find("signing.key: refusing to use secret key") != std::string::npos);
}

TEST_CASE("signing config: every problem at its file:line:col") {
  const std::string text = R"(tls: {certificate: a.pem, private_key: a.key}
signing:
  lifetime: 2h
  gateway_id: "caf\u00e9"
  cluster_hmac_keys: {nowhere: x.hmac}
clusters:
  - name: paris
    endpoints: ["127.0.0.1:9443"]
    country: FR
    operator_jurisdiction: EU
)";
  std::string errors;
  try {
    (void)parse_config(text, "gw.yaml");
  } catch (const config_error& e) {
    errors = e.what();
  }
  CHECK(errors.find("gw.yaml:3:13: signing.lifetime must be between 1s and 1h") != std::string::npos);
  CHECK(errors.find("gw.yaml:4:15: signing.gateway_id must be non-empty printable ASCII") !=
        std::string::npos);
  CHECK(errors.find("gw.yaml:5:23: signing.cluster_hmac_keys: no cluster is named 'nowhere'") !=
        std::string::npos);
  CHECK(errors.find("gw.yaml:3:3: signing needs key") != std::string::npos);
}

TEST_CASE("receipts: the decision as the gateway saw it, signed and bound to the client's request") {
  const temp_key key;
  const geo_tagger tagger(*config_with("signing: {key: " + key.path + "}\n"));
  const auto verifier = hs::verification_key::ed25519(tagger.keyid(), key.public_key);
  hs::receipt_verifier policy;
  policy.resolve_key = [&](std::string_view id) { return id == tagger.keyid() ? &verifier : nullptr; };

  struct row {
    const char* name;
    bool permitted;
    int cluster;
    bool allowed;
    const char* decision;
  };
  // In the audit record's words (request_context::decision): the auditor compares them.
  for (const row& r : {row{"forwarded", true, 0, true, "permit"}, row{"denied", false, -1, false, "deny"},
                       row{"ended before the policy", false, -1, false, "no-policy"}}) {
    CAPTURE(r.name);
    request_context ctx = permitted_request();
    ctx.head.host = "gateway.example:8443";
    if (std::string_view(r.name) == "ended before the policy") {
      ctx.policy_version.clear();
    }
    ctx.permitted = r.permitted;
    ctx.cluster = r.cluster;
    if (r.allowed) {
      ctx.allowed_clusters = {0};
    }
    std::string head;
    tagger.append_receipt(head, ctx, 200);
    const auto fields = lines_of(head);
    CHECK(value_of(fields, "Sovereign-Decision") == r.decision);
    CHECK((value_of(fields, "Sovereign-Cluster") == "<absent>") == (r.cluster < 0));
    hs::message_view response;
    response.status = 200;
    response.fields = fields;
    hs::message_view request;
    request.method = "POST";
    request.authority = "gateway.example:8443";
    request.set_target(ctx.head.target);
    CHECK(hs::verify_receipt(response, request, policy).ok());
    response.status = 201;
    CHECK(hs::verify_receipt(response, request, policy).failure == hs::verify_failure::bad_signature);
  }

  const geo_tagger unsigned_tagger(*config_with(""));
  const geo_tagger no_receipts(*config_with("signing: {key: " + key.path + ", receipts: false}\n"));
  for (const geo_tagger* t : {&unsigned_tagger, &no_receipts}) {
    request_context ctx = permitted_request();
    ctx.head.host = "gateway.example:8443";
    std::string head;
    t->append_receipt(head, ctx, 200);
    CHECK(value_of(lines_of(head), "Sovereign-Request-Id") == R"("0193a5c1e2f04b7c9d2e000000000001")");
    CHECK(value_of(lines_of(head), "Signature") == "<absent>");
  }
}
