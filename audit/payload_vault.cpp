#include "audit/payload_vault.hpp"

#include <fmt/format.h>
#include <rocksdb/options.h>

#include <algorithm>
#include <optional>

#include "audit/log_events.hpp"
#include "audit/store.hpp"
#include "crypto/aead.hpp"
#include "crypto/base64.hpp"
#include "crypto/blake2b.hpp"
#include "crypto/content_digest.hpp"
#include "crypto/hex.hpp"
#include "crypto/sha256.hpp"

namespace sovgw::audit {
namespace {

constexpr std::uint8_t blob_version = 1;
constexpr char state_active = '\x01';
constexpr char state_shredded = '\x00';

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

std::uint32_t read_be32(std::string_view b) {
  return std::uint32_t{static_cast<unsigned char>(b[0])} << 24 |
         std::uint32_t{static_cast<unsigned char>(b[1])} << 16 |
         std::uint32_t{static_cast<unsigned char>(b[2])} << 8 |
         std::uint32_t{static_cast<unsigned char>(b[3])};
}

std::string current_key(const std::string& tenant) { return "cur" + length_prefixed(tenant); }
std::string data_key_prefix(const std::string& tenant) { return "dk" + length_prefixed(tenant); }
std::string data_key_key(const std::string& tenant, std::uint32_t version) {
  return data_key_prefix(tenant) + be32(version);
}
// A data key entry: be32 length of a KEK-wrapped copy || that copy || the key sealed to the
// auditor. Written with no wrapped copy (length 0); older logs hold one, which
// remove_wrapped_copies() drops.
struct key_entry {
  std::string_view wrapped;
  std::string_view sealed;
};
std::optional<key_entry> read_key_entry(std::string_view e) {
  if (e.size() < 4 || read_be32(e) > e.size() - 4) {
    return std::nullopt;
  }
  const std::uint32_t wrapped_len = read_be32(e);
  return key_entry{e.substr(4, wrapped_len), e.substr(4 + wrapped_len)};
}
std::string sealed_only_entry(std::span<const std::uint8_t> sealed) {
  std::string entry = be32(0);
  entry.append(sealed.begin(), sealed.end());
  return entry;
}

}  // namespace

std::vector<std::uint8_t> encode_payload(const payload& p) {
  std::string out = be32(static_cast<std::uint32_t>(p.prompt.size())) + p.prompt +
                    be32(static_cast<std::uint32_t>(p.completion.size())) + p.completion;
  return {out.begin(), out.end()};
}

payload_vault::payload_vault(store& s, const crypto::secret_bytes& kek, const crypto::box_public_key& auditor)
    : store_(s), auditor_(auditor), auditor_base64_(crypto::to_base64(auditor)) {
  const std::string_view label = "sovgw-client-ip-v1";
  auto derived = crypto::blake2b(bytes_of(label), 32, kek.view());
  ip_key_ = crypto::secret_bytes(derived);
  crypto::wipe(std::span(derived));
}

std::string payload_vault::pseudonymise_ip(std::string_view ip) const {
  return "b2:" + crypto::to_hex(crypto::blake2b(bytes_of(ip), 16, ip_key_.view()));
}

result<const payload_vault::tenant_key*> payload_vault::key_for(const std::string& tenant) {
  if (auto it = cache_.find(tenant); it != cache_.end()) {
    return &it->second;
  }
  // The tenant's stored data keys are sealed to the auditor: this process cannot open them, so its
  // first payload for the tenant starts a new key version, kept in memory and sealed to the auditor.
  auto cur = store_.get(column::keys, current_key(tenant));
  if (!cur.is_ok()) {
    return cur.error();
  }
  // A new version never reuses a stored one, even if the current-version entry was lost (verify
  // --payloads reports that): it would replace a data key that older payloads need.
  std::uint32_t last = cur->has_value() && (*cur)->size() == 5 ? read_be32(**cur) : 0;
  const std::string prefix = data_key_prefix(tenant);
  auto stored = store_.iterate(column::keys);
  for (stored->Seek(prefix); stored->Valid() && stored->key().starts_with(prefix); stored->Next()) {
    if (stored->key().size() == prefix.size() + 4) {
      last = std::max(last, read_be32(stored->key().ToStringView().substr(prefix.size())));
    }
  }
  if (!stored->status().ok()) {
    return from_rocksdb(stored->status(), "reading tenant keys failed");
  }
  const std::uint32_t version = last + 1;
  auto key = crypto::aead_generate_key();
  const auto sealed = crypto::box_seal(auditor_, key.view());
  rocksdb::WriteBatch batch;
  batch.Put(store_.cf(column::keys), data_key_key(tenant, version), sealed_only_entry(sealed));
  batch.Put(store_.cf(column::keys), current_key(tenant), be32(version) + state_active);
  if (auto s = store_.write(batch, true); !s.is_ok()) {
    return s;
  }
  tenant_key made{
      .version = version, .key = std::move(key), .digest = crypto::to_hex(crypto::sha256(sealed))};
  return &cache_.emplace(tenant, std::move(made)).first->second;
}

result<payload_vault::sealed> payload_vault::seal(const std::string& tenant,
                                                  std::span<const std::uint8_t> plaintext,
                                                  std::span<const std::uint8_t> associated_data) {
  sealed out;
  crypto::secret_bytes key;
  {
    std::lock_guard lock(mutex_);
    auto k = key_for(tenant);
    if (!k.is_ok()) {
      return k.error();
    }
    out.data_key_version = (*k)->version;
    key = (*k)->key.clone();
    if (!(*k)->committed->load(std::memory_order_acquire)) {
      out.carries_commitment = true;
      out.data_key_digest = (*k)->digest;
      out.auditor_key = auditor_base64_;
      out.committed = (*k)->committed;
    }
  }
  const auto box = crypto::aead_seal(key, plaintext, associated_data);
  out.blob.assign(1, static_cast<char>(blob_version));
  out.blob += be32(out.data_key_version);
  out.blob.append(box.begin(), box.end());
  return out;
}

result<payload_vault::shred_result> payload_vault::shred(const std::string& tenant) {
  std::lock_guard lock(mutex_);
  cache_.erase(tenant);
  rocksdb::WriteBatch batch;
  shred_result out;
  std::uint32_t last_version = 0;
  const std::string prefix = data_key_prefix(tenant);
  auto it = store_.iterate(column::keys);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    batch.Delete(store_.cf(column::keys), it->key());
    if (it->key().size() == prefix.size() + 4) {
      out.destroyed.push_back(read_be32(it->key().ToStringView().substr(prefix.size())));
    }
  }
  if (!it->status().ok()) {
    return from_rocksdb(it->status(), "reading tenant keys failed");
  }
  auto cur = store_.get(column::keys, current_key(tenant));
  if (!cur.is_ok()) {
    return cur.error();
  }
  if (cur->has_value() && (*cur)->size() == 5) {
    last_version = read_be32(**cur);
    out.already_shredded = (**cur)[4] == state_shredded;
  }
  if (out.destroyed.empty()) {
    return out;
  }
  batch.Put(store_.cf(column::keys), current_key(tenant), be32(last_version) + state_shredded);
  if (auto s = rewrite_key_store(batch); !s.is_ok()) {
    return s;
  }
  return out;
}

status payload_vault::rewrite_key_store(rocksdb::WriteBatch& batch) {
  if (auto s = store_.write(batch, true); !s.is_ok()) {
    return s;
  }
  // Push the change through flush and compaction so that no SST file keeps what it replaced.
  rocksdb::FlushOptions fo;
  fo.wait = true;
  if (auto s = from_rocksdb(store_.db().Flush(fo, store_.cf(column::keys)), "flushing the key store failed");
      !s.is_ok()) {
    return s;
  }
  rocksdb::CompactRangeOptions co;
  co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  return from_rocksdb(store_.db().CompactRange(co, store_.cf(column::keys), nullptr, nullptr),
                      "compacting the key store failed");
}

result<std::uint64_t> payload_vault::remove_wrapped_copies() {
  std::lock_guard lock(mutex_);
  rocksdb::WriteBatch batch;
  std::uint64_t rewritten = 0;
  auto it = store_.iterate(column::keys);
  for (it->Seek("dk"); it->Valid() && it->key().starts_with("dk"); it->Next()) {
    const auto entry = read_key_entry(it->value().ToStringView());
    if (!entry) {
      return status{error_code::corruption, "a tenant data key entry is malformed"};
    }
    if (!entry->wrapped.empty()) {
      batch.Put(store_.cf(column::keys), it->key(), sealed_only_entry(bytes_of(entry->sealed)));
      ++rewritten;
    }
  }
  if (!it->status().ok()) {
    return from_rocksdb(it->status(), "reading tenant keys failed");
  }
  if (rewritten == 0) {
    return rewritten;
  }
  if (auto s = rewrite_key_store(batch); !s.is_ok()) {
    return s;
  }
  return rewritten;
}

bool is_well_formed_key_entry(std::string_view key, std::string_view value) {
  // `prefix` || u16 length || tenant || `suffix` bytes.
  const auto tenant_then = [&](std::string_view prefix, std::size_t suffix) {
    if (!key.starts_with(prefix) || key.size() < prefix.size() + 2) {
      return false;
    }
    const std::size_t n = static_cast<std::size_t>(static_cast<unsigned char>(key[prefix.size()])) << 8 |
                          static_cast<unsigned char>(key[prefix.size() + 1]);
    return key.size() == prefix.size() + 2 + n + suffix;
  };
  if (tenant_then("cur", 0)) {
    return value.size() == 5 && (value[4] == state_active || value[4] == state_shredded);
  }
  if (tenant_then("dk", 4)) {
    const auto entry = read_key_entry(value);
    return entry && entry->sealed.size() == crypto::aead_key_size + crypto::box_seal_overhead;
  }
  return false;
}

result<data_key_store> read_data_key_store(const store& s) {
  data_key_store out;
  // `prefix` || u16 length || tenant || what follows (empty for a current-version entry).
  const auto tenant_of = [](std::string_view key, std::string_view prefix, std::string_view& rest) {
    const std::size_t n = static_cast<std::size_t>(static_cast<unsigned char>(key[prefix.size()])) << 8 |
                          static_cast<unsigned char>(key[prefix.size() + 1]);
    rest = key.substr(prefix.size() + 2 + n);
    return std::string(key.substr(prefix.size() + 2, n));
  };
  auto it = s.iterate(column::keys, false);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ++out.entries;
    const auto key = it->key().ToStringView();
    const auto value = it->value().ToStringView();
    if (!is_well_formed_key_entry(key, value)) {
      ++out.malformed;
      continue;
    }
    std::string_view rest;
    if (key.starts_with("cur")) {
      out.tenants[tenant_of(key, "cur", rest)].current = read_be32(value);
    } else {
      auto& keys = out.tenants[tenant_of(key, "dk", rest)];
      keys.data_keys.emplace(read_be32(rest), std::string(value));
    }
  }
  if (!it->status().ok()) {
    return from_rocksdb(it->status(), "reading the data key store failed");
  }
  return out;
}

std::optional<std::string> data_key_entry_digest(std::string_view entry) {
  const auto e = read_key_entry(entry);
  if (!e) {
    return std::nullopt;
  }
  return crypto::to_hex(crypto::sha256(e->sealed));
}

std::optional<std::uint32_t> payload_key_version(std::string_view blob) {
  if (blob.size() < 5 || static_cast<std::uint8_t>(blob[0]) != blob_version) {
    return std::nullopt;
  }
  return read_be32(blob.substr(1));
}

std::optional<crypto::secret_bytes> open_data_key(std::string_view entry, const auditor_keys& auditor) {
  const auto sealed = read_key_entry(entry);
  if (!sealed) {
    return std::nullopt;
  }
  return crypto::box_open(auditor.public_key, auditor.secret_key, bytes_of(sealed->sealed));
}

std::optional<payload> open_blob(std::string_view blob, const crypto::secret_bytes& data_key,
                                 const record& r) {
  if (!payload_key_version(blob)) {
    return std::nullopt;
  }
  auto plain = crypto::aead_open(data_key, bytes_of(blob.substr(5)), payload_associated_data(r));
  if (!plain) {
    return std::nullopt;
  }
  const auto v = plain->view();
  payload p;
  const auto read_part = [&](std::size_t& pos, std::string& out) {
    if (v.size() - pos < 4) {
      return false;
    }
    const std::uint32_t n = read_be32(std::string_view(reinterpret_cast<const char*>(v.data() + pos), 4));
    pos += 4;
    if (n > v.size() - pos) {
      return false;
    }
    out.assign(reinterpret_cast<const char*>(v.data() + pos), n);
    pos += n;
    return true;
  };
  std::size_t pos = 0;
  if (!read_part(pos, p.prompt) || !read_part(pos, p.completion) || pos != v.size()) {
    return std::nullopt;
  }
  return p;
}

bool is_forwarded_body(const record& r, std::string_view prompt) {
  return r.forwarded_digest.empty() ||
         crypto::verify_content_digest(r.forwarded_digest, prompt) == crypto::digest_verdict::ok;
}

std::string forwarded_body_mismatch(const record& r, std::string_view prompt) {
  return fmt::format(
      "(its Content-Digest is {}, the record's forwarded_digest {}): the payload was replaced after "
      "sealing, or the gateway sealed one body and forwarded another",
      crypto::content_digest(prompt), r.forwarded_digest);
}

std::optional<bool> opens_other_payload(const store& s, const record& r, std::uint32_t version,
                                        const crypto::secret_bytes& data_key) {
  constexpr int max_read = 4096;  // each way
  constexpr int max_tried = 16;
  int tried = 0;
  const auto try_one = [&](const rocksdb::Iterator& it) -> std::optional<bool> {
    const std::string_view blob = it.value().ToStringView();
    if (it.key().size() != 8 || payload_key_version(blob) != version) {
      return std::nullopt;
    }
    auto leaf = s.get(column::leaves, it.key().ToStringView());
    if (!leaf.is_ok() || !leaf->has_value()) {
      return std::nullopt;
    }
    auto other = decode(bytes_of(**leaf));
    if (!other.is_ok() || other->tenant != r.tenant) {
      return std::nullopt;
    }
    ++tried;
    return open_blob(blob, data_key, other.value()).has_value();
  };
  auto it = s.iterate(column::payloads, false);
  int read = 0;
  for (it->Seek(be64(r.seq + 1)); it->Valid() && read < max_read && tried < max_tried; it->Next(), ++read) {
    if (try_one(*it) == true) {
      return true;
    }
  }
  it->SeekForPrev(be64(r.seq));
  if (it->Valid() && it->key().ToStringView() == be64(r.seq)) {
    it->Prev();
  }
  for (read = 0; it->Valid() && read < max_read && tried < max_tried; it->Prev(), ++read) {
    if (try_one(*it) == true) {
      return true;
    }
  }
  return tried > 0 ? std::optional(false) : std::nullopt;
}

result<payload> open_payload(const store& s, const record& r, const auditor_keys& auditor,
                             const log_events& events) {
  if (r.payload != payload_mode::sealed) {
    return status{error_code::not_found, fmt::format("record {} has no sealed payload (payload mode: {})",
                                                     r.seq, to_string(r.payload))};
  }
  auto blob = s.get(column::payloads, be64(r.seq));
  if (!blob.is_ok()) {
    return blob.error();
  }
  if (!blob->has_value()) {
    if (const auto* retention = events.retention_covering(r.seq, r.timestamp_us)) {
      return status{error_code::not_found,
                    fmt::format("the payload of record {} was dropped by retention (the event at record {}: "
                                "payloads of records older than {}); the record stays provable",
                                r.seq, retention->seq, retention_cutoff_text(*retention))};
    }
    return status{error_code::verification_failed,
                  fmt::format("the payload of record {} is missing, and no retention event logged after it "
                              "covers its time: it was deleted outside retention (the log is damaged or was "
                              "tampered with; sovgw audit verify --payloads names every such payload)",
                              r.seq)};
  }
  const std::string& b = **blob;
  const auto digest = crypto::sha256(std::string_view(b));
  if (r.payload_digest.size() != digest.size() ||
      !std::equal(digest.begin(), digest.end(), r.payload_digest.begin())) {
    return status{
        error_code::verification_failed,
        fmt::format("the stored payload of record {} does not match the hash its leaf commits to", r.seq)};
  }
  const auto version = payload_key_version(b);
  if (!version) {
    return status{error_code::corruption, fmt::format("the payload of record {} is malformed", r.seq)};
  }
  auto entry = s.get(column::keys, data_key_key(r.tenant, *version));
  if (!entry.is_ok()) {
    return entry.error();
  }
  if (!entry->has_value()) {
    if (const auto* shred = events.shred_covering(r.seq, r.tenant, *version)) {
      return status{
          error_code::not_found,
          fmt::format("the payload of record {} is unreadable: tenant '{}' data key v{} was destroyed "
                      "by crypto-shredding (the event at record {})",
                      r.seq, r.tenant, *version, shred->seq)};
    }
    return status{
        error_code::verification_failed,
        fmt::format("the payload of record {} is unreadable: tenant '{}' data key v{} is missing, and "
                    "no crypto-shred event logged after the record destroyed it: it was deleted "
                    "outside shredding (the log is damaged or was tampered with)",
                    r.seq, r.tenant, *version)};
  }
  auto key = open_data_key(**entry, auditor);
  if (!key) {
    return status{
        error_code::verification_failed,
        fmt::format("the auditor key cannot open tenant '{}' data key v{}: wrong auditor.key for this "
                    "log, or the data key was replaced",
                    r.tenant, *version)};
  }
  auto p = open_blob(b, *key, r);
  if (!p) {
    // The blob is the one the record commits to. Either the data key differs from the one it was
    // sealed under, or the record's fields (its associated data) or the blob were changed, and the
    // log re-signed: a data key that opens the tenant's other payloads tells the two apart.
    const std::optional<bool> others = opens_other_payload(s, r, *version, *key);
    const std::string head =
        fmt::format("the payload of record {} matches the hash its record commits to but", r.seq);
    return status{
        error_code::verification_failed,
        others == true
            ? fmt::format(
                  "{} does not open with the record's fields under tenant '{}' data key v{}, which "
                  "opens the tenant's other payloads: the record's fields or its payload were changed "
                  "after sealing (the record was rewritten, or a payload moved)",
                  head, r.tenant, *version)
        : others == false
            ? fmt::format("{} does not open under tenant '{}' data key v{}, nor do the tenant's other "
                          "payloads under it that were tried: the data key was replaced (or damaged)",
                          head, r.tenant, *version)
            : fmt::format("{} does not open under tenant '{}' data key v{}, which seals no other stored "
                          "payload of the tenant: the data key was replaced (or damaged), or the record's "
                          "fields or its payload were changed after sealing",
                          head, r.tenant, *version)};
  }
  return std::move(*p);
}

}  // namespace sovgw::audit
