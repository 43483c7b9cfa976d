// Ed25519 key publication: JWK (RFC 8037), PEM (RFC 8410 SubjectPublicKeyInfo) and the RFC 7638
// thumbprint used as keyid.
//
// Vectors: RFC 8037 appendix A.1 (the secret "d" and public "x" of its Ed25519 key) and A.3 (that
// key's RFC 7638 thumbprint, kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k), from the RFC 8037 text
// (gmi.noulin.net/rfc/rfc8037 mirror, found with the search tool) and matching what several
// independent implementations in the code corpus test against; RFC 9421 appendix B.1.4 (the same
// test key as PEM SubjectPublicKeyInfo and as JWK), from the RFC 9421 source cited in
// http_signature_test.cpp.

#include "crypto/jwk.hpp"

#include <doctest/doctest.h>
#include <sodium.h>

#include <array>
#include <cstring>
#include <string>

namespace c = sovgw::crypto;

namespace {

c::ed25519_public_key from_b64url(const char* text) {
  c::ed25519_public_key out{};
  std::size_t len = 0;
  REQUIRE(sodium_base642bin(out.data(), out.size(), text, std::strlen(text), nullptr, &len, nullptr,
                            sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0);
  REQUIRE(len == out.size());
  return out;
}

constexpr const char* rfc9421_pem =
    "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=\n-----END "
    "PUBLIC KEY-----\n";

}  // namespace

TEST_CASE("RFC 8037 A.3: the JWK thumbprint of the RFC's Ed25519 key") {
  // A.1: the public key is derived from the secret "d".
  const c::ed25519_public_key d = from_b64url("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A");
  c::ed25519_public_key derived{};
  std::array<std::uint8_t, crypto_sign_SECRETKEYBYTES> sk{};
  crypto_sign_seed_keypair(derived.data(), sk.data(), d.data());
  const c::ed25519_public_key x = from_b64url("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
  CHECK(derived == x);
  CHECK(c::ed25519_jwk_thumbprint(x) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
  CHECK(c::ed25519_public_jwk(x) ==
        R"({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",)"
        R"("kid":"kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"})");
  // Another key, another thumbprint.
  c::ed25519_public_key other = x;
  other[0] ^= 1;
  CHECK(c::ed25519_jwk_thumbprint(other) != c::ed25519_jwk_thumbprint(x));
}

TEST_CASE("RFC 9421 B.1.4: our PEM is the RFC's, and OpenSSL reads PEM and JWK back") {
  const c::ed25519_public_key key = from_b64url("JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs");
  CHECK(c::ed25519_public_pem(key) == rfc9421_pem);

  const auto from_pem = c::parse_ed25519_public_key(rfc9421_pem);
  REQUIRE(from_pem.ok());
  CHECK(from_pem.key == key);
  CHECK(from_pem.kid == c::ed25519_jwk_thumbprint(key));

  const auto from_jwk = c::parse_ed25519_public_key(
      "\n {\"kty\": \"OKP\", \"crv\": \"Ed25519\", \"kid\": \"test-key-ed25519\","
      " \"x\": \"JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs\"}\n");
  REQUIRE(from_jwk.ok());
  CHECK(from_jwk.key == key);
  CHECK(from_jwk.kid == "test-key-ed25519");

  // Round trips through our own output, for a fresh key.
  const auto pair = c::ed25519_generate_key_pair();
  const auto pem = c::parse_ed25519_public_key(c::ed25519_public_pem(pair.public_key));
  REQUIRE(pem.ok());
  CHECK(pem.key == pair.public_key);
  const auto jwk = c::parse_ed25519_public_key(c::ed25519_public_jwk(pair.public_key, "gw-1"));
  REQUIRE(jwk.ok());
  CHECK(jwk.key == pair.public_key);
  CHECK(jwk.kid == "gw-1");
}

TEST_CASE("reading a published key says what is wrong with it") {
  struct row {
    std::string text;
    c::public_key_error error;
  };
  const row rows[] = {
      {"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
       c::public_key_error::unrecognized},
      {"", c::public_key_error::unrecognized},
      {"-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n", c::public_key_error::bad_pem},
      // RFC 9421 B.1.3, a P-256 key.
      {"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqIVYZVLCrPZHGHjP17CTW0/+D9Lf\n"
       "w0EkjqF7xB4FivAxzic30tMM4GF+hR6Dxh71Z50VGGdldkkDXZCnTNnoXQ==\n-----END PUBLIC KEY-----\n",
       c::public_key_error::not_ed25519},
      // RFC 9421 B.1.4, the private half.
      {"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n"
       "-----END PRIVATE KEY-----\n",
       c::public_key_error::private_key},
      {R"({"kty":"OKP","crv":"Ed25519","x":"JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs",)"
       R"("d":"n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU"})",
       c::public_key_error::private_key},
      {"{\"kty\":", c::public_key_error::bad_json},
      {R"({"kty":"EC","crv":"P-256","x":"qIVYZVLCrPZHGHjP17CTW0_-D9Lfw0EkjqF7xB4FivA"})",
       c::public_key_error::not_okp},
      {R"({"kty":"OKP","crv":"X25519","x":"JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs"})",
       c::public_key_error::not_okp},
      {R"({"kty":"OKP","crv":"Ed25519"})", c::public_key_error::bad_x},
      {R"({"kty":"OKP","crv":"Ed25519","x":"JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0b"})",
       c::public_key_error::bad_x},
      {R"({"kty":"OKP","crv":"Ed25519","x":"JrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs="})",
       c::public_key_error::bad_x},
      {R"({"kty":"OKP","crv":"Ed25519","x":"JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs","kid":7})",
       c::public_key_error::bad_kid},
      {R"({"kty":"OKP","crv":"Ed25519","x":"JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs","kid":""})",
       c::public_key_error::bad_kid},
  };
  for (const row& r : rows) {
    INFO(r.text);
    const auto got = c::parse_ed25519_public_key(r.text);
    CHECK(got.error == r.error);
    CHECK(std::string(c::describe(got.error)).size() > 10);
  }
}

TEST_CASE("a key file may hold the JWK and the PEM of one key, as keys http-public prints them") {
  const std::string x = "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs";  // RFC 9421 B.1.4: rfc9421_pem
  const std::string jwk = R"({"kty":"OKP","crv":"Ed25519","x":")" + x + R"(","kid":"gw-1"})";
  for (const std::string& text :
       {jwk + "\n" + rfc9421_pem, std::string(rfc9421_pem) + "\n\n" + jwk + "\n", "\n" + jwk + rfc9421_pem}) {
    INFO(text);
    const auto got = c::parse_ed25519_public_key(text);
    REQUIRE(got.ok());
    CHECK(got.kid == "gw-1");
    CHECK(got.key == c::parse_ed25519_public_key(rfc9421_pem).key);
    CHECK(c::parse_ed25519_public_keys(text).ok());
  }
  const std::string other =
      R"({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})";
  struct row {
    std::string text;
    c::public_key_error error;
  };
  const row rows[] = {
      {other + "\n" + rfc9421_pem, c::public_key_error::key_mismatch},
      {std::string(rfc9421_pem) + other, c::public_key_error::key_mismatch},
      {"{\"kty\":\n" + std::string(rfc9421_pem), c::public_key_error::bad_json},
      {jwk + "\n-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n",
       c::public_key_error::bad_pem},
      {jwk +
           "\n-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n"
           "-----END PRIVATE KEY-----\n",
       c::public_key_error::private_key},
      {jwk + "\n" + jwk, c::public_key_error::bad_json},
  };
  for (const row& r : rows) {
    INFO(r.text);
    CHECK(c::parse_ed25519_public_key(r.text).error == r.error);
    CHECK(c::parse_ed25519_public_keys(r.text).error == r.error);
  }
}

TEST_CASE("a key file may be a PEM, one JWK or a JWK Set; a set's keys are found by kid") {
  const std::string x = "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs";  // RFC 9421 B.1.4
  const std::string one = R"({"kty":"OKP","crv":"Ed25519","x":")" + x + R"(","kid":"gw-1"})";
  const auto single = c::parse_ed25519_public_keys(one);
  REQUIRE(single.ok());
  REQUIRE(single.keys.size() == 1);
  CHECK(c::find_public_key(single, "gw-1") != nullptr);
  CHECK(c::find_public_key(single, "gw-2") == nullptr);

  // Another kty is skipped (RFC 7517 section 5); a member without kid is found by its thumbprint.
  const std::string set =
      R"({"keys":[{"kty":"EC","crv":"P-256","x":"qIVYZVLCrPZHGHjP17CTW0_-D9Lfw0EkjqF7xB4FivA"},)" + one +
      R"(,{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]})";
  const auto keys = c::parse_ed25519_public_keys(set);
  REQUIRE(keys.ok());
  REQUIRE(keys.keys.size() == 2);
  CHECK(c::find_public_key(keys, "gw-1")->key == single.keys[0].key);
  CHECK(c::find_public_key(keys, keys.keys[1].kid) == &keys.keys[1]);
  CHECK(keys.keys[1].kid.size() == 43);  // the thumbprint

  // Sets served before and after a rotation, merged by an auditor: the same key twice is one key
  // (probe round 42).
  const auto merged = c::parse_ed25519_public_keys(R"({"keys":[)" + one + "," + one + "]}");
  REQUIRE(merged.ok());
  CHECK(merged.keys.size() == 1);
  CHECK(std::string(c::describe(c::public_key_error::duplicate_kid)) ==
        "two different keys of the JWK Set have the same \"kid\"");

  struct row {
    std::string text;
    c::public_key_error error;
    std::optional<std::size_t> member;
  };
  const row rows[] = {
      {R"({"keys":{}})", c::public_key_error::bad_key_set, std::nullopt},
      {R"({"keys":[1]})", c::public_key_error::bad_key_set, 0},
      {R"({"keys":[]})", c::public_key_error::no_ed25519_key, std::nullopt},
      {R"({"keys":[{"kty":"RSA"}]})", c::public_key_error::no_ed25519_key, std::nullopt},
      // One kid for two different keys (the same key twice is one key: below).
      {R"({"keys":[)" + one +
           R"(,{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"gw-1"}]})",
       c::public_key_error::duplicate_kid, 1},
      {R"({"keys":[)" + one + R"(,{"kty":"OKP","crv":"Ed25519","x":")" + x + R"(","d":"n4Ni"}]})",
       c::public_key_error::private_key, 1},
      {R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":"short"}]})", c::public_key_error::bad_x, 0},
      {"-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n", c::public_key_error::bad_pem,
       std::nullopt},
  };
  for (const row& r : rows) {
    INFO(r.text);
    const auto got = c::parse_ed25519_public_keys(r.text);
    CHECK(got.error == r.error);
    CHECK(got.member == r.member);
    CHECK(got.keys.empty());
    CHECK(std::string(c::describe(got.error)).size() > 10);
  }
}
