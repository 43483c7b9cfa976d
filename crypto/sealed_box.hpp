#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "crypto/secret_bytes.hpp"

namespace sovgw::crypto {

// libsodium sealed boxes (X25519 + XSalsa20-Poly1305, anonymous sender): anyone with the public
// key seals, only the secret key holder opens. Used to wrap data keys for auditors.
inline constexpr std::size_t box_public_key_size = 32;
inline constexpr std::size_t box_secret_key_size = 32;
// A sealed box is its plaintext and this many bytes (crypto_box_SEALBYTES).
inline constexpr std::size_t box_seal_overhead = 48;

using box_public_key = std::array<std::uint8_t, box_public_key_size>;

struct box_key_pair {
  box_public_key public_key{};
  secret_bytes secret_key;
};

[[nodiscard]] box_key_pair box_generate_key_pair();

// Derives the public key from a secret key (to check a key pair matches). Throws on a bad size.
[[nodiscard]] box_public_key box_public_from_secret(const secret_bytes& secret_key);

[[nodiscard]] std::vector<std::uint8_t> box_seal(const box_public_key& recipient,
                                                 std::span<const std::uint8_t> plaintext);

// nullopt if the box is truncated, forged or sealed to another key.
[[nodiscard]] std::optional<secret_bytes> box_open(const box_public_key& public_key,
                                                   const secret_bytes& secret_key,
                                                   std::span<const std::uint8_t> sealed);

}  // namespace sovgw::crypto
