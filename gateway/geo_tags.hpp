#pragma once

// Geo-tags: the `Sovereign-*` fields the gateway adds to every forwarded request (docs/http.md
// lists them), and, when a signing key is configured, the RFC 9530 Content-Digest of the body as
// forwarded and the RFC 9421 signature over the request line, Content-Type, the digest and every
// geo-tag (the sovgw profile, crypto/signature_profile.hpp and docs/signatures.md).
//
// Built once at start-up (key files read and permission-checked; failures throw); immutable after
// that and shared by every worker thread.

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/ed25519.hpp"
#include "crypto/http_signature.hpp"
#include "gateway/config.hpp"
#include "gateway/request_context.hpp"

namespace sovgw::gateway {

class geo_tagger {
 public:
  // Reads cfg.signing's keys. Throws config_error (a bad or unsafe key file, at the key naming it)
  // or std::runtime_error; start-up only.
  explicit geo_tagger(const config& cfg);

  [[nodiscard]] bool signing() const { return key_.has_value(); }
  // The Ed25519 verification key and its keyid (the JWK thumbprint); null without signing.
  [[nodiscard]] const crypto::ed25519_public_key* public_key() const { return key_ ? &public_key_ : nullptr; }
  [[nodiscard]] const std::string& keyid() const { return keyid_; }
  // The JWK Set served at /.well-known/sovgw-keys.json: {"keys":[...]} (empty without signing).
  [[nodiscard]] const std::string& jwk_set() const { return jwk_set_; }

  // Appends the geo-tags for ctx (forwarded to ctx.cluster) to `head`, a request head being built
  // (field lines so far, no final CRLF); when signing, also Content-Digest (for a body) and
  // Signature-Input / Signature. `authority` is the Host sent; `forwarded` the client's fields as
  // forwarded (views that stay valid during the call). Sets ctx.signature_keyid and
  // ctx.forwarded_digest. Returns false, with ctx untouched but `head` partly written, when the
  // request cannot be signed (a byte outside ASCII in a signed component): `why` names it.
  [[nodiscard]] bool tag(std::string& head, request_context& ctx, std::string_view authority,
                         std::span<const crypto::httpsig::field_line> forwarded, std::string& why) const;

  // Appends the receipt to a response head being built for ctx (field lines so far, no final CRLF):
  // Sovereign-Request-Id, -Decision (permit, deny, or none when the request ended before the
  // policy decided), -Policy-Version, and -Cluster / -Cluster-Country once a cluster was chosen;
  // when signing, an RFC 9421 `sovgw-receipt` signature (Ed25519) over them and `status`, bound to
  // the client's request with `;req` (unless `signing.receipts: false`); an answer to no request
  // line (ctx.head.method empty) gets a receipt bound to no request. A request whose components
  // cannot be signed (a client Content-Digest outside ASCII) gets the fields only.
  void append_receipt(std::string& head, const request_context& ctx, int status) const;

  // The pseudonym a cluster sees for a tenant: 16 bytes of keyed BLAKE2b under a key derived from
  // the signing key (nullopt without signing).
  [[nodiscard]] std::optional<std::vector<std::uint8_t>> tenant_pseudonym(std::string_view tenant) const;

  // A client's Idempotency-Key as a cluster is sent it: `<scope>.<key>` (an sf-string `"<scope>.<key>"`;
  // `key` is a bare key or an sf-string, http::read_idempotency_key), the scope 16 hex digits
  // of BLAKE2b over the tenant's name (keyed as the pseudonym is when signing; unkeyed without),
  // so that a cluster that deduplicates by the key (each tenant reaches it with the gateway's one
  // credential) never hands one tenant the answer to another's request with the same key.
  void scoped_idempotency_key(std::string& out, std::string_view tenant, std::string_view key) const;

 private:
  struct cluster_tags {
    std::string fields;  // "Sovereign-Cluster: ...\r\nSovereign-Cluster-Country: ...\r\n"
    const crypto::httpsig::signing_key* key = nullptr;
  };

  std::string gateway_field_;  // "Sovereign-Gateway: ...\r\n"
  std::optional<crypto::httpsig::signing_key> key_;
  crypto::ed25519_public_key public_key_{};
  std::string keyid_;
  std::string jwk_set_ = R"({"keys":[]})";
  std::vector<std::uint8_t> pseudonym_key_;
  std::vector<crypto::httpsig::signing_key> hmac_keys_;
  std::vector<cluster_tags> clusters_;  // by config.clusters index
  std::int64_t lifetime_s_ = 60;
  bool sign_receipts_ = true;
};

// Whether `name` (any case) is one of the geo-tags the gateway writes that carries no claim of the
// client's: a client's copy of it is replaced. Sovereign-Data-Classes is not one: its `declared=`
// is a declaration, which a client makes in Sovereign-Data-Class.
[[nodiscard]] bool is_replaced_geo_tag(std::string_view name);

// Appends `text` as an RFC 8941 String; bytes outside printable ASCII become %XX.
void append_sf_text(std::string& out, std::string_view text);

}  // namespace sovgw::gateway
