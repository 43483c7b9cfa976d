#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace sovgw::crypto {

// BLAKE2b (libsodium crypto_generichash). `out_size` in [16, 64]; `key` empty or [16, 64] bytes
// (keyed mode is a MAC / PRF, e.g. for pseudonymising client addresses). Throws
// std::invalid_argument on bad sizes. Thread-safe.
[[nodiscard]] std::vector<std::uint8_t> blake2b(std::span<const std::uint8_t> data, std::size_t out_size = 32,
                                                std::span<const std::uint8_t> key = {});
// The same into `out` (its size is the output size), without allocating.
void blake2b(std::span<const std::uint8_t> data, std::span<std::uint8_t> out,
             std::span<const std::uint8_t> key = {});

}  // namespace sovgw::crypto
