#pragma once

// Tenants: who is calling. A tenants file (YAML, docs/configuration.md) declares tenants, the
// client-certificate subjects that identify each one, and their API keys. Keys are stored only as
// hashes with a short visible id for humans; a presented key is hashed and looked up in O(1), and
// the stored and computed hashes are compared in constant time.
//
// Pure library: no Asio, no sockets, no printing. A table is immutable once built and may be read
// from any thread; the gateway swaps whole tables on SIGHUP.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/tenant_name.hpp"
#include "common/trusted_file.hpp"
#include "common/utf8.hpp"
#include "policy/diagnostics.hpp"
#include "policy/glob.hpp"

namespace sovgw::tenants {

// A key is `sk-sovgw-` followed by 43 base64url characters (32 random bytes). Its id is the scheme
// and the first 8 of those characters: enough for a human to tell keys apart, useless to an attacker.
inline constexpr std::string_view key_scheme = "sk-sovgw-";
inline constexpr std::size_t key_secret_chars = 43;
inline constexpr std::size_t key_id_chars = 8;

using key_hash = std::array<std::uint8_t, 32>;  // BLAKE2b-256 of the whole key

// What a client certificate names, as the tenants file matches it.
enum class subject_kind : std::uint8_t { cn, dns, email, uri };

struct certificate_subject {
  subject_kind kind = subject_kind::cn;
  std::string value;       // UTF-8, no NUL; a dns name matches whatever its ASCII case (as DNS does)
  policy::source_pos pos;  // where the tenants file names it
};

// The limits of one scope: a tenant, a key or a tenant's model rule (0: none). Enforced by
// tenants::limiter (tenants/limiter.hpp).
struct tenant_limits {
  std::uint64_t requests_per_minute = 0;
  std::uint64_t tokens_per_minute = 0;
  std::uint64_t tokens_per_month = 0;  // per calendar month, UTC
  [[nodiscard]] bool any() const { return requests_per_minute + tokens_per_minute + tokens_per_month != 0; }
};

struct api_key {
  std::string id;  // visible prefix, e.g. sk-sovgw-Ab3dEf9h
  std::string tenant;
  key_hash hash{};
  std::int64_t created = 0;  // Unix seconds
  std::int64_t expires = 0;  // Unix seconds; 0: never
  std::int64_t revoked = 0;  // Unix seconds; 0: not revoked
  tenant_limits limits;      // the key's own limits, on top of its tenant's
  policy::source_pos pos;    // where the entry is in the file
};

// A tenant's limits for the models a glob names (`model_limits:`), on top of the tenant's own. The
// requests to every model the pattern matches count together.
struct model_limit {
  policy::glob_pattern model;   // as written
  policy::glob_pattern folded;  // in lower case, as its base name (common/model_alias.hpp): a model
                                // name matches whatever its case and alias (a server
                                // that looks models up without regard to case serves GPT-4O as gpt-4o)
  tenant_limits limits;
  policy::source_pos pos;
};

struct tenant {
  std::string name;
  std::vector<certificate_subject> certificates;
  tenant_limits limits;
  std::vector<model_limit> model_limits;  // in file order
  policy::source_pos pos;

  // The first model rule whose pattern matches `model`, or nullptr.
  [[nodiscard]] const model_limit* model_rule(std::string_view model) const;
};

// id_mismatch: the key's entry is found by its hash, but its `id:` is not the key's first
// characters (the file is wrong: the key is refused, see table::check_key).
enum class key_check : std::uint8_t { valid, malformed, unknown, revoked, expired, id_mismatch };

struct key_lookup {
  key_check status = key_check::unknown;
  const api_key* key = nullptr;  // set for valid, revoked, expired and id_mismatch
};

class table {
 public:
  table(std::vector<tenant> tenants, std::vector<api_key> keys);
  table(const table&) = delete;  // by_name_ points into tenants_
  table& operator=(const table&) = delete;
  table(table&&) = default;
  table& operator=(table&&) = default;

  [[nodiscard]] const std::vector<tenant>& tenants() const { return tenants_; }
  [[nodiscard]] const std::vector<api_key>& keys() const { return keys_; }
  [[nodiscard]] const tenant* find_tenant(std::string_view name) const;  // O(1)
  // Unique to this table in the process (a new table, a new number: a reload's table too).
  [[nodiscard]] std::uint64_t serial() const { return serial_; }

  // The key `presented` as of `now` (Unix seconds). Hashes it, finds the entry by hash and
  // compares the whole hash in constant time; a valid entry whose id the key does not start with
  // is id_mismatch.
  [[nodiscard]] key_lookup check_key(std::string_view presented, std::int64_t now) const;
  // What entry `k` (one of keys()) says as of `now`: valid, revoked or expired.
  [[nodiscard]] static key_lookup status_of(const api_key& k, std::int64_t now);

  // The tenant that certificate `subjects` names, or nullptr; `ambiguous` is set when they name
  // more than one tenant (the certificate then identifies nobody).
  [[nodiscard]] const tenant* find_by_certificate(const std::vector<certificate_subject>& subjects,
                                                  bool& ambiguous) const;

 private:
  std::uint64_t serial_;
  std::vector<tenant> tenants_;
  std::vector<api_key> keys_;
  std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> by_hash_;  // first 8 hash bytes
  std::unordered_map<std::string, std::uint32_t> by_subject_;              // "cn:..." -> tenant
  std::unordered_map<std::string_view, std::uint32_t> by_name_;            // into tenants_
};

// The last key one connection presented that a table found valid, so that the connection's next
// requests (an SDK keeps its connections open) skip the hash and the lookup. The key is compared
// in constant time with the one presented, remembered only for the table it was found in (a
// reload forgets it), and its revocation and expiry are read again on every request. Holds the
// key: one per connection, wiped when it forgets.
class key_memo {
 public:
  key_memo() = default;
  key_memo(const key_memo&) = delete;
  key_memo& operator=(const key_memo&) = delete;
  ~key_memo() { forget(); }

  // Like t.check_key, through the memo.
  [[nodiscard]] key_lookup check(const table& t, std::string_view presented, std::int64_t now);
  void forget() noexcept;

 private:
  std::uint64_t table_ = 0;  // its serial; 0: nothing remembered
  std::uint32_t key_ = 0;    // index in its keys()
  std::array<char, key_scheme.size() + key_secret_chars> presented_{};
};

struct load_result {
  std::shared_ptr<const table> tenants;  // null when there are errors
  std::vector<policy::diagnostic> diagnostics;
  // With errors: the entries of the file's `keys:` list that could still be read (an id or a
  // hash: an entry whose hash cannot be read has a zero hash; a `revoked:` whose time does not
  // parse is a revocation, 1), when the file is YAML whose `keys:` is a list — also from a file
  // refused for its mode. What they revoke or shorten can be applied all the
  // same (a leaked key must not stay usable because another line of the file is wrong); never
  // what they grant.
  std::optional<std::vector<api_key>> readable_keys;
  // With errors: the file's tenants as far as they could be read, when its `tenants:` is a list
  // (also from a file refused for its mode). A certificate subject they no longer list under its
  // tenant (removed, moved to another tenant, or on a line with an error) is taken away all the
  // same (without_unlisted_certificates: a leaked certificate must not stay usable because another
  // line of the file is wrong); never what they grant.
  std::optional<std::vector<tenant>> readable_tenants;
  [[nodiscard]] bool ok() const { return tenants != nullptr; }
};

// `live` without the certificate subjects that `next` (a refused file's readable tenants) does not
// list under the same tenant; `removed` is set to how many were taken away. Adds nothing.
[[nodiscard]] std::vector<tenant> without_unlisted_certificates(const std::vector<tenant>& live,
                                                                const std::vector<tenant>& next,
                                                                std::size_t& removed);

// Parses a tenants file; every problem is reported as file:line:col (unknown keys, bad names,
// duplicate tenants, subjects or key ids, a key for an undeclared tenant, malformed hashes or
// times, non-UTF-8 or NUL in a subject).
[[nodiscard]] load_result parse_tenants(std::string_view text, const std::string& file);
// Who can write the tenants file can give themselves a key: a file group or others may write, or
// one in a folder they may write without the sticky bit (they could replace it), is refused (the
// message says why and how to fix it; empty when the modes are fine).
[[nodiscard]] std::string writable_by_others(const std::string& path, file_identity* checked = nullptr);
[[nodiscard]] load_result load_tenants_file(const std::string& path);

// A new random key. Pure apart from the randomness (libsodium).
[[nodiscard]] std::string generate_key();
// The id (visible prefix) of a well-formed key, or empty.
[[nodiscard]] std::string key_id_of(std::string_view key);
[[nodiscard]] key_hash hash_key(std::string_view key);
[[nodiscard]] std::string format_hash(const key_hash& h);  // "blake2b-256:<hex>"

// RFC 3339 UTC times as the file writes them ("2026-12-03T03:02:00Z").
[[nodiscard]] std::string format_time(std::int64_t unix_seconds);
[[nodiscard]] std::optional<std::int64_t> parse_time(std::string_view text);

// Strict checks for identity text from the outside world.
using sovgw::valid_tenant_name;  // common/tenant_name.hpp: [A-Za-z0-9][A-Za-z0-9._-]{0,63}
using sovgw::valid_utf8;         // common/utf8.hpp

[[nodiscard]] std::string_view kind_name(subject_kind k);

}  // namespace sovgw::tenants
