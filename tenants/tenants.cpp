#include "tenants/tenants.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>

#include "common/ascii.hpp"
#include "common/model_alias.hpp"
#include "common/regular_file.hpp"
#include "common/trusted_file.hpp"
#include "crypto/blake2b.hpp"
#include "crypto/hex.hpp"
#include "crypto/secret_bytes.hpp"
#include "policy/config_values.hpp"
#include "policy/yaml_util.hpp"

namespace sovgw::tenants {

namespace {

constexpr std::string_view hash_scheme = "blake2b-256:";

policy::source_pos pos_of(const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  return m.is_null() ? policy::source_pos{} : policy::source_pos{m.line + 1, m.column + 1};
}

std::uint64_t bucket_of(const key_hash& h) {
  std::uint64_t v = 0;
  std::memcpy(&v, h.data(), sizeof v);
  return v;
}

// A DNS name is the same name in any ASCII case: it is keyed in lower case.
std::string subject_key(subject_kind k, std::string_view value) {
  std::string folded;
  if (k == subject_kind::dns) {
    (void)ascii_lower_into(value, folded);
    value = folded;
  }
  return fmt::format("{}:{}", kind_name(k), value);
}

// base64url's alphabet, by byte (a table: every request's key is checked).
constexpr std::array<bool, 256> base64url_alphabet = [] {
  std::array<bool, 256> t{};
  for (unsigned char c :
       std::string_view("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")) {
    t[c] = true;
  }
  return t;
}();

bool well_formed_key(std::string_view key) {
  if (key.size() != key_scheme.size() + key_secret_chars || !key.starts_with(key_scheme)) {
    return false;
  }
  bool ok = true;  // every byte looked at, without a branch per byte
  for (char c : key.substr(key_scheme.size())) {
    ok &= base64url_alphabet[static_cast<unsigned char>(c)];
  }
  return ok;
}

// Reads one file; collects every problem.
class reader {
 public:
  explicit reader(policy::diagnostics& d) : d_(d) {}

  bool scalar(const YAML::Node& n, std::string_view what, std::string& out) {
    if (!n.IsScalar()) {
      d_.error(pos_of(n), fmt::format("{} must be a string", what));
      return false;
    }
    out = n.Scalar();
    return true;
  }

  // Visits a mapping's keys, reporting unknown and duplicate ones.
  template <typename F>
  void map(const YAML::Node& n, std::string_view what, std::initializer_list<std::string_view> known, F&& f) {
    if (!n.IsMap()) {
      d_.error(pos_of(n), fmt::format("{} must be a mapping", what));
      return;
    }
    std::map<std::string, int> seen;  // key -> the line it was first written on
    for (auto it = n.begin(); it != n.end(); ++it) {
      const std::string key = it->first.Scalar();
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        d_.error(pos_of(it->first),
                 fmt::format("unknown key '{}' in {} (known: {})", key, what, fmt::join(known, ", ")));
        continue;
      }
      if (const auto [first, added] = seen.emplace(key, pos_of(it->first).line); !added) {
        d_.error(pos_of(it->first), fmt::format("duplicate key '{}' in {} (first at line {})", key, what, first->second));
        continue;
      }
      f(key, it->second);
    }
  }

  void time(const YAML::Node& n, std::string_view what, std::int64_t& out) {
    std::string s;
    if (!scalar(n, what, s)) {
      return;
    }
    if (const auto t = parse_time(s)) {
      out = *t;
    } else {
      d_.error(pos_of(n), fmt::format("{} '{}' is not a UTC time like 2026-12-03T03:02:00Z", what, s));
    }
  }

  policy::diagnostics& d_;
};

void read_subject(reader& r, const YAML::Node& n, tenant& t) {
  r.map(n, "a certificate subject", {"cn", "dns", "email", "uri"},
        [&](const std::string& key, const YAML::Node& v) {
          certificate_subject s;
          s.kind = key == "cn"      ? subject_kind::cn
                   : key == "dns"   ? subject_kind::dns
                   : key == "email" ? subject_kind::email
                                    : subject_kind::uri;
          s.pos = pos_of(v);
          if (!r.scalar(v, key, s.value)) {
            return;
          }
          if (s.value.empty() || s.value.find('\0') != std::string::npos || !valid_utf8(s.value)) {
            r.d_.error(pos_of(v), fmt::format("certificate {} must be non-empty UTF-8 without NUL", key));
            return;
          }
          t.certificates.push_back(std::move(s));
        });
  if (n.IsMap() && n.size() != 1) {
    r.d_.error(pos_of(n), "a certificate subject names exactly one of cn, dns, email, uri");
  }
}

// `what` names the mapping in messages: "limits", or "model_limits 'gpt-4o*'".
void read_limits(reader& r, const YAML::Node& n, std::string_view what, tenant_limits& out) {
  r.map(n, what, {"requests_per_minute", "tokens_per_minute", "tokens_per_month"},
        [&](const std::string& key, const YAML::Node& v) {
          std::string s;
          if (!r.scalar(v, key, s)) {
            return;
          }
          const auto value = policy::parse_whole_number(s);
          if (policy::yaml::quoted_scalar(v)) {
            r.d_.error(pos_of(v), policy::quoted_number_error(fmt::format("{}.{}", what, key), s));
            return;
          }
          if (!value || *value == 0 || *value > 1000000000000ULL) {
            r.d_.error(pos_of(v),
                       fmt::format("{}.{} must be a whole number from 1 to 10^12, not '{}'", what, key, s));
            return;
          }
          (key == "requests_per_minute" ? out.requests_per_minute
           : key == "tokens_per_minute" ? out.tokens_per_minute
                                        : out.tokens_per_month) = *value;
        });
  if (n.IsMap() && n.size() == 0) {
    r.d_.error(pos_of(n), fmt::format("{} sets no limit (requests_per_minute, tokens_per_minute, "
                                      "tokens_per_month)",
                                      what));
  }
}

// `model_limits: {PATTERN: LIMITS, ...}`: exact model names or globs (* and ?), the first that
// matches a request's model applies. A rule that an earlier pattern always wins over is an error.
void read_model_limits(reader& r, const YAML::Node& n, std::vector<model_limit>& out) {
  if (!n.IsMap()) {
    r.d_.error(pos_of(n), "model_limits must be a mapping of model name or glob to limits");
    return;
  }
  for (auto it = n.begin(); it != n.end(); ++it) {
    const std::string pattern = it->first.Scalar();
    const policy::source_pos at = pos_of(it->first);
    if (!it->first.IsScalar() || pattern.empty() || pattern.size() > 256 ||
        pattern.find('\0') != std::string::npos || !valid_utf8(pattern)) {
      r.d_.error(at, "a model_limits key must be a model name or glob: 1 to 256 bytes of UTF-8 without NUL");
      continue;
    }
    std::string folded;
    (void)ascii_lower_into(pattern, folded);
    // An exact name without Ollama's defaults (llama3 for library/llama3:latest; a provider's prefix
    // stays: a limit for openai/gpt-4o is not one for azure/gpt-4o); a glob as written, in lower
    // case (meta-llama/* must not become *). A request meets it as sent or by its base name.
    policy::glob_pattern folded_glob{
        policy::glob_pattern::is_glob(folded) ? folded : std::string(ollama_name(folded))};
    const auto earlier = std::find_if(out.begin(), out.end(),
                                      [&](const model_limit& m) { return m.folded.covers(folded_glob); });
    if (earlier != out.end()) {
      r.d_.error(
          at,
          earlier->folded.text() == folded_glob.text()
              ? fmt::format("model_limits names '{}' twice, first at line {} (a model matches whatever its "
                            "case, and by its base name: '{}' for every alias)",
                            pattern, earlier->pos.line, folded_glob.text())
              : fmt::format("model_limits '{}' never applies: '{}' (line {}) matches {} first", pattern,
                            earlier->model.text(), earlier->pos.line,
                            policy::glob_pattern::is_glob(pattern) ? "every model it does" : "it"));
      continue;
    }
    model_limit m{policy::glob_pattern(pattern), std::move(folded_glob), {}, at};
    read_limits(r, it->second, fmt::format("model_limits '{}'", pattern), m.limits);
    out.push_back(std::move(m));
  }
}

void read_tenants(reader& r, const YAML::Node& list, std::vector<tenant>& out) {
  if (!list.IsSequence()) {
    r.d_.error(pos_of(list), "tenants must be a list");
    return;
  }
  if (list.size() == 0) {
    r.d_.warning(
        pos_of(list),
        "the tenants file names no tenant: every request is refused (401 invalid_api_key) until "
        "one is added (- name: NAME), with a key (sovgw tenants key create NAME) or a client certificate");
  }
  for (const YAML::Node& item : list) {
    tenant t;
    t.pos = pos_of(item);
    r.map(item, "a tenant", {"name", "certificates", "limits", "model_limits"},
          [&](const std::string& key, const YAML::Node& v) {
            if (key == "limits") {
              read_limits(r, v, "limits", t.limits);
            } else if (key == "model_limits") {
              read_model_limits(r, v, t.model_limits);
            } else if (key == "name") {
              if (r.scalar(v, "name", t.name) && !valid_tenant_name(t.name)) {
                r.d_.error(pos_of(v),
                           fmt::format("tenant name '{}': {}", t.name, tenant_name_problem(t.name)));
                t.name.clear();
              } else if (ascii_iequals(t.name, "default")) {
                // The tenant of every request no key or certificate identified (refused ones too):
                // a tenant of that name could not be told apart from them in logs and reports, in
                // any case, as tenant names must differ in more than case (probe round 39: Default).
                r.d_.error(pos_of(v),
                           fmt::format("tenant name '{}' is reserved: it labels requests that no key "
                                       "or certificate identified (default, in any case)",
                                       t.name));
                t.name.clear();
              }
            } else if (!v.IsSequence()) {
              r.d_.error(pos_of(v), "certificates must be a list of {cn|dns|email|uri: VALUE}");
            } else {
              for (const YAML::Node& s : v) {
                read_subject(r, s, t);
              }
            }
          });
    if (item.IsMap() && !item["name"]) {
      r.d_.error(t.pos, "a tenant needs a name");
    }
    out.push_back(std::move(t));
  }
}

// Reads the `keys:` list into `out`; `damaged` gets the entries whose hash cannot be read but
// whose id can (their hash left zero), for a refused file's revocations (load_result).
void read_keys(reader& r, const YAML::Node& list, std::vector<api_key>& out, std::vector<api_key>& damaged) {
  if (!list.IsSequence()) {
    r.d_.error(pos_of(list), "keys must be a list");
    return;
  }
  for (const YAML::Node& item : list) {
    api_key k;
    k.pos = pos_of(item);
    bool has_hash = false;
    bool revoked_unread = false;  // its error is said once: not also "revoked before it was created"
    r.map(item, "a key", {"tenant", "id", "hash", "created", "expires", "revoked", "limits"},
          [&](const std::string& key, const YAML::Node& v) {
            if (key == "tenant") {
              (void)r.scalar(v, "tenant", k.tenant);
            } else if (key == "id") {
              if (r.scalar(v, "id", k.id) &&
                  (k.id.size() != key_scheme.size() + key_id_chars || !k.id.starts_with(key_scheme))) {
                // A whole key pasted as its id is shown as its id only: the file's errors reach logs.
                const bool whole_key = k.id.starts_with(key_scheme) && k.id.size() > key_scheme.size() + key_id_chars;
                r.d_.error(pos_of(v),
                           whole_key ? fmt::format("key id '{}...' is a whole key, not its id: write only its first "
                                                   "{} characters (and never the key itself in the file)",
                                                   k.id.substr(0, key_scheme.size() + key_id_chars),
                                                   key_scheme.size() + key_id_chars)
                                     : fmt::format("key id '{}' is not {} and {} characters", k.id, key_scheme,
                                                   key_id_chars));
                if (whole_key) {
                  k.id.resize(key_scheme.size() + key_id_chars);  // the other messages name it too
                }
              }
            } else if (key == "hash") {
              std::string s;
              if (!r.scalar(v, "hash", s)) {
                return;
              }
              std::optional<std::vector<std::uint8_t>> bytes;
              if (s.starts_with(hash_scheme)) {
                bytes = crypto::from_hex(std::string_view(s).substr(hash_scheme.size()));
              }
              if (!bytes || bytes->size() != k.hash.size()) {
                r.d_.error(
                    pos_of(v),
                    "hash must be blake2b-256: and 64 hex digits (written by `sovgw tenants key create`)");
                return;
              }
              std::copy(bytes->begin(), bytes->end(), k.hash.begin());
              has_hash = true;
            } else if (key == "limits") {
              read_limits(r, v, "limits", k.limits);
            } else if (key == "created") {
              r.time(v, "created", k.created);
            } else if (key == "expires") {
              r.time(v, "expires", k.expires);
            } else {
              r.time(v, "revoked", k.revoked);
              if (k.revoked == 0 && !v.IsNull()) {
                k.revoked =
                    1;  // a revocation whose time cannot be read is a revocation (the file is refused)
                revoked_unread = true;
              }
            }
          });
    if (item.IsMap()) {
      for (const char* required : {"tenant", "id", "hash"}) {
        if (!item[required]) {
          r.d_.error(k.pos, fmt::format("a key needs {}", required));
        }
      }
      if (k.created != 0 && k.expires != 0 && k.expires <= k.created) {
        r.d_.error(pos_of(item["expires"]),
                   fmt::format("key {} expires {}", k.id,
                               k.expires == k.created ? "when it is created" : "before it was created"));
      }
      if (k.created != 0 && k.revoked != 0 && !revoked_unread && k.revoked < k.created) {
        r.d_.error(pos_of(item["revoked"]), fmt::format("key {} was revoked before it was created", k.id));
      }
      // A day's slack for clocks; beyond it, a time in the future is a typo worth a look.
      const std::int64_t soon = static_cast<std::int64_t>(std::time(nullptr)) + 86400;
      if (k.revoked > soon) {
        r.d_.warning(
            pos_of(item["revoked"]),
            fmt::format("key {} is revoked at {}, in the future: it is revoked from now all the same "
                        "(a key that should stop later takes expires:)",
                        k.id, format_time(k.revoked)));
      }
      if (k.created > soon) {
        r.d_.warning(pos_of(item["created"]),
                     fmt::format("key {} was created at {}, in the future", k.id, format_time(k.created)));
      }
    }
    if (has_hash) {
      out.push_back(std::move(k));
    } else if (!k.id.empty()) {
      damaged.push_back(std::move(k));
    }
  }
}

void cross_check(policy::diagnostics& d, const std::vector<tenant>& tenants,
                 const std::vector<api_key>& keys) {
  std::set<std::string> names;
  std::map<std::string, const tenant*> folded_names;  // acme and ACME would be two tenants in logs
  std::map<std::string, std::string> subjects;
  for (const tenant& t : tenants) {
    std::string folded;
    (void)ascii_lower_into(t.name, folded);
    if (!t.name.empty() && !names.insert(t.name).second) {
      d.error(t.pos, fmt::format("tenant '{}' is declared twice", t.name));
    } else if (const auto [it, added] = folded_names.emplace(folded, &t); !t.name.empty() && !added) {
      d.error(t.pos, fmt::format("tenant '{}' differs from '{}' (line {}) only in case: name them apart",
                                 t.name, it->second->name, it->second->pos.line));
    }
    for (const certificate_subject& s : t.certificates) {
      const auto [it, added] = subjects.emplace(subject_key(s.kind, s.value), t.name);
      if (!added) {
        d.error(s.pos, fmt::format("certificate {} '{}' is claimed by tenants '{}' and '{}'",
                                   kind_name(s.kind), s.value, it->second, t.name));
      }
    }
  }
  std::set<std::string> ids;
  std::map<key_hash, const api_key*> hashes;
  for (const api_key& k : keys) {
    if (!k.tenant.empty() && names.count(k.tenant) == 0) {
      d.error(k.pos,
              fmt::format("key {} is for tenant '{}', which is not declared under tenants:", k.id, k.tenant));
    }
    const bool id_again = !k.id.empty() && !ids.insert(k.id).second;
    const auto [first, hash_new] = hashes.emplace(k.hash, &k);
    const bool hash_again = !hash_new;
    if (id_again && hash_again && first->second->tenant != k.tenant) {
      // Not a copy: one key given to two tenants (probe round 39 called it "the same entry").
      d.error(k.pos,
              fmt::format("key {} appears twice, for tenants '{}' (line {}) and '{}': a key identifies "
                          "one tenant; remove the wrong entry",
                          k.id, first->second->tenant, first->second->pos.line, k.tenant));
    } else if (id_again && hash_again) {
      d.error(k.pos, fmt::format("key {} appears twice (the same entry, copied)", k.id));  // one mistake
    } else if (id_again) {
      d.error(k.pos, fmt::format("key id {} appears twice", k.id));
    } else if (hash_again) {
      d.error(k.pos, fmt::format("key {} has the same hash as an earlier key", k.id));
    }
  }
}

}  // namespace

std::string_view kind_name(subject_kind k) {
  switch (k) {
    case subject_kind::cn:
      return "cn";
    case subject_kind::dns:
      return "dns";
    case subject_kind::email:
      return "email";
    case subject_kind::uri:
      return "uri";
  }
  return "?";
}

namespace {
std::atomic<std::uint64_t> next_table_serial{1};  // 0 is key_memo's "none"
}  // namespace

table::table(std::vector<tenant> tenants, std::vector<api_key> keys)
    : serial_(next_table_serial.fetch_add(1, std::memory_order_relaxed)),
      tenants_(std::move(tenants)),
      keys_(std::move(keys)) {
  by_hash_.reserve(keys_.size());
  for (std::uint32_t i = 0; i < keys_.size(); ++i) {
    by_hash_[bucket_of(keys_[i].hash)].push_back(i);
  }
  by_name_.reserve(tenants_.size());
  for (std::uint32_t i = 0; i < tenants_.size(); ++i) {
    by_name_.emplace(tenants_[i].name, i);
    for (const certificate_subject& s : tenants_[i].certificates) {
      by_subject_.emplace(subject_key(s.kind, s.value), i);
    }
  }
}

const model_limit* tenant::model_rule(std::string_view model) const {
  if (model_limits.empty()) {
    return nullptr;
  }
  static thread_local std::string folded;
  (void)ascii_lower_into(model, folded);
  const std::string_view base = model_base_name(folded);  // llama3 for library/llama3:latest
  for (const model_limit& m : model_limits) {
    if (m.folded.matches(folded) || m.folded.matches(base)) {
      return &m;
    }
  }
  return nullptr;
}

const tenant* table::find_tenant(std::string_view name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tenants_[it->second];
}

key_lookup table::check_key(std::string_view presented, std::int64_t now) const {
  if (!well_formed_key(presented)) {
    return {key_check::malformed, nullptr};
  }
  const key_hash h = hash_key(presented);
  const auto bucket = by_hash_.find(bucket_of(h));
  if (bucket == by_hash_.end()) {
    return {key_check::unknown, nullptr};
  }
  for (std::uint32_t i : bucket->second) {
    const api_key& k = keys_[i];
    if (CRYPTO_memcmp(k.hash.data(), h.data(), h.size()) == 0) {
      const key_lookup found = status_of(k, now);
      // An id is the key's first characters, whatever the file says: an entry that names another
      // (a hand edit, a copy-paste) would have its key logged, metered and audited under another
      // key's id, and counted in that key's limits. The file cannot be checked for it (it holds
      // hashes), so the key is refused where it is used (probe round 39).
      if (found.status == key_check::valid && !presented.starts_with(k.id)) {
        return {key_check::id_mismatch, &k};
      }
      return found;
    }
  }
  return {key_check::unknown, nullptr};
}

key_lookup table::status_of(const api_key& k, std::int64_t now) {
  // A revocation holds from the moment it is written, whatever time it names: one dated in the
  // future (a typo, a clock ahead) must not leave a leaked key usable. A key meant to stop later
  // takes `expires`.
  if (k.revoked != 0) {
    return {key_check::revoked, &k};
  }
  if (k.expires != 0 && k.expires <= now) {
    return {key_check::expired, &k};
  }
  return {key_check::valid, &k};
}

key_lookup key_memo::check(const table& t, std::string_view presented, std::int64_t now) {
  if (table_ == t.serial() && presented.size() == presented_.size()) {
    // Eight bytes at a time, every byte looked at whatever the first difference: a pooled
    // connection from a front proxy may carry several clients' keys.
    std::uint64_t diff = 0;
    std::size_t i = 0;
    for (; i + 8 <= presented_.size(); i += 8) {
      std::uint64_t a = 0;
      std::uint64_t b = 0;
      std::memcpy(&a, presented.data() + i, 8);
      std::memcpy(&b, presented_.data() + i, 8);
      diff |= a ^ b;
    }
    for (; i < presented_.size(); ++i) {
      diff |= static_cast<std::uint8_t>(presented[i] ^ presented_[i]);
    }
    if (diff == 0) {
      return table::status_of(t.keys()[key_], now);
    }
  }
  const key_lookup r = t.check_key(presented, now);
  if (r.status == key_check::valid) {
    table_ = t.serial();
    key_ = static_cast<std::uint32_t>(r.key - t.keys().data());
    std::memcpy(presented_.data(), presented.data(), presented_.size());  // well formed: this size
  } else {
    forget();
  }
  return r;
}

void key_memo::forget() noexcept {
  crypto::wipe(std::span(reinterpret_cast<std::uint8_t*>(presented_.data()), presented_.size()));
  table_ = 0;
}

const tenant* table::find_by_certificate(const std::vector<certificate_subject>& subjects,
                                         bool& ambiguous) const {
  ambiguous = false;
  const tenant* found = nullptr;
  for (const certificate_subject& s : subjects) {
    const auto it = by_subject_.find(subject_key(s.kind, s.value));
    if (it == by_subject_.end()) {
      continue;
    }
    const tenant* t = &tenants_[it->second];
    if (found != nullptr && found != t) {
      ambiguous = true;
      return nullptr;
    }
    found = t;
  }
  return found;
}

std::vector<tenant> without_unlisted_certificates(const std::vector<tenant>& live,
                                                  const std::vector<tenant>& next, std::size_t& removed) {
  std::set<std::pair<std::string_view, std::string>> listed;  // (tenant, subject_key)
  for (const tenant& t : next) {
    for (const certificate_subject& s : t.certificates) {
      listed.emplace(t.name, subject_key(s.kind, s.value));
    }
  }
  removed = 0;
  std::vector<tenant> out(live);
  for (tenant& t : out) {
    const std::size_t before = t.certificates.size();
    std::erase_if(t.certificates, [&](const certificate_subject& s) {
      return listed.count({std::string_view(t.name), subject_key(s.kind, s.value)}) == 0;
    });
    removed += before - t.certificates.size();
  }
  return out;
}

load_result parse_tenants(std::string_view text, const std::string& file) {
  load_result out;
  policy::diagnostics d(file);
  const YAML::Node root = policy::yaml::load(text, d);
  if (!root.IsDefined()) {
    out.diagnostics = d.take();
    return out;
  }
  std::vector<tenant> tenants;
  std::vector<api_key> keys;
  std::vector<api_key> damaged;
  reader r(d);
  if (!root.IsDefined() || root.IsNull()) {
    d.error({}, "the tenants file is empty (it needs tenants:)");
  } else {
    r.map(root, "the tenants file", {"tenants", "keys"}, [&](const std::string& key, const YAML::Node& v) {
      if (key == "tenants") {
        read_tenants(r, v, tenants);
      } else if (!v.IsNull()) {
        read_keys(r, v, keys, damaged);
      }
    });
  }
  cross_check(d, tenants, keys);
  if (d.has_errors()) {
    out.diagnostics = d.take();
    if (root.IsMap() && root["keys"] && root["keys"].IsSequence()) {
      keys.insert(keys.end(), std::make_move_iterator(damaged.begin()),
                  std::make_move_iterator(damaged.end()));
      out.readable_keys = std::move(keys);
    }
    if (root.IsMap() && root["tenants"] && root["tenants"].IsSequence()) {
      out.readable_tenants = std::move(tenants);
    }
    return out;
  }
  out.diagnostics = d.take();
  out.tenants = std::make_shared<const table>(std::move(tenants), std::move(keys));
  return out;
}

std::string writable_by_others(const std::string& path, file_identity* checked) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 022) != 0) {
    return fmt::format(
        "the tenants file's mode {:04o} lets group or others change it (and add keys); run "
        "`chmod go-w {}`",
        st.st_mode & 07777, shell_word(path));
  }
  const std::string folder = std::filesystem::path(path).parent_path().empty()
                                 ? std::string(".")
                                 : std::filesystem::path(path).parent_path().string();
  if (::stat(folder.c_str(), &st) == 0 && (st.st_mode & 022) != 0 && (st.st_mode & S_ISVTX) == 0) {
    return fmt::format(
        "the tenants file's folder {} (mode {:04o}) lets group or others replace the file (and so add "
        "keys); run `chmod go-w {}`",
        folder, st.st_mode & 07777, shell_word(folder));
  }
  return others_may_change(path, "the tenants file", checked);  // a folder further up, its owner, a link
}

load_result load_tenants_file(const std::string& path) {
  // Checked, then read, then compared: a file swapped between the two (a link on its path
  // re-pointed meanwhile) is not loaded.
  file_identity checked;
  std::string problem = writable_by_others(path, &checked);
  struct stat opened {};
  auto text = read_regular_file(path, max_tenants_bytes, "tenants file", 0, &opened);
  if (problem.empty() && !text.is_ok()) {
    problem = text.error().message();
  } else if (problem.empty() && !checked.same_as(opened)) {
    problem =
        "the tenants file " + path +
        " changed while it was checked (it, or a link on its path, was replaced): not loaded; try again";
  }
  if (problem.empty()) {
    return parse_tenants(*text, path);
  }
  load_result out;
  out.diagnostics.push_back({path, {}, policy::severity::error, std::move(problem)});
  // A file that others may change, or that changed meanwhile, is not loaded; what it revokes is
  // read all the same (it only ever takes access away).
  if (text.is_ok()) {
    load_result parsed = parse_tenants(*text, path);
    out.readable_keys = parsed.ok() ? std::optional(parsed.tenants->keys()) : std::move(parsed.readable_keys);
    out.readable_tenants =
        parsed.ok() ? std::optional(parsed.tenants->tenants()) : std::move(parsed.readable_tenants);
  }
  return out;
}

std::string generate_key() {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::array<std::uint8_t, 32> raw{};
  crypto::random_bytes(raw);
  std::string key(key_scheme);
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::uint8_t b : raw) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      key += alphabet[(acc >> bits) & 0x3f];
    }
  }
  if (bits > 0) {
    key += alphabet[(acc << (6 - bits)) & 0x3f];
  }
  crypto::wipe(std::span<std::uint8_t>(raw));
  return key;
}

std::string key_id_of(std::string_view key) {
  if (!well_formed_key(key)) {
    return {};
  }
  return std::string(key.substr(0, key_scheme.size() + key_id_chars));
}

key_hash hash_key(std::string_view key) {
  key_hash h{};
  crypto::blake2b(
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(key.data()), key.size()),
      std::span<std::uint8_t>(h));
  return h;
}

std::string format_hash(const key_hash& h) { return std::string(hash_scheme) + crypto::to_hex(h); }

std::string format_time(std::int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<std::int64_t> parse_time(std::string_view text) {
  // Exactly YYYY-MM-DDTHH:MM:SSZ.
  if (text.size() != 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || text[19] != 'Z') {
    return std::nullopt;
  }
  const auto num = [&](std::size_t at, std::size_t n) -> int {
    int v = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (text[i] < '0' || text[i] > '9') {
        return -1;
      }
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  std::tm tm{};
  tm.tm_year = num(0, 4) - 1900;
  tm.tm_mon = num(5, 2) - 1;
  tm.tm_mday = num(8, 2);
  tm.tm_hour = num(11, 2);
  tm.tm_min = num(14, 2);
  tm.tm_sec = num(17, 2);
  if (tm.tm_year < 70 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
      tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 ||
      tm.tm_sec > 60) {
    return std::nullopt;
  }
  const int mday = tm.tm_mday;
  const std::time_t t = timegm(&tm);
  if (tm.tm_mday != mday) {
    return std::nullopt;  // 2026-02-31 normalised into March
  }
  return static_cast<std::int64_t>(t);
}

}  // namespace sovgw::tenants
