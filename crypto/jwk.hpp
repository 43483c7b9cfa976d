#pragma once

// Publishing and reading Ed25519 verification keys: RFC 8037 JWK (`{"kty":"OKP","crv":"Ed25519",
// "x":...}`), PEM SubjectPublicKeyInfo (RFC 8410, through OpenSSL), and the RFC 7638 JWK
// thumbprint that sovgw uses as the key's `keyid`.
//
// Pure code (no files: the caller reads them), thread-safe.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/ed25519.hpp"

namespace sovgw::crypto {

// Base64url without padding (RFC 4648 section 5), as JWKs and keyids use it.
[[nodiscard]] std::string to_base64url(std::span<const std::uint8_t> bytes);

// RFC 7638 SHA-256 thumbprint, base64url without padding (43 characters): the hash of
// `{"crv":"Ed25519","kty":"OKP","x":"<base64url key>"}`. Stable for a key, whatever else a JWK says.
[[nodiscard]] std::string ed25519_jwk_thumbprint(const ed25519_public_key& key);

// `{"kty":"OKP","crv":"Ed25519","x":"...","kid":"..."}`; the kid is the thumbprint when `kid` is empty.
[[nodiscard]] std::string ed25519_public_jwk(const ed25519_public_key& key, std::string_view kid = {});

// `-----BEGIN PUBLIC KEY-----` (SubjectPublicKeyInfo, OID 1.3.101.112), ending in a newline.
[[nodiscard]] std::string ed25519_public_pem(const ed25519_public_key& key);

enum class public_key_error : std::uint8_t {
  none,
  unrecognized,  // neither a PEM block nor a JSON object
  bad_pem,       // a PEM block OpenSSL cannot read as a public key
  not_ed25519,   // a public key of another type (RSA, P-256, ...)
  bad_json,      // not a JSON object
  not_okp,       // "kty" is not "OKP" or "crv" is not "Ed25519"
  bad_x,         // "x" missing, or not 32 bytes of base64url
  bad_kid,       // "kid" present but not a non-empty string
  private_key,   // the JWK or PEM carries private key material ("d"): never publish that
  key_mismatch,  // a JWK and a PEM block in one file (as `sovgw keys http-public` prints them) that
                 // are not the same key
  // JWK Sets (RFC 7517 section 5) only:
  bad_key_set,     // "keys" is not an array of JSON objects
  no_ed25519_key,  // no member is an Ed25519 key
  duplicate_kid,   // two different Ed25519 keys have the same kid (the same key twice is one key)
};

[[nodiscard]] const char* describe(public_key_error e);

struct public_key_result {
  public_key_error error = public_key_error::none;
  ed25519_public_key key{};
  std::string kid;  // the JWK's "kid", else the thumbprint
  [[nodiscard]] bool ok() const { return error == public_key_error::none; }
};

// Reads a published Ed25519 key: a PEM SubjectPublicKeyInfo, an RFC 8037 JWK, or both of one key
// in either order (what `sovgw keys http-public` prints by default: the JWK's kid is kept); leading
// and trailing whitespace allowed.
[[nodiscard]] public_key_result parse_ed25519_public_key(std::string_view text);

struct public_key_set_result {
  public_key_error error = public_key_error::none;
  std::optional<std::size_t> member;    // an error about one member of a JWK Set: which (from 0)
  std::vector<public_key_result> keys;  // each ok, kids distinct
  [[nodiscard]] bool ok() const { return error == public_key_error::none; }
};

// Reads the Ed25519 verification keys a file holds: a PEM SubjectPublicKeyInfo or one JWK (as
// parse_ed25519_public_key), or a JWK Set (`{"keys":[...]}`, what the admin listener serves at
// /.well-known/sovgw-keys.json). A set's members that are not Ed25519 keys (another kty or crv)
// are skipped, as RFC 7517 section 5 asks; any other bad member is an error naming it.
[[nodiscard]] public_key_set_result parse_ed25519_public_keys(std::string_view text);

// The key whose kid is `kid`, null when none is.
[[nodiscard]] const public_key_result* find_public_key(const public_key_set_result& set,
                                                       std::string_view kid);

}  // namespace sovgw::crypto
