#include "crypto/content_digest.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string>
#include <vector>

#include "crypto/structured_field.hpp"

namespace sovgw::crypto {

namespace {

std::span<const std::uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

sf::byte_sequence hash(std::span<const std::uint8_t> content, digest_algorithm algorithm) {
  std::array<std::uint8_t, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  const EVP_MD* md = algorithm == digest_algorithm::sha256 ? EVP_sha256() : EVP_sha512();
  if (EVP_Digest(content.data(), content.size(), out.data(), &len, md, nullptr) != 1) {
    throw std::runtime_error("EVP_Digest failed");
  }
  return {out.begin(), out.begin() + len};
}

}  // namespace

bool checked_algorithm(std::string_view key) { return key == "sha-256" || key == "sha-512"; }

std::string content_digest(std::span<const std::uint8_t> content, digest_algorithm algorithm) {
  const sf::dictionary field{{algorithm == digest_algorithm::sha256 ? "sha-256" : "sha-512",
                              sf::item{hash(content, algorithm), {}}}};
  return sf::serialize(field).value();
}

std::string content_digest(std::string_view content, digest_algorithm algorithm) {
  return content_digest(bytes_of(content), algorithm);
}

const char* to_string(digest_verdict verdict) {
  switch (verdict) {
    case digest_verdict::ok:
      return "ok";
    case digest_verdict::malformed:
      return "malformed";
    case digest_verdict::no_known_algorithm:
      return "no_known_algorithm";
    case digest_verdict::mismatch:
      return "mismatch";
  }
  return "unknown";
}

digest_verdict verify_content_digest(std::string_view field_value, std::span<const std::uint8_t> content) {
  std::vector<std::string> repeated;
  const auto parsed = sf::parse_dictionary(field_value, repeated);
  if (!parsed.ok()) {
    return digest_verdict::malformed;
  }
  // A Dictionary keeps a repeated key's last member (RFC 8941 4.2.2), so the first one would go
  // unchecked while a reader taking the first sees it: an algorithm given twice is malformed.
  if (std::any_of(repeated.begin(), repeated.end(),
                  [](const std::string& key) { return checked_algorithm(key); })) {
    return digest_verdict::malformed;
  }
  bool any_known = false;
  for (const auto& m : parsed.value()) {
    digest_algorithm algorithm{};
    if (m.key == "sha-256") {
      algorithm = digest_algorithm::sha256;
    } else if (m.key == "sha-512") {
      algorithm = digest_algorithm::sha512;
    } else {
      continue;
    }
    const auto* it = std::get_if<sf::item>(&m.value);
    const auto* received = it != nullptr ? std::get_if<sf::byte_sequence>(&it->value) : nullptr;
    if (received == nullptr) {
      return digest_verdict::malformed;
    }
    any_known = true;
    const sf::byte_sequence expected = hash(content, algorithm);
    if (received->size() != expected.size() ||
        CRYPTO_memcmp(received->data(), expected.data(), expected.size()) != 0) {
      return digest_verdict::mismatch;
    }
  }
  return any_known ? digest_verdict::ok : digest_verdict::no_known_algorithm;
}

digest_verdict verify_content_digest(std::string_view field_value, std::string_view content) {
  return verify_content_digest(field_value, bytes_of(content));
}

}  // namespace sovgw::crypto
