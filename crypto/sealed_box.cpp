#include "crypto/sealed_box.hpp"

#include <sodium.h>

#include <stdexcept>

namespace sovgw::crypto {

static_assert(box_public_key_size == crypto_box_PUBLICKEYBYTES);
static_assert(box_secret_key_size == crypto_box_SECRETKEYBYTES);
static_assert(box_seal_overhead == crypto_box_SEALBYTES);

box_key_pair box_generate_key_pair() {
  ensure_sodium();
  box_key_pair pair{{}, secret_bytes(box_secret_key_size)};
  crypto_box_keypair(pair.public_key.data(), pair.secret_key.data());
  return pair;
}

box_public_key box_public_from_secret(const secret_bytes& secret_key) {
  ensure_sodium();
  if (secret_key.size() != box_secret_key_size) {
    throw std::invalid_argument("X25519 secret key must be 32 bytes");
  }
  box_public_key pk{};
  crypto_scalarmult_base(pk.data(), secret_key.data());
  return pk;
}

std::vector<std::uint8_t> box_seal(const box_public_key& recipient, std::span<const std::uint8_t> plaintext) {
  ensure_sodium();
  std::vector<std::uint8_t> out(plaintext.size() + crypto_box_SEALBYTES);
  if (crypto_box_seal(out.data(), plaintext.data(), plaintext.size(), recipient.data()) != 0) {
    throw std::runtime_error("crypto_box_seal failed");
  }
  return out;
}

std::optional<secret_bytes> box_open(const box_public_key& public_key, const secret_bytes& secret_key,
                                     std::span<const std::uint8_t> sealed) {
  ensure_sodium();
  if (secret_key.size() != box_secret_key_size || sealed.size() < crypto_box_SEALBYTES) {
    return std::nullopt;
  }
  secret_bytes plain(sealed.size() - crypto_box_SEALBYTES);
  if (crypto_box_seal_open(plain.data(), sealed.data(), sealed.size(), public_key.data(),
                           secret_key.data()) != 0) {
    return std::nullopt;
  }
  return plain;
}

}  // namespace sovgw::crypto
