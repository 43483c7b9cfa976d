#pragma once

#include <rocksdb/write_batch.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "audit/record.hpp"
#include "audit/status.hpp"
#include "crypto/sealed_box.hpp"
#include "crypto/secret_bytes.hpp"

// Payload encryption at rest. Each tenant has random XChaCha20-Poly1305 data keys, stored in the
// `keys` column family only sealed to the auditor's X25519 public key: the gateway host (its keys
// and the database) cannot open a stored payload. A writer keeps the plaintext data key in memory
// while it runs, to seal new payloads; after a restart it cannot read the stored keys back, so
// its first payload for a tenant starts a new key version. Destroying a tenant's data keys
// (crypto-shredding) makes its payloads unreadable while leaves, ciphertext hashes and proofs
// stay valid.
//
// Each data key version is committed in the signed log: the first records sealed under it carry
// its version, the SHA-256 of its sealed bytes as stored and the auditor key it was sealed to
// (record::data_key_*), until one of them is durable. A verifier needs no secret to check that the
// stored data keys are the ones the log committed, sealed to one auditor key (payload_verifier.hpp).
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
  // `kek` (kek.key) only keys the client-address pseudonyms; `auditor` is the key data keys are
  // sealed to.
  payload_vault(store& s, const crypto::secret_bytes& kek, const crypto::box_public_key& auditor);

  // Encrypts `plaintext` under the tenant's data key of this process (on first use, a new version,
  // durably stored sealed to the auditor) bound to `associated_data`. Returns the blob and, until a
  // record carrying it is durable, the data key's commitment: the caller puts it in the record
  // (record::data_key_*) and, once that record is durable, sets `*committed` so that later records
  // stop carrying it (records sealed meanwhile carry it too: repeats are identical).
  struct sealed {
    std::string blob;
    bool carries_commitment = false;
    std::uint32_t data_key_version = 0;
    std::string data_key_digest;                   // lowercase hex SHA-256 of the data key as stored, sealed
    std::string auditor_key;                       // base64 of the auditor public key it was sealed to
    std::shared_ptr<std::atomic<bool>> committed;  // set when carries_commitment
  };
  [[nodiscard]] result<sealed> seal(const std::string& tenant, std::span<const std::uint8_t> plaintext,
                                    std::span<const std::uint8_t> associated_data);

  // Destroys every data key of `tenant` (and compacts them out of the key column family).
  struct shred_result {
    std::vector<std::uint32_t> destroyed;  // the key versions destroyed now, ascending
    bool already_shredded = false;         // the tenant's keys were destroyed before
  };
  [[nodiscard]] result<shred_result> shred(const std::string& tenant);

  // Older logs also stored each data key wrapped by the KEK, which let anyone with
  // kek.key and the database read every payload. Drops those copies (the sealed ones stay) and
  // compacts them out of the key column family. Returns how many entries it rewrote.
  [[nodiscard]] result<std::uint64_t> remove_wrapped_copies();

  // Keyed BLAKE2b of a client address: "b2:<32 hex>" (stable across restarts: keyed by kek.key).
  [[nodiscard]] std::string pseudonymise_ip(std::string_view ip) const;

 private:
  struct tenant_key {
    std::uint32_t version = 0;
    crypto::secret_bytes key;
    std::string digest;  // data_key_entry_digest of its entry
    // A record committing to this version is durable. Shared: a shred may drop the cache entry
    // while records carrying the commitment are in flight.
    std::shared_ptr<std::atomic<bool>> committed = std::make_shared<std::atomic<bool>>(false);
  };
  result<const tenant_key*> key_for(const std::string& tenant);
  status rewrite_key_store(rocksdb::WriteBatch& batch);  // synced, then flushed and compacted

  store& store_;
  crypto::box_public_key auditor_{};
  std::string auditor_base64_;
  crypto::secret_bytes ip_key_;
  std::mutex mutex_;
  std::unordered_map<std::string, tenant_key> cache_;
};

// The form of one entry of the `keys` column family, without opening anything: a tenant's current
// key version (`cur` || tenant -> be32 version || state) or one of its data keys (`dk` || tenant ||
// be32 version -> a data key sealed to the auditor, with or without an older KEK-wrapped copy).
[[nodiscard]] bool is_well_formed_key_entry(std::string_view key, std::string_view value);

// The data key store as a verifier reads it: per tenant, its stored data keys (each entry as
// stored, by version) and its current-version entry. Entries without their form are counted, not
// kept.
struct data_key_store {
  struct tenant_keys {
    std::map<std::uint32_t, std::string> data_keys;  // version -> the entry (is_well_formed_key_entry)
    std::optional<std::uint32_t> current;            // the version its current-version entry names
  };
  std::map<std::string, tenant_keys> tenants;
  std::uint64_t entries = 0;    // every entry read
  std::uint64_t malformed = 0;  // entries that are neither a data key nor a current version
};
[[nodiscard]] result<data_key_store> read_data_key_store(const store& s);

// The lowercase hex SHA-256 of a data key entry's key sealed to the auditor (what a record's
// data_key_digest commits to: the same after remove_wrapped_copies); nullopt when it is not one.
[[nodiscard]] std::optional<std::string> data_key_entry_digest(std::string_view entry);

// The data key version a stored payload blob was sealed under; nullopt when the blob is not one.
[[nodiscard]] std::optional<std::uint32_t> payload_key_version(std::string_view blob);

class log_events;

// Auditor side. The auditor's key pair.
struct auditor_keys {
  const crypto::box_public_key& public_key;
  const crypto::secret_bytes& secret_key;
};
// A data key entry opened with the auditor key; nullopt when it does not open (not sealed to this
// auditor, or not a data key).
[[nodiscard]] std::optional<crypto::secret_bytes> open_data_key(std::string_view entry,
                                                                const auditor_keys& auditor);
// The payload of `r` from its stored blob and data key; nullopt when it does not open (the key is
// not the one it was sealed under, or the blob or record differ from what was sealed).
[[nodiscard]] std::optional<payload> open_blob(std::string_view blob, const crypto::secret_bytes& data_key,
                                               const record& r);

// Whether `prompt`, the request payload of `r` opened, is the body `r` says was forwarded. A record
// with a forwarded_digest (a request the gateway signed for its cluster) seals the body exactly as
// forwarded, a redaction or the gateway's own edit (stream_options.include_usage) applied: its
// Content-Digest is the forwarded_digest. True when `r` has none (forwarded unsigned, with an empty
// body, or not at all). When false, forwarded_body_mismatch says how they differ, for a message.
[[nodiscard]] bool is_forwarded_body(const record& r, std::string_view prompt);
[[nodiscard]] std::string forwarded_body_mismatch(const record& r, std::string_view prompt);

// Whether `data_key`, tenant r.tenant's data key `version`, opens one of the tenant's other stored
// payloads under that version than r's: true at the first that opens, false when every one tried
// fails, nullopt when none was found to try. Reads the payloads beside r's first, at most a few
// thousand, and tries at most 16.
[[nodiscard]] std::optional<bool> opens_other_payload(const store& s, const record& r, std::uint32_t version,
                                                      const crypto::secret_bytes& data_key);

// Decrypts the payload of `r` with the auditor key pair. Errors say why a payload cannot be read:
// not recorded, altered, dropped by retention or its data key destroyed by crypto-shredding (as
// `events`, those logged after `r`, say: read_log_events), or missing without such an event (the
// log was tampered with), or a data key that does not open it (replaced, or, when it opens the
// tenant's other payloads, the record or its payload changed after sealing). A payload that opens
// but whose prompt is not the body forwarded (is_forwarded_body) is returned: the caller says so.
[[nodiscard]] result<payload> open_payload(const store& s, const record& r, const auditor_keys& auditor,
                                           const log_events& events);

}  // namespace sovgw::audit
