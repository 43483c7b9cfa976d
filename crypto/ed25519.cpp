#include "crypto/ed25519.hpp"

#include <sodium.h>

#include <algorithm>
#include <stdexcept>

namespace sovgw::crypto {

static_assert(ed25519_public_key_size == crypto_sign_PUBLICKEYBYTES);
static_assert(ed25519_secret_key_size == crypto_sign_SECRETKEYBYTES);
static_assert(ed25519_signature_size == crypto_sign_BYTES);

ed25519_key_pair ed25519_generate_key_pair() {
  ensure_sodium();
  ed25519_key_pair pair{{}, secret_bytes(ed25519_secret_key_size)};
  crypto_sign_keypair(pair.public_key.data(), pair.secret_key.data());
  return pair;
}

ed25519_public_key ed25519_public_from_secret(const secret_bytes& secret_key) {
  if (secret_key.size() != ed25519_secret_key_size) {
    throw std::invalid_argument("Ed25519 secret key must be 64 bytes");
  }
  ed25519_public_key pk{};
  crypto_sign_ed25519_sk_to_pk(pk.data(), secret_key.data());
  return pk;
}

ed25519_signature ed25519_sign(const secret_bytes& secret_key, std::span<const std::uint8_t> message) {
  ensure_sodium();
  if (secret_key.size() != ed25519_secret_key_size) {
    throw std::invalid_argument("Ed25519 secret key must be 64 bytes");
  }
  ed25519_signature sig{};
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), secret_key.data());
  return sig;
}

bool ed25519_verify(const ed25519_public_key& public_key, std::span<const std::uint8_t> message,
                    std::span<const std::uint8_t> signature) {
  ensure_sodium();
  if (signature.size() != ed25519_signature_size) {
    return false;
  }
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(), public_key.data()) ==
         0;
}

}  // namespace sovgw::crypto
