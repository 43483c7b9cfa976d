#pragma once

// RFC 9530 Content-Digest: a Dictionary of hash algorithm -> Byte Sequence over the message content
// (the body bytes as sent, after any content coding). We produce sha-256 and check sha-256 and
// sha-512, the two algorithms RFC 9530 registers as "Active"; every other key is ignored, as
// section 2 allows (a recipient MAY ignore any digest).
//
// Pure code, thread-safe.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace sovgw::crypto {

enum class digest_algorithm : std::uint8_t { sha256, sha512 };

// The field value for `content`, e.g. `sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:`.
[[nodiscard]] std::string content_digest(std::span<const std::uint8_t> content,
                                         digest_algorithm algorithm = digest_algorithm::sha256);
[[nodiscard]] std::string content_digest(std::string_view content,
                                         digest_algorithm algorithm = digest_algorithm::sha256);

enum class digest_verdict : std::uint8_t {
  ok,                  // every sha-256 / sha-512 member matches, and there is at least one
  malformed,           // not a Dictionary, a known algorithm whose value is not a Byte Sequence,
                       // or a known algorithm given more than once
  no_known_algorithm,  // parses, but has neither sha-256 nor sha-512
  mismatch,            // a sha-256 or sha-512 member does not match the content
};

[[nodiscard]] const char* to_string(digest_verdict verdict);

// Whether `key` names a digest algorithm verify_content_digest checks (sha-256, sha-512).
[[nodiscard]] bool checked_algorithm(std::string_view key);

// Checks a received Content-Digest field value (several field lines joined with ", ") against the
// content received. Every member with a known algorithm must match: one wrong digest beside a right
// one is a mismatch, so a tampered body cannot hide behind a second, correct digest. A known
// algorithm given twice ("sha-256=:A:, sha-256=:B:", also over two field lines) is malformed: a
// Dictionary keeps only the last, so the first would go unchecked by this reading and be the one
// another reader takes.
[[nodiscard]] digest_verdict verify_content_digest(std::string_view field_value,
                                                   std::span<const std::uint8_t> content);
[[nodiscard]] digest_verdict verify_content_digest(std::string_view field_value, std::string_view content);

}  // namespace sovgw::crypto
