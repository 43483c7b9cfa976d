#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "crypto/secret_bytes.hpp"

namespace sovgw::crypto {

// XChaCha20-Poly1305 (IETF, libsodium). The 24-byte random nonce makes random nonces safe, so
// one key can seal many messages. Thread-safe: all functions are pure over their arguments.
inline constexpr std::size_t aead_key_size = 32;
inline constexpr std::size_t aead_nonce_size = 24;
inline constexpr std::size_t aead_tag_size = 16;

// A fresh random 32-byte key.
[[nodiscard]] secret_bytes aead_generate_key();

// Seals `plaintext` bound to `associated_data`. Output layout: nonce (24) || ciphertext || tag (16).
// Throws std::invalid_argument if the key is not 32 bytes.
[[nodiscard]] std::vector<std::uint8_t> aead_seal(const secret_bytes& key,
                                                  std::span<const std::uint8_t> plaintext,
                                                  std::span<const std::uint8_t> associated_data);

// Opens a box made by aead_seal. nullopt if it is truncated, forged, or the key or associated
// data differ. The plaintext is returned in wiping storage.
[[nodiscard]] std::optional<secret_bytes> aead_open(const secret_bytes& key,
                                                    std::span<const std::uint8_t> box,
                                                    std::span<const std::uint8_t> associated_data);

}  // namespace sovgw::crypto
