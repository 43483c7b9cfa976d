#include "crypto/blake2b.hpp"

#include <sodium.h>

#include <stdexcept>

#include "crypto/secret_bytes.hpp"

namespace sovgw::crypto {

void blake2b(std::span<const std::uint8_t> data, std::span<std::uint8_t> out,
             std::span<const std::uint8_t> key) {
  ensure_sodium();
  if (out.size() < crypto_generichash_BYTES_MIN || out.size() > crypto_generichash_BYTES_MAX) {
    throw std::invalid_argument("BLAKE2b output size must be 16..64 bytes");
  }
  if (!key.empty() &&
      (key.size() < crypto_generichash_KEYBYTES_MIN || key.size() > crypto_generichash_KEYBYTES_MAX)) {
    throw std::invalid_argument("BLAKE2b key must be 16..64 bytes");
  }
  crypto_generichash(out.data(), out.size(), data.data(), data.size(), key.empty() ? nullptr : key.data(),
                     key.size());
}

std::vector<std::uint8_t> blake2b(std::span<const std::uint8_t> data, std::size_t out_size,
                                  std::span<const std::uint8_t> key) {
  std::vector<std::uint8_t> out(out_size);
  blake2b(data, std::span<std::uint8_t>(out), key);
  return out;
}

}  // namespace sovgw::crypto
