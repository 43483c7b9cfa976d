#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "audit/record.hpp"
#include "audit/status.hpp"
#include "crypto/sealed_box.hpp"
#include "crypto/secret_bytes.hpp"

// Payload encryption at rest. Each tenant has a random XChaCha20-Poly1305 data key, stored in the
// `keys` column family twice: wrapped by the KEK (so the gateway can reuse it after a restart) and
// sealed to the auditor's X25519 key (so auditors, and only they, can read payloads offline).
// Destroying a tenant's data keys (crypto-shredding) makes its payloads unreadable while leaves,
// ciphertext hashes and proofs stay valid.
//
// Payload blob: u8 version=1 || be32 key version || nonce || ciphertext || tag; the leaf commits
// to SHA-256(blob). Plaintext: be32 length || prompt || be32 length || completion.
namespace sovgw::audit {

class store;

struct payload {
  std::string prompt;
  std::string completion;
};

[[nodiscard]] std::vector<std::uint8_t> encode_payload(const payload& p);

// Writer side. Thread-safe (one mutex around the tenant key cache; the AEAD runs outside it).
class payload_vault {
 public:
  payload_vault(store& s, crypto::secret_bytes kek, const crypto::box_public_key& auditor);

  // Encrypts `plaintext` under the tenant's current data key (creating and durably storing one
  // on first use) bound to `associated_data`. Returns the blob.
  [[nodiscard]] result<std::string> seal(const std::string& tenant, std::span<const std::uint8_t> plaintext,
                                         std::span<const std::uint8_t> associated_data);

  // Destroys every data key of `tenant` (and compacts them out of the key column family).
  struct shred_result {
    std::uint32_t destroyed = 0;    // key versions destroyed now
    bool already_shredded = false;  // the tenant's keys were destroyed before
  };
  [[nodiscard]] result<shred_result> shred(const std::string& tenant);

  // Keyed BLAKE2b of a client address: "b2:<32 hex>" (stable across restarts, needs the KEK).
  [[nodiscard]] std::string pseudonymise_ip(std::string_view ip) const;

 private:
  struct tenant_key {
    std::uint32_t version = 0;
    crypto::secret_bytes key;
  };
  result<const tenant_key*> key_for(const std::string& tenant);

  store& store_;
  crypto::secret_bytes kek_;
  crypto::box_public_key auditor_{};
  crypto::secret_bytes ip_key_;
  std::mutex mutex_;
  std::unordered_map<std::string, tenant_key> cache_;
};

// Auditor side: decrypts the payload of `r` with the auditor key pair. Errors say why a payload
// cannot be read (not recorded, dropped by retention, shredded, altered).
[[nodiscard]] result<payload> open_payload(const store& s, const record& r,
                                           const crypto::box_public_key& auditor_pk,
                                           const crypto::secret_bytes& auditor_sk);

}  // namespace sovgw::audit
