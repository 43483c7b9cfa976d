#include "crypto/aead.hpp"

#include <pthread.h>
#include <sodium.h>

#include <array>
#include <cstring>
#include <mutex>
#include <stdexcept>

namespace sovgw::crypto {
namespace {

// XChaCha20 nonces are random and public (they travel with the ciphertext); they only must not
// repeat under one key. They come from the kernel's CSPRNG like every other random byte here, but
// 170 at a time: one getrandom() system call per seal was a measurable share of an audit append on
// a VM. A forked child drops the bytes it inherited, so parent and child never use the same ones
// (in the child only the forking thread exists, and the handler runs on it).
struct nonce_pool {
  std::array<std::uint8_t, 4096 - 4096 % aead_nonce_size> bytes{};
  std::size_t used = sizeof(bytes);
};
thread_local nonce_pool nonces;

void take_nonce(std::uint8_t* out) {
  static std::once_flag fork_handler;
  std::call_once(fork_handler,
                 [] { ::pthread_atfork(nullptr, nullptr, [] { nonces.used = sizeof(nonces.bytes); }); });
  if (nonces.used == sizeof(nonces.bytes)) {
    randombytes_buf(nonces.bytes.data(), nonces.bytes.size());
    nonces.used = 0;
  }
  std::memcpy(out, nonces.bytes.data() + nonces.used, aead_nonce_size);
  nonces.used += aead_nonce_size;
}

}  // namespace

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
  take_nonce(box.data());
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
