#include "crypto/signature_profile.hpp"

#include <algorithm>
#include <array>

#include "crypto/content_digest.hpp"
#include "crypto/jwk.hpp"
#include "crypto/sha256.hpp"

namespace sovgw::crypto::httpsig {

namespace {

constexpr std::string_view sovereign_prefix = "sovereign-";

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// `name` is lower case.
bool has_field(const message_view& m, std::string_view name) {
  return std::any_of(m.fields.begin(), m.fields.end(), [&](const field_line& f) {
    return f.name.size() == name.size() &&
           std::equal(name.begin(), name.end(), f.name.begin(), [](char a, char b) { return a == lower(b); });
  });
}

bool covers_name(const std::vector<component>& covered, std::string_view name, bool req) {
  return std::any_of(covered.begin(), covered.end(), [&](const component& c) {
    return c.name == name && c.has_flag("req") == req && sf::find(c.params, "key") == nullptr;
  });
}

// Every Sovereign-* field of `m` (lower-cased, first occurrence order, each once).
std::vector<std::string> sovereign_names(const message_view& m) {
  std::vector<std::string> out;
  for (const auto& f : m.fields) {
    if (is_sovereign_field(f.name)) {
      std::string name(f.name);
      std::transform(name.begin(), name.end(), name.begin(), lower);
      if (std::find(out.begin(), out.end(), name) == out.end()) {
        out.push_back(std::move(name));
      }
    }
  }
  return out;
}

verify_result fail(verify_failure failure, std::string detail) {
  verify_result r;
  r.failure = failure;
  r.detail = std::move(detail);
  return r;
}

// Fields that frame the message on its hop (RFC 9112) rather than say anything about the request:
// a forwarded request's signature never covers them (Content-Length: content-digest binds the body)
// and a verifier does not require them covered. Host is "@authority".
bool is_framing_field(std::string_view lower_name) {
  static constexpr std::string_view names[] = {"host", "content-length", "transfer-encoding", "connection",
                                               "te",   "keep-alive"};
  return std::find(std::begin(names), std::end(names), lower_name) != std::end(names);
}

// What a forwarded request's signature cannot cover: the framing fields and the signature's own.
bool never_covered(std::string_view lower_name) {
  return is_framing_field(lower_name) || lower_name == "signature" || lower_name == "signature-input";
}

// The profile's rule that nothing the application may read as a Sovereign-* field or as a covered
// field travels uncovered. Servers that map field names to variables (CGI, WSGI, Rack, PHP) read
// `_` as `-`: `Sovereign_Client_Country` is Sovereign-Client-Country to them, `Content_Digest` is
// Content-Digest. So a field whose name, lower-cased with `_` read as `-`, is `sovereign-*`, a
// covered field's name, or (of a `request`) one the request profile covers whenever it is present
// (Content-Type, Content-Digest: `Content_Type` on a request sent without one) must be covered.
// A forwarded request (`closed`) is a closed world: every field must be covered, but for the
// framing fields, the signature's own and the verifier's `closed` names (what its own balancer adds), and
// those only when they read as nothing covered. A trailer field is a field like the others to this rule. And
// a covered field comes on one field line, as the gateway writes it: the signature covers the lines joined
// (`declared=()` and `detected=("personal")` on two lines verify as one value), but an application reading
// the first line would see part of it (probe round 28).
std::optional<verify_result> check_coverage(const message_view& m, const verify_result& r, bool req,
                                            bool request, const std::vector<std::string>* closed) {
  // A Connection option names fields the next hop removes (RFC 9110 section 7.6.1): after this
  // check, a covered field or a geo-tag would be gone before the application reads the message
  // (probe round 45). Only the connection's own options pass.
  for (const auto& f : m.fields) {
    if (f.name.size() != 10 || !std::equal(f.name.begin(), f.name.end(), "connection",
                                           [](char a, char b) { return lower(a) == b; })) {
      continue;
    }
    std::string_view rest = f.value;
    while (!rest.empty()) {
      const std::size_t comma = rest.find(',');
      std::string_view option = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      while (!option.empty() && (option.front() == ' ' || option.front() == '\t')) {
        option.remove_prefix(1);
      }
      while (!option.empty() && (option.back() == ' ' || option.back() == '\t')) {
        option.remove_suffix(1);
      }
      std::string name(option);
      std::transform(name.begin(), name.end(), name.begin(), lower);
      if (!name.empty() && name != "close" && name != "keep-alive" && name != "te") {
        return fail(verify_failure::uncovered_field, "connection: " + name);
      }
    }
  }
  for (const auto& f : m.fields) {
    std::string name(f.name);
    std::transform(name.begin(), name.end(), name.begin(), lower);
    std::string read_as = name;
    std::replace(read_as.begin(), read_as.end(), '_', '-');
    const bool guarded =
        is_sovereign_field(read_as) || covers_name(r.params.covered, read_as, req) ||
        (request && (read_as == "content-type" || read_as == "content-digest")) ||
        (closed != nullptr && !never_covered(name) &&
         std::none_of(closed->begin(), closed->end(), [&](const std::string& a) {
           return a.size() == name.size() &&
                  std::equal(a.begin(), a.end(), name.begin(), [](char x, char y) { return lower(x) == y; });
         }));
    if (guarded && !covers_name(r.params.covered, name, req)) {
      return fail(verify_failure::uncovered_field, std::move(name));
    }
  }
  for (const component& c : r.params.covered) {
    if (c.name.starts_with('@') || c.has_flag("req") != req) {
      continue;
    }
    const auto lines = std::count_if(m.fields.begin(), m.fields.end(), [&](const field_line& f) {
      return f.name.size() == c.name.size() && std::equal(c.name.begin(), c.name.end(), f.name.begin(),
                                                          [](char a, char b) { return a == lower(b); });
    });
    if (lines > 1) {
      return fail(verify_failure::repeated_field, c.name);
    }
  }
  return std::nullopt;
}

std::optional<verify_result> check_content_digest(const message_view& request,
                                                  std::span<const std::uint8_t> body,
                                                  const verify_result& r) {
  const auto digest = combined_field(request.fields, "content-digest");
  if (!digest && body.empty()) {
    return std::nullopt;
  }
  if (!digest || !covers_name(r.params.covered, "content-digest", false)) {
    return fail(verify_failure::content_digest_missing,
                digest ? "content-digest not covered" : "content-digest");
  }
  switch (verify_content_digest(*digest, body)) {
    case digest_verdict::ok:
      return std::nullopt;
    case digest_verdict::mismatch:
      return fail(verify_failure::content_digest_mismatch, *digest);
    case digest_verdict::malformed:
    case digest_verdict::no_known_algorithm:
      break;
  }
  return fail(verify_failure::content_digest_malformed, *digest);
}

// The covered Sovereign-Cluster is an RFC 8941 String naming `cluster` (the verifier's own).
std::optional<verify_result> check_cluster(const message_view& request, std::string_view cluster) {
  if (cluster.empty()) {
    return std::nullopt;
  }
  const std::string value = combined_field(request.fields, "sovereign-cluster").value_or("");
  const auto parsed = sf::parse_item(value);
  const auto* name =
      parsed.ok() && parsed->params.empty() ? std::get_if<std::string>(&parsed->value) : nullptr;
  if (name == nullptr || *name != cluster) {
    return fail(verify_failure::wrong_cluster, value);
  }
  return std::nullopt;
}

}  // namespace

std::vector<std::string> default_required_request_fields() {
  return {"sovereign-request-id", "sovereign-policy-version"};
}

std::vector<std::string> default_required_receipt_fields() {
  return {"sovereign-request-id", "sovereign-policy-version"};
}

bool is_sovereign_field(std::string_view name) {
  if (name.size() <= sovereign_prefix.size()) {
    return false;
  }
  for (std::size_t i = 0; i < sovereign_prefix.size(); ++i) {
    if (lower(name[i]) != sovereign_prefix[i]) {
      return false;
    }
  }
  return true;
}

std::string make_nonce() {
  // One getrandom(2) per 64 nonces instead of one per request (a system call was ~1 µs of the
  // signing cost). The bytes are the operating system's, drawn ahead; each is used once.
  constexpr std::size_t nonce_size = 16;
  static thread_local std::array<std::uint8_t, 64 * nonce_size> pool{};
  static thread_local std::size_t used = pool.size();
  if (used == pool.size()) {
    random_bytes(pool);
    used = 0;
  }
  const auto bytes = std::span(pool).subspan(used, nonce_size);
  used += nonce_size;
  return to_base64url(bytes);
}

std::string hmac_keyid(const secret_bytes& secret) {
  sha256_hasher h;
  h.update(std::string_view("sovgw hmac-sha256 keyid\0", 24));
  h.update(secret.view());
  const sha256_digest d = h.finish();
  return "hmac-" + to_base64url(std::span(d).first(16));
}

std::vector<component> forwarded_request_components(const message_view& request) {
  std::vector<component> covered = {component::derived("@method"), component::derived("@authority"),
                                    component::derived("@path"), component::derived("@query")};
  covered.reserve(4 + request.fields.size());
  // Every field the gateway sends, each once, in message order: what a cluster reads is what was
  // signed (a verifier refuses any other). Not the framing fields (is_framing_field).
  for (const field_line& f : request.fields) {
    std::string name(f.name);
    std::transform(name.begin(), name.end(), name.begin(), lower);
    if (never_covered(name) || covers_name(covered, name, false)) {
      continue;
    }
    // A value outside printable ASCII (obs-text: a UTF-8 User-Agent) cannot enter the base as
    // text: it is covered as its bytes (RFC 9421 section 2.1.3, `;bs`). Not the fields a verifier
    // requires by name, and never the gateway's own (ASCII by construction).
    const bool text = std::all_of(f.value.begin(), f.value.end(),
                                  [](char c) { return c == '\t' || (c >= 0x20 && c < 0x7f); });
    component c{std::move(name), {}};
    if (!text && c.name != "content-type" && c.name != "content-digest" && !is_sovereign_field(c.name)) {
      c.bs();
    }
    covered.push_back(std::move(c));
  }
  return covered;
}

sign_result sign_forwarded_request(const message_view& request, const signing_key& key,
                                   const request_signing& when) {
  signature_params p;
  p.covered = forwarded_request_components(request);
  p.created = when.created;
  p.expires = when.created + when.lifetime;
  p.keyid = key.keyid();
  p.alg = std::string(to_string(key.alg()));
  p.nonce = when.nonce;
  p.tag = std::string(request_tag);
  return sign(request, request_label, p, key);
}

verify_result verify_forwarded_request(const message_view& request, std::span<const std::uint8_t> body,
                                       const request_verifier& policy) {
  verify_options o;
  o.resolve_key = policy.resolve_key;
  o.tag = std::string(request_tag);
  o.now = policy.now;
  o.max_age = policy.max_age;
  o.max_skew = policy.max_skew;
  o.require_created = true;
  o.require_nonce = true;
  o.required = {component::derived("@method"), component::derived("@authority"), component::derived("@path"),
                component::derived("@query")};
  if (has_field(request, "content-type")) {
    o.required.push_back(component::field("content-type"));
  }
  for (const auto& name : policy.required_fields) {
    o.required.push_back(component::field(name));
  }
  if (!policy.cluster.empty()) {
    o.required.push_back(component::field("sovereign-cluster"));
  }
  verify_result r = verify(request, o);
  if (!r.ok()) {
    return r;
  }
  if (auto f = check_cluster(request, policy.cluster)) {
    return *f;
  }
  if (auto f = check_coverage(request, r, false, true, &policy.allowed_uncovered)) {
    return *f;
  }
  if (auto f = check_content_digest(request, body, r)) {
    return *f;
  }
  if (policy.nonces != nullptr) {
    const nonce_check n =
        policy.nonces->check(*r.params.keyid, *r.params.nonce, *r.params.created, policy.now());
    if (n != nonce_check::fresh) {
      return fail(
          n == nonce_check::replayed ? verify_failure::replayed_nonce : verify_failure::nonce_unverifiable,
          *r.params.nonce);
    }
  }
  return r;
}

std::vector<component> receipt_components(const message_view& response, const message_view& request) {
  std::vector<component> covered = {component::derived("@status")};
  for (auto& name : sovereign_names(response)) {
    covered.push_back({std::move(name), {}});
  }
  if (request.method.empty()) {
    return covered;  // no request line: a receipt bound to no request
  }
  for (std::string_view name : {"@method", "@authority", "@path", "@query"}) {
    covered.push_back(component::derived(name).req());
  }
  if (has_field(request, "content-digest")) {
    covered.push_back(component::field("content-digest").req());
  }
  return covered;
}

sign_result sign_receipt(const message_view& response, const message_view& request, const signing_key& key,
                         std::int64_t created) {
  signature_params p;
  p.covered = receipt_components(response, request);
  p.created = created;
  p.keyid = key.keyid();
  p.alg = std::string(to_string(key.alg()));
  p.tag = std::string(receipt_tag);
  base_context context;
  context.request = request.method.empty() ? nullptr : &request;
  return sign(response, receipt_label, p, key, context);
}

verify_result verify_receipt(const message_view& response, const message_view& request,
                             const receipt_verifier& policy) {
  verify_options o;
  o.resolve_key = policy.resolve_key;
  o.tag = std::string(receipt_tag);
  o.require_created = true;
  o.required = {component::derived("@status")};
  if (!request.method.empty()) {
    o.context.request = &request;
    for (std::string_view name : {"@method", "@authority", "@path", "@query"}) {
      o.required.push_back(component::derived(name).req());
    }
  }
  for (const auto& name : policy.required_fields) {
    o.required.push_back(component::field(name));
  }
  verify_result r = verify(response, o);
  if (!r.ok()) {
    return r;
  }
  if (auto f = check_coverage(response, r, false, false, nullptr)) {
    return *f;
  }
  return r;
}

}  // namespace sovgw::crypto::httpsig
