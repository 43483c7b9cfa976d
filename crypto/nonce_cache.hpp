#pragma once

// A bounded memory of the nonces of verified signatures, so a verifier can refuse a replayed
// request (RFC 9421 section 7.2.2). Entries live for `window` seconds after their `created` time
// (make it max_age + max_skew of the verifier: anything older is refused as too old anyway). When
// full, the entry with the oldest `created` is evicted and becomes the floor: a later signature
// created at or before the floor is `unverifiable` (it could replay an evicted nonce), never
// wrongly `fresh`. So memory is bounded and a replay is never accepted.
//
// Thread-safety: all members may be called concurrently (one mutex).

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "crypto/http_signature.hpp"

namespace sovgw::crypto {

class nonce_cache {
 public:
  nonce_cache(std::size_t capacity, std::int64_t window_seconds);

  // `fresh` (and now remembered), `replayed`, or `unverifiable`. `now` and `created` are Unix
  // seconds; nonces are scoped by keyid.
  [[nodiscard]] httpsig::nonce_check check(std::string_view keyid, std::string_view nonce,
                                           std::int64_t created, std::int64_t now);

  [[nodiscard]] std::size_t size() const;

 private:
  void evict_oldest();

  mutable std::mutex mutex_;
  const std::size_t capacity_;
  const std::int64_t window_;
  std::int64_t floor_ = std::numeric_limits<std::int64_t>::min();
  std::unordered_map<std::string, std::int64_t> created_by_key_;
  std::multimap<std::int64_t, std::string> keys_by_created_;
};

}  // namespace sovgw::crypto
