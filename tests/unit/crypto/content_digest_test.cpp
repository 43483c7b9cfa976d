// RFC 9530 Content-Digest. The vectors are RFC 9530's own: appendix D ("Sample Digest Values",
// `{"hello": "world"}`), B.1 (the same object and a LF), B.2 (empty content) and B.3 (partial
// content), taken from the RFC source in github.com/httpwg/http-extensions,
// archive/draft-ietf-httpbis-digest-headers.md at commit e9067eba ("Digest and Signatures
// published as RFCs"), found with the search tool.

#include "crypto/content_digest.hpp"

#include <doctest/doctest.h>

namespace c = sovgw::crypto;

TEST_CASE("Content-Digest matches RFC 9530's examples") {
  struct row {
    const char* content;
    c::digest_algorithm algorithm;
    const char* field;
  };
  const row rows[] = {
      {R"({"hello": "world"})", c::digest_algorithm::sha256,
       "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"},
      {R"({"hello": "world"})", c::digest_algorithm::sha512,
       "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"},
      {"{\"hello\": \"world\"}\n", c::digest_algorithm::sha256,
       "sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:"},
      {"{\"hello\": \"world\"}\n", c::digest_algorithm::sha512,
       "sha-512=:YMAam51Jz/jOATT6/zvHrLVgOYTGFy1d6GJiOHTohq4yP+pgk4vf2aCsyRZOtw8MjkM7iw7yZ/WkppmM44T3qg==:"},
      {"", c::digest_algorithm::sha256, "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"},
      {"\"world\"}\n", c::digest_algorithm::sha256, "sha-256=:jjcgBDWNAtbYUXI37CVG3gRuGOAjaaDRGpIUFsdyepQ=:"},
  };
  for (const row& r : rows) {
    INFO(std::string(r.field));
    CHECK(c::content_digest(std::string_view(r.content), r.algorithm) == r.field);
    CHECK(c::verify_content_digest(r.field, std::string_view(r.content)) == c::digest_verdict::ok);
  }
}

TEST_CASE("Content-Digest verification names why it fails") {
  const std::string_view body = R"({"hello": "world"})";
  const std::string sha256 = "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:";
  const std::string sha512 =
      "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:";
  struct row {
    std::string field;
    std::string_view content;
    c::digest_verdict verdict;
  };
  const row rows[] = {
      {sha256 + ", " + sha512, body, c::digest_verdict::ok},
      {"md5=:Sd/dVLAcvNLSq16eXua5uQ==:, " + sha256, body, c::digest_verdict::ok},  // unknown keys ignored
      {sha256, R"({"hello": "world!"})", c::digest_verdict::mismatch},
      {sha256, "", c::digest_verdict::mismatch},
      // A right sha-512 does not excuse a wrong sha-256.
      {"sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:, " + sha512, body,
       c::digest_verdict::mismatch},
      {"sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDU:", body, c::digest_verdict::mismatch},  // truncated digest
      {"md5=:Sd/dVLAcvNLSq16eXua5uQ==:", body, c::digest_verdict::no_known_algorithm},
      {"", body, c::digest_verdict::no_known_algorithm},
      {"sha-256=\"X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=\"", body, c::digest_verdict::malformed},
      {"sha-256", body, c::digest_verdict::malformed},
      {"sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=", body, c::digest_verdict::malformed},
      {"SHA-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:", body, c::digest_verdict::malformed},
      // An algorithm given twice: the Dictionary keeps the last, so the first would go unchecked
      // (probe round 45), even when both are right.
      {"sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:, " + sha256, body,
       c::digest_verdict::malformed},
      {"sha-256=?1, " + sha256, body, c::digest_verdict::malformed},
      {sha256 + ", " + sha256, body, c::digest_verdict::malformed},
      {sha512 + ", " + sha256 + ", " + sha512, body, c::digest_verdict::malformed},
      {"md5=:Sd/dVLAcvNLSq16eXua5uQ==:, md5=:Sd/dVLAcvNLSq16eXua5uQ==:, " + sha256, body,
       c::digest_verdict::ok},
  };
  for (const row& r : rows) {
    INFO(std::string(r.field));
    CHECK(c::verify_content_digest(r.field, r.content) == r.verdict);
  }
  CHECK(std::string(c::to_string(c::digest_verdict::mismatch)) == "mismatch");
}
