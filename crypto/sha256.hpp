#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

namespace sovgw::crypto {

using sha256_digest = std::array<std::uint8_t, 32>;

// SHA-256 through OpenSSL (which uses SHA-NI where the CPU has it). Thread-safe.
sha256_digest sha256(std::span<const std::uint8_t> data);
sha256_digest sha256(std::string_view data);

// Incremental SHA-256. Not thread-safe; one instance per computation.
class sha256_hasher {
 public:
  sha256_hasher();
  ~sha256_hasher();
  sha256_hasher(const sha256_hasher&) = delete;
  sha256_hasher& operator=(const sha256_hasher&) = delete;

  void update(std::span<const std::uint8_t> data);
  void update(std::string_view data);
  sha256_digest finish();

 private:
  void* ctx_;
};

}  // namespace sovgw::crypto
