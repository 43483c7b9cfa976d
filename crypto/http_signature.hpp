#pragma once

// RFC 9421 HTTP Message Signatures: component values, the signature base, `Signature-Input` /
// `Signature` fields, signing and verification with `ed25519` (libsodium) and `hmac-sha256`.
//
// Pure code: the caller describes a message with a `message_view` (views into its own buffers)
// and gets values back; nothing here reads sockets, clocks or files. Verification takes the
// application's requirements (which key, which components, how old, which nonces were seen) as
// callbacks and values, and says why it failed in a type, never as a bare bool.
//
// Supported components: @method, @target-uri, @authority, @scheme, @request-target, @path, @query,
// @query-param (;name), @status, and header fields with the ;sf, ;key, ;bs and ;req parameters.
// Trailers (;tr) are refused (the gateway never signs or reads trailers).
//
// Thread-safety: everything is a value or a const function; signing_key and verification_key are
// immutable after construction and may be shared between threads.

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/ed25519.hpp"
#include "crypto/secret_bytes.hpp"
#include "crypto/structured_field.hpp"

namespace sovgw::crypto::httpsig {

// One header field line as received or about to be sent (any case; values without surrounding OWS).
struct field_line {
  std::string_view name;
  std::string_view value;
};

// What a signature can see of a request or a response. Views only: the caller keeps the strings
// alive for as long as the view is used.
struct message_view {
  // Request control data.
  std::string_view method;
  std::string_view scheme = "https";
  std::string_view authority;             // the Host field (or :authority), as sent
  std::string_view path;                  // absolute path, no query; "" is taken as "/"
  std::optional<std::string_view> query;  // without the "?"; nullopt when the target has no "?"
  // Response control data: a response has a status (100-999), a request has 0.
  int status = 0;
  std::span<const field_line> fields;

  [[nodiscard]] bool is_response() const { return status != 0; }
  // Sets path and query from an origin-form request target ("/v1/chat?x=1").
  void set_target(std::string_view target);
};

// A component identifier: a derived component ("@method") or a lower-case field name, with its
// parameters in the order they are serialized.
struct component {
  std::string name;
  sf::parameters params;

  [[nodiscard]] static component field(std::string_view name);  // lower-cases the name
  [[nodiscard]] static component derived(std::string_view name);
  // Builders for the RFC's parameters (they append, so call them in the order wanted).
  component& req();
  component& sf();
  component& bs();
  component& key(std::string member_key);
  component& query_name(std::string name);

  [[nodiscard]] bool has_flag(std::string_view flag) const;
  // RFC 9421 section 2: identifiers are equal when names and parameter *sets* are equal.
  [[nodiscard]] bool same_as(const component& other) const;
  // The serialized identifier, e.g. `"content-digest";req`.
  [[nodiscard]] std::string identifier() const;
};

// The metadata of one signature (RFC 9421 section 2.3). Serialized in this member order: the covered
// components, then created, expires, keyid, alg, nonce, tag (those that are set).
struct signature_params {
  std::vector<component> covered;
  std::optional<std::int64_t> created;
  std::optional<std::int64_t> expires;
  std::optional<std::string> keyid;
  std::optional<std::string> alg;
  std::optional<std::string> nonce;
  std::optional<std::string> tag;
};

enum class base_error : std::uint8_t {
  none,
  duplicate_component,        // the same identifier twice
  bad_component,              // not a String, an upper-case or invalid name, or @signature-params
  unknown_derived_component,  // "@foo"
  unknown_parameter,          // a parameter this component does not take (;tr included)
  incompatible_parameters,    // ;bs with ;sf or ;key
  req_in_request,             // ;req on a request signature
  no_request,                 // ;req on a response, but no request given
  not_for_this_message,       // @status on a request, or a request component on a response without ;req
  field_missing,              // the field is not in the message
  field_not_structured,       // ;sf on a field whose type is unknown, or a value that does not parse
  dictionary_key_missing,     // ;key names a member the Dictionary does not have
  query_param_missing,        // @query-param names a parameter absent (or repeated) in the query
  invalid_value,              // a derived value with a newline, control character or edge space
  not_ascii,                  // the base would contain a byte outside ASCII
  unserializable_params,      // a signature parameter that RFC 8941 cannot serialize
};

[[nodiscard]] const char* to_string(base_error e);

enum class sf_type : std::uint8_t { item, list, dictionary };
struct structured_field {
  std::string_view name;  // lower case
  sf_type type;
};

// What component values may be taken from besides the target message.
struct base_context {
  const message_view* request = nullptr;  // the request a response answers (for ;req)
  // Structured field types known besides RFC 9421's and RFC 9530's own fields (signature,
  // signature-input, accept-signature, content-digest, repr-digest, want-*-digest are built in).
  std::span<const structured_field> structured_fields;
};

struct base_result {
  std::string base;                     // the signature base when error == none
  base_error error = base_error::none;  //
  std::string component;                // the identifier that failed
  [[nodiscard]] bool ok() const { return error == base_error::none; }
};

// RFC 9421 section 2.5 over `covered`, ending in `"@signature-params": <signature_params_value>`.
[[nodiscard]] base_result signature_base(const message_view& message, std::span<const component> covered,
                                         std::string_view signature_params_value,
                                         const base_context& context = {});

// The `@signature-params` value (the Inner List also used as the Signature-Input member).
[[nodiscard]] sf::result<std::string> serialize_params(const signature_params& params);

enum class algorithm : std::uint8_t { ed25519, hmac_sha256 };
[[nodiscard]] std::string_view to_string(algorithm alg);
[[nodiscard]] std::optional<algorithm> algorithm_from_string(std::string_view name);

// Minimum shared secret for hmac-sha256 (RFC 9421 section 7.3.3 asks for a strong secret).
inline constexpr std::size_t hmac_min_secret_size = 32;

// A key that signs. Throws std::invalid_argument at construction on a bad key (start-up only).
class signing_key {
 public:
  [[nodiscard]] static signing_key ed25519(std::string keyid,
                                           secret_bytes secret_key);  // 64-byte libsodium key
  [[nodiscard]] static signing_key hmac_sha256(std::string keyid, secret_bytes secret);

  [[nodiscard]] algorithm alg() const { return alg_; }
  [[nodiscard]] const std::string& keyid() const { return keyid_; }
  // The signature of `base` (64 bytes for ed25519, 32 for hmac-sha256).
  [[nodiscard]] std::vector<std::uint8_t> sign(std::string_view base) const;

 private:
  signing_key(algorithm alg, std::string keyid, secret_bytes secret)
      : alg_(alg), keyid_(std::move(keyid)), secret_(std::move(secret)) {}
  algorithm alg_;
  std::string keyid_;
  secret_bytes secret_;
};

// A key that verifies. For hmac-sha256 it holds the shared secret.
class verification_key {
 public:
  [[nodiscard]] static verification_key ed25519(std::string keyid, const ed25519_public_key& public_key);
  [[nodiscard]] static verification_key hmac_sha256(std::string keyid, secret_bytes secret);

  [[nodiscard]] algorithm alg() const { return alg_; }
  [[nodiscard]] const std::string& keyid() const { return keyid_; }
  [[nodiscard]] bool verify(std::string_view base, std::span<const std::uint8_t> signature) const;

 private:
  verification_key(algorithm alg, std::string keyid) : alg_(alg), keyid_(std::move(keyid)) {}
  algorithm alg_;
  std::string keyid_;
  ed25519_public_key public_key_{};
  secret_bytes secret_;
};

// The two field members a signature adds: append `signature_input` to the message's
// Signature-Input field and `signature` to its Signature field (as new fields, or after ", ").
struct signature_fields {
  std::string signature_input;  // `label=("@method" ...);created=...`
  std::string signature;        // `label=:base64:`
};

struct sign_result {
  signature_fields fields;
  base_error error = base_error::none;
  std::string component;  // the identifier that failed
  [[nodiscard]] bool ok() const { return error == base_error::none; }
};

// Signs `message` under `label` (an RFC 8941 key) with `params` exactly as given. An `alg` in
// `params` must name the key's algorithm (std::invalid_argument otherwise: a programming error).
[[nodiscard]] sign_result sign(const message_view& message, std::string_view label,
                               const signature_params& params, const signing_key& key,
                               const base_context& context = {});

// Why a verification failed. One closed list; `to_string` gives the stable snake_case name used
// in 401 bodies and logs.
enum class verify_failure : std::uint8_t {
  none,
  missing_signature,           // no Signature-Input or no Signature field, or no candidate label
  malformed_signature_input,   // not a Dictionary of Inner Lists of component Strings with valid params
  malformed_signature,         // not a Dictionary, or the chosen member is not a Byte Sequence
  missing_signature_value,     // a label in Signature-Input that Signature does not have
  ambiguous_signature,         // the chosen label twice in Signature-Input or Signature, or (chosen
                               // by tag) two signatures with the tag: which one was meant is a guess
  unknown_key,                 // no keyid, or the resolver does not know it
  algorithm_mismatch,          // `alg` names another algorithm than the key's
  missing_created,             // `created` required but absent
  created_in_future,           // `created` beyond now + max_skew
  too_old,                     // `created` older than now - max_age
  expired,                     // `expires` passed
  missing_nonce,               // `nonce` required but absent
  tag_mismatch,                // the required tag is absent or different
  missing_required_component,  // a required component is not covered
  component_unavailable,       // a covered component cannot be taken from the message
  bad_signature,               // the cryptographic check failed
  replayed_nonce,              // the nonce hook has seen this nonce
  nonce_unverifiable,          // older than the oldest nonce the hook still remembers
  // Checks of the sovgw profile (crypto/signature_profile.hpp) beyond RFC 9421:
  uncovered_field,          // a field the profile requires to be covered is present but not covered
  repeated_field,           // a covered field on more than one field line (the signer writes one)
  content_digest_missing,   // a body without a covered Content-Digest
  content_digest_mismatch,  // Content-Digest does not match the body received
  content_digest_malformed,
  wrong_cluster,  // the covered Sovereign-Cluster names another cluster than the verifier's own
};

[[nodiscard]] const char* to_string(verify_failure f);

enum class nonce_check : std::uint8_t { fresh, replayed, unverifiable };

struct verify_options {
  // Returns the key for a keyid, or nullptr. Required.
  std::function<const verification_key*(std::string_view keyid)> resolve_key;
  // Verify the signature with this label; when empty, the signature whose tag matches `tag` (or
  // the first signature at all when `tag` is empty). A label given twice (RFC 8941 keeps the last
  // value) or, chosen by tag, a second signature with the tag is refused: ambiguous_signature.
  std::string label;
  std::string tag;  // when set, the signature's `tag` must equal it
  std::vector<component> required;
  // Unix seconds now. Required when max_age or expires is checked.
  std::function<std::int64_t()> now;
  std::optional<std::int64_t> max_age;  // refuse `created` older than this; nullopt: no limit
  std::int64_t max_skew = 0;            // tolerated clock difference for created (future) and expires
  bool require_created = true;
  bool require_nonce = false;
  // Called only for a signature that verified and has a nonce: says whether it is new and
  // remembers it. Unset: nonces are not checked.
  std::function<nonce_check(std::string_view keyid, std::string_view nonce, std::int64_t created)>
      check_nonce;
  base_context context;
};

struct verify_result {
  verify_failure failure = verify_failure::none;
  std::string detail;                  // the label, keyid, component or parameter concerned
  base_error base = base_error::none;  // for component_unavailable
  std::string label;                   // the signature chosen
  signature_params params;             // its parameters, as received (also on bad_signature and
                                       // component_unavailable)
  [[nodiscard]] bool ok() const { return failure == verify_failure::none; }
};

// Parses and verifies one signature of `message` (RFC 9421 section 3.2 plus the options' rules).
[[nodiscard]] verify_result verify(const message_view& message, const verify_options& options);

// The combined value of every field line named `name` (case-insensitive) joined with ", ", or
// nullopt when there is none.
[[nodiscard]] std::optional<std::string> combined_field(std::span<const field_line> fields,
                                                        std::string_view name);

}  // namespace sovgw::crypto::httpsig
