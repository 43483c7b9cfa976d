#include "crypto/aead.hpp"

#include <sodium.h>

#include <stdexcept>

namespace sovgw::crypto {

static_assert(aead_key_size == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(aead_nonce_size == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(aead_tag_size == crypto_aead_xchacha20poly1305_ietf_ABYTES);

secret_bytes aead_generate_key() {
  ensure_sodium();
  secret_bytes key(aead_key_size);
  crypto_aead_xchacha20poly1305_ietf_keygen(key.data());
  return key;
}

std::vector<std::uint8_t> aead_seal(const secret_bytes& key, std::span<const std::uint8_t> plaintext,
                                    std::span<const std::uint8_t> associated_data) {
  ensure_sodium();
  if (key.size() != aead_key_size) {
    throw std::invalid_argument("XChaCha20-Poly1305 key must be 32 bytes");
  }
  std::vector<std::uint8_t> box(aead_nonce_size + plaintext.size() + aead_tag_size);
  randombytes_buf(box.data(), aead_nonce_size);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(box.data() + aead_nonce_size, &written, plaintext.data(),
                                             plaintext.size(), associated_data.data(), associated_data.size(),
                                             nullptr, box.data(), key.data());
  box.resize(aead_nonce_size + written);
  return box;
}

std::optional<secret_bytes> aead_open(const secret_bytes& key, std::span<const std::uint8_t> box,
                                      std::span<const std::uint8_t> associated_data) {
  ensure_sodium();
  if (key.size() != aead_key_size || box.size() < aead_nonce_size + aead_tag_size) {
    return std::nullopt;
  }
  secret_bytes plain(box.size() - aead_nonce_size - aead_tag_size);
  unsigned long long written = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          plain.data(), &written, nullptr, box.data() + aead_nonce_size, box.size() - aead_nonce_size,
          associated_data.data(), associated_data.size(), box.data(), key.data()) != 0) {
    return std::nullopt;
  }
  return plain;
}

}  // namespace sovgw::crypto
