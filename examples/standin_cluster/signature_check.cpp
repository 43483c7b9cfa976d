#include "signature_check.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <stdexcept>

#include "crypto/jwk.hpp"
#include "crypto/key_file.hpp"
#include "crypto/signature_profile.hpp"

namespace standin {

namespace hs = sovgw::crypto::httpsig;
namespace http = boost::beast::http;

namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

signature_check::signature_check(const signature_options& options)
    : required_fields_(options.required_fields.empty() ? hs::default_required_request_fields()
                                                       : options.required_fields),
      allowed_uncovered_(options.allowed_uncovered),
      cluster_(options.cluster),
      max_age_(options.max_age),
      max_skew_(options.max_skew),
      nonces_(std::make_unique<sovgw::crypto::nonce_cache>(options.nonce_capacity,
                                                           options.max_age + options.max_skew)) {
  for (const auto& path : options.verify_key_files) {
    // A PEM, a JWK, or a JWK Set (the one the gateway serves): each key by its kid.
    const auto parsed =
        sovgw::crypto::parse_ed25519_public_keys(sovgw::crypto::read_small_file(path, "verification key"));
    if (!parsed.ok()) {
      throw std::runtime_error(
          path + ": " + (parsed.member ? "JWK Set member " + std::to_string(*parsed.member) + ": " : "") +
          sovgw::crypto::describe(parsed.error));
    }
    for (const auto& key : parsed.keys) {
      const std::string thumbprint = sovgw::crypto::ed25519_jwk_thumbprint(key.key);
      if (key.kid != thumbprint) {  // the gateway's keyid is the thumbprint: a kid that says otherwise lies
        throw std::runtime_error(path + ": the JWK's kid '" + key.kid +
                                 "' is not the key's RFC 7638 thumbprint " + thumbprint +
                                 " (the keyid the gateway signs with)");
      }
      keys_.insert_or_assign(key.kid, hs::verification_key::ed25519(key.kid, key.key));
    }
  }
  for (const auto& path : options.hmac_key_files) {
    auto secret = sovgw::crypto::read_secret_key_file(path, hs::hmac_key_kind);
    if (secret.size() < hs::hmac_min_secret_size) {
      throw std::runtime_error(path + ": an hmac-sha256 secret must be at least 32 bytes");
    }
    const std::string keyid = hs::hmac_keyid(secret);
    keys_.insert_or_assign(keyid, hs::verification_key::hmac_sha256(keyid, std::move(secret)));
  }
  if (keys_.empty()) {
    throw std::runtime_error("--require-signature needs at least one --verify-key or --hmac-key");
  }
  if (std::any_of(cluster_.begin(), cluster_.end(), [](char c) { return c < 0x20 || c > 0x7e; })) {
    throw std::runtime_error("--cluster '" + cluster_ +
                             "': give the name as the gateway sends it in Sovereign-Cluster (printable "
                             "ASCII, any other byte as %XX)");
  }
}

std::vector<std::string> signature_check::keyids() const {
  std::vector<std::string> out;
  for (const auto& [id, key] : keys_) {
    out.push_back(id);
  }
  return out;
}

hs::verify_result signature_check::check(const http::request<http::string_body>& req, bool tls) const {
  std::vector<hs::field_line> fields;
  for (const auto& f : req) {
    fields.push_back({f.name_string(), f.value()});
  }
  hs::message_view view;
  view.method = req.method_string();
  view.scheme = tls ? "https" : "http";
  view.authority = req[http::field::host];
  view.set_target(req.target());
  view.fields = fields;

  hs::request_verifier policy;
  policy.resolve_key = [this](std::string_view keyid) -> const hs::verification_key* {
    const auto it = keys_.find(keyid);
    return it == keys_.end() ? nullptr : &it->second;
  };
  policy.now = unix_now;
  policy.max_age = max_age_;
  policy.max_skew = max_skew_;
  policy.required_fields = required_fields_;
  policy.allowed_uncovered = allowed_uncovered_;
  policy.cluster = cluster_;
  policy.nonces = nonces_.get();
  const std::string& body = req.body();
  return hs::verify_forwarded_request(
      view, std::span(reinterpret_cast<const std::uint8_t*>(body.data()), body.size()), policy);
}

std::string refusal_json(const hs::verify_result& verdict) {
  std::string message = std::string("request signature refused: ") + hs::to_string(verdict.failure);
  if (verdict.failure == hs::verify_failure::component_unavailable) {
    message += std::string(" (") + hs::to_string(verdict.base) + ")";
  }
  boost::json::object error{{"message", message},
                            {"type", "signature_error"},
                            {"code", hs::to_string(verdict.failure)},
                            {"detail", verdict.detail}};
  return boost::json::serialize(boost::json::object{{"error", error}});
}

}  // namespace standin
