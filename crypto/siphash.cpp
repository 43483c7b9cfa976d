#include "crypto/siphash.hpp"

#include <sodium.h>

#include <cstring>

#include "crypto/secret_bytes.hpp"

namespace sovgw::crypto {

static_assert(crypto_shorthash_KEYBYTES == 16 && crypto_shorthash_BYTES == 8);

siphash::siphash() {
  ensure_sodium();
  crypto_shorthash_keygen(key_.data());
}

std::uint64_t siphash::operator()(std::string_view data) const {
  unsigned char out[crypto_shorthash_BYTES];
  crypto_shorthash(out, reinterpret_cast<const unsigned char*>(data.data()), data.size(), key_.data());
  std::uint64_t v = 0;
  std::memcpy(&v, out, sizeof v);
  return v;
}

}  // namespace sovgw::crypto
