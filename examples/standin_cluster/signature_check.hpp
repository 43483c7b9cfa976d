#pragma once

// The stand-in cluster's `--require-signature` mode: every request must carry the gateway's RFC 9421
// signature under the sovgw profile (crypto/signature_profile.hpp). This is what a cluster operator
// would run in front of vLLM/NIM; docs/signatures.md describes the same check for other stacks.
//
// Built once at start-up from the command line (throws std::runtime_error with a message naming the
// file on a bad key), then used by the single I/O thread.

#include <boost/beast/http.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "crypto/http_signature.hpp"
#include "crypto/nonce_cache.hpp"

namespace standin {

struct signature_options {
  std::vector<std::string> verify_key_files;   // PEM, JWK or JWK Set of Ed25519 public keys
  std::vector<std::string> hmac_key_files;     // sovgw secret key files of kind hmac-sha256-http-signing
  std::vector<std::string> required_fields;    // empty: the profile's default
  std::vector<std::string> allowed_uncovered;  // fields a request may carry uncovered (framing aside)
  std::string cluster;  // this cluster's name in the gateway's configuration; empty: any cluster
  std::int64_t max_age = 300;
  std::int64_t max_skew = 30;
  std::size_t nonce_capacity = 100000;
};

class signature_check {
 public:
  explicit signature_check(const signature_options& options);

  // ok, or the reason the request is refused.
  [[nodiscard]] sovgw::crypto::httpsig::verify_result check(
      const boost::beast::http::request<boost::beast::http::string_body>& req, bool tls) const;

  // The keyids this check accepts (for the start-up log line).
  [[nodiscard]] std::vector<std::string> keyids() const;

 private:
  std::map<std::string, sovgw::crypto::httpsig::verification_key, std::less<>> keys_;
  std::vector<std::string> required_fields_;
  std::vector<std::string> allowed_uncovered_;
  std::string cluster_;
  std::int64_t max_age_;
  std::int64_t max_skew_;
  std::unique_ptr<sovgw::crypto::nonce_cache> nonces_;
};

// The 401 body: {"error":{"message":..,"type":"signature_error","code":<reason>,"detail":..}}.
[[nodiscard]] std::string refusal_json(const sovgw::crypto::httpsig::verify_result& verdict);

}  // namespace standin
