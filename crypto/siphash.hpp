#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace sovgw::crypto {

// SipHash-2-4 (libsodium crypto_shorthash): a fast keyed PRF with 64-bit output, for hash tables
// and set fingerprints that whoever wrote the data must not be able to steer. The key is random,
// drawn at construction; one instance may be shared by threads (it is immutable).
class siphash {
 public:
  siphash();
  [[nodiscard]] std::uint64_t operator()(std::string_view data) const;

 private:
  std::array<unsigned char, 16> key_{};
};

}  // namespace sovgw::crypto
