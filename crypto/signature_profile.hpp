#pragma once

// The sovgw profile of RFC 9421: what the gateway signs on a forwarded request and on a response
// receipt, and the rules a cluster (or a client, for a receipt) applies when verifying. One place,
// so the signer and every verifier agree. docs/signatures.md explains the profile in prose.
//
// Forwarded request, label `sovgw`, tag `sovgw-request`:
//   covered: "@method" "@authority" "@path" "@query", then every field the gateway sends, each
//            once, lower-cased, in message order: the client's fields it passes on (each on one
//            line), the ones it writes or rewrites (Idempotency-Key as scoped, the forwarding
//            fields, X-Request-Id, Accept-Encoding, the cluster credential), Content-Digest and
//            every `Sovereign-*` field. Never the framing fields Host (it is "@authority"),
//            Content-Length (content-digest binds the body), Transfer-Encoding, Connection, TE,
//            Keep-Alive, nor Signature / Signature-Input;
//   params:  created, expires (created + lifetime), keyid, alg, nonce, tag.
// A verifier accepts a request only if, beyond RFC 9421:
//   - the signature has tag `sovgw-request`, created, nonce, and covers @method @authority @path
//     @query, content-type when present, and each of `required_fields` (default
//     sovereign-request-id and sovereign-policy-version);
//   - every field of the request, trailer fields included, is covered (the closed world): a field
//     added after signing is refused (uncovered_field, naming it) and a covered field removed or
//     changed breaks the base or the signature (component_unavailable / bad_signature). Exempt:
//     the framing fields above, Signature / Signature-Input, and the verifier's
//     `allowed_uncovered` names (fields its own balancer adds; none by default). An exempt name
//     that reads as a `Sovereign-*` or covered field is not exempt: names are read as servers that
//     map `_` to `-` read them (`Sovereign_Client_Country` counts as a Sovereign-* field,
//     `Content_Digest` as Content-Digest). So the request a verifier accepts is the one the
//     gateway signed, field for field; the verifier belongs right behind the gateway (a field
//     anything between them adds must be allowed by name);
//   - a covered field comes on one field line;
//   - when the verifier knows its cluster's name, sovereign-cluster is covered and names it: a
//     request signed for another cluster is refused (wrong_cluster);
//   - a request with a body covers content-digest, and Content-Digest matches the body received;
//   - created is within max_age (and at most max_skew in the future), expires has not passed;
//   - the nonce was not seen before (checked last, only for a request that passed everything else).
//
// Receipt, label `sovgw-receipt`, tag `sovgw-receipt`, on the response the gateway returns:
//   covered: "@status", every `Sovereign-*` field of the response, then "@method";req
//            "@authority";req "@path";req "@query";req and "content-digest";req when the client's
//            request had one;
//            An answer to no request line (the gateway's 400 for a malformed one, 408 before the
//            head was read, 414 and 431 by bytes, which stop reading the head at the limit) covers
//            no `;req` component: such a receipt is bound to no request;
//   params:  created, keyid, alg, tag.
// A receipt verifier applies the same coverage rule to the response's fields (a `Sovereign_*`
// field added to the response is refused). Given a request (a method), it requires the `;req`
// components; given none (an empty method), it verifies a receipt bound to no request, and one
// that covers any `;req` component fails (component_unavailable).
//
// Thread-safety: pure functions; the nonce cache passed in is itself thread-safe.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/http_signature.hpp"
#include "crypto/nonce_cache.hpp"

namespace sovgw::crypto::httpsig {

inline constexpr std::string_view request_label = "sovgw";
inline constexpr std::string_view request_tag = "sovgw-request";
inline constexpr std::string_view receipt_label = "sovgw-receipt";
inline constexpr std::string_view receipt_tag = "sovgw-receipt";

// Kinds for crypto/key_file.hpp secret key files: the gateway's Ed25519 signing key for HTTP
// signatures (not the audit checkpoint key), and a per-cluster hmac-sha256 secret.
inline constexpr std::string_view http_signing_key_kind = "ed25519-http-signing";
inline constexpr std::string_view hmac_key_kind = "hmac-sha256-http-signing";
// The secret the tenant pseudonym and the Idempotency-Key scope are keyed from when it is not the
// signing key's (gateway signing.pseudonym_key): they then survive a rotation of the signing key.
inline constexpr std::string_view pseudonym_key_kind = "tenant-pseudonym";

// Names a verifier requires in every forwarded request unless configured otherwise.
[[nodiscard]] std::vector<std::string> default_required_request_fields();
// Names a receipt verifier requires unless told otherwise.
[[nodiscard]] std::vector<std::string> default_required_receipt_fields();

// True for `Sovereign-*` (any case).
[[nodiscard]] bool is_sovereign_field(std::string_view name);

// A fresh nonce: 128 random bits, base64url without padding.
[[nodiscard]] std::string make_nonce();

// The keyid of an hmac-sha256 secret: "hmac-" and the base64url of the first 16 bytes of
// SHA-256("sovgw hmac-sha256 keyid" || 0x00 || secret). Both sides derive it; no secret leaks.
[[nodiscard]] std::string hmac_keyid(const secret_bytes& secret);

// The components the gateway covers on `request` (see above).
[[nodiscard]] std::vector<component> forwarded_request_components(const message_view& request);

struct request_signing {
  std::int64_t created = 0;    // Unix seconds
  std::int64_t lifetime = 60;  // expires = created + lifetime
  std::string nonce;           // make_nonce()
};

// Signs a request as forwarded: `request.fields` must already hold the Content-Digest (for a body)
// and the Sovereign-* fields exactly as they will be sent. Append the result's fields as
// `Signature-Input` and `Signature` (replacing any the client sent).
[[nodiscard]] sign_result sign_forwarded_request(const message_view& request, const signing_key& key,
                                                 const request_signing& when);

struct request_verifier {
  std::function<const verification_key*(std::string_view keyid)> resolve_key;
  std::function<std::int64_t()> now;  // Unix seconds; required
  std::int64_t max_age = 300;
  std::int64_t max_skew = 30;
  std::vector<std::string> required_fields = default_required_request_fields();
  // The name of the cluster this verifier serves, as the gateway's configuration names it
  // (`clusters[].name`). When set, sovereign-cluster must be covered and be this String; empty:
  // a request signed for any cluster is accepted.
  std::string cluster;
  nonce_cache* nonces = nullptr;  // replays are only refused with a cache (once per cache)
  // Field names (any case) a request may carry uncovered: what the operator's own balancer adds
  // between the gateway and this verifier. A name that reads as Sovereign-* or as a covered field
  // is refused anyway.
  std::vector<std::string> allowed_uncovered;
};

// Verifies a forwarded request and its body (the bytes received, after de-chunking).
[[nodiscard]] verify_result verify_forwarded_request(const message_view& request,
                                                     std::span<const std::uint8_t> body,
                                                     const request_verifier& policy);

// The components of a receipt for `response` answering `request` (the client's request; an empty
// method: no request line was read, and the receipt is bound to none).
[[nodiscard]] std::vector<component> receipt_components(const message_view& response,
                                                        const message_view& request);

// Signs a receipt: `response.fields` must hold the Sovereign-* fields as they will be sent.
[[nodiscard]] sign_result sign_receipt(const message_view& response, const message_view& request,
                                       const signing_key& key, std::int64_t created);

struct receipt_verifier {
  std::function<const verification_key*(std::string_view keyid)> resolve_key;
  std::vector<std::string> required_fields = default_required_receipt_fields();
};

// Verifies a saved receipt offline (no clock, no nonce): the response head and the request it answers.
[[nodiscard]] verify_result verify_receipt(const message_view& response, const message_view& request,
                                           const receipt_verifier& policy);

}  // namespace sovgw::crypto::httpsig
