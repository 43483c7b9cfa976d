#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "crypto/secret_bytes.hpp"

namespace sovgw::crypto {

// Ed25519 (RFC 8032) through libsodium. Secret keys are libsodium's 64-byte form (seed || public
// key). Thread-safe.
inline constexpr std::size_t ed25519_public_key_size = 32;
inline constexpr std::size_t ed25519_secret_key_size = 64;
inline constexpr std::size_t ed25519_signature_size = 64;

using ed25519_public_key = std::array<std::uint8_t, ed25519_public_key_size>;
using ed25519_signature = std::array<std::uint8_t, ed25519_signature_size>;

struct ed25519_key_pair {
  ed25519_public_key public_key{};
  secret_bytes secret_key;
};

[[nodiscard]] ed25519_key_pair ed25519_generate_key_pair();

// The public half embedded in a 64-byte secret key. Throws std::invalid_argument on a bad size.
[[nodiscard]] ed25519_public_key ed25519_public_from_secret(const secret_bytes& secret_key);

// Throws std::invalid_argument if the secret key is not 64 bytes.
[[nodiscard]] ed25519_signature ed25519_sign(const secret_bytes& secret_key,
                                             std::span<const std::uint8_t> message);

[[nodiscard]] bool ed25519_verify(const ed25519_public_key& public_key, std::span<const std::uint8_t> message,
                                  std::span<const std::uint8_t> signature);

}  // namespace sovgw::crypto
