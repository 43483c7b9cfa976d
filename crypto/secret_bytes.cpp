#include "crypto/secret_bytes.hpp"

#include <sodium.h>

#include <stdexcept>
#include <string>

namespace sovgw::crypto {

void ensure_sodium() {
  static const int rc = sodium_init();
  if (rc < 0) {
    throw std::runtime_error("libsodium initialisation failed");
  }
}

secret_bytes& secret_bytes::operator=(secret_bytes&& other) noexcept {
  if (this != &other) {
    wipe();
    bytes_ = std::move(other.bytes_);
    other.bytes_.clear();
  }
  return *this;
}

void secret_bytes::wipe() {
  if (!bytes_.empty()) {
    sodium_memzero(bytes_.data(), bytes_.size());
  }
  bytes_.clear();
  bytes_.shrink_to_fit();
}

void wipe(std::span<std::uint8_t> bytes) {
  if (!bytes.empty()) {
    sodium_memzero(bytes.data(), bytes.size());
  }
}

void wipe(std::string& text) {
  if (!text.empty()) {
    sodium_memzero(text.data(), text.size());
  }
  text.clear();
}

void random_bytes(std::span<std::uint8_t> out) {
  ensure_sodium();
  randombytes_buf(out.data(), out.size());
}

}  // namespace sovgw::crypto
