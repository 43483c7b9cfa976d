#include "crypto/nonce_cache.hpp"

#include <algorithm>
#include <stdexcept>

namespace sovgw::crypto {

nonce_cache::nonce_cache(std::size_t capacity, std::int64_t window_seconds)
    : capacity_(capacity), window_(window_seconds) {
  if (capacity == 0 || window_seconds <= 0) {
    throw std::invalid_argument("a nonce cache needs a capacity and a positive window");
  }
}

void nonce_cache::evict_oldest() {
  const auto oldest = keys_by_created_.begin();
  created_by_key_.erase(oldest->second);
  keys_by_created_.erase(oldest);
}

httpsig::nonce_check nonce_cache::check(std::string_view keyid, std::string_view nonce, std::int64_t created,
                                        std::int64_t now) {
  std::string key;
  key.reserve(keyid.size() + 1 + nonce.size());
  key.append(keyid).append(1, '\n').append(nonce);
  std::lock_guard lock(mutex_);
  // Entries that left the window go quietly: the verifier refuses their signatures as too old.
  while (!keys_by_created_.empty() && keys_by_created_.begin()->first < now - window_) {
    evict_oldest();
  }
  if (created < now - window_ || created <= floor_) {
    return httpsig::nonce_check::unverifiable;
  }
  if (created_by_key_.contains(key)) {
    return httpsig::nonce_check::replayed;
  }
  if (created_by_key_.size() >= capacity_) {
    floor_ = std::max(floor_, keys_by_created_.begin()->first);
    evict_oldest();
    if (created <= floor_) {
      return httpsig::nonce_check::unverifiable;
    }
  }
  created_by_key_.emplace(key, created);
  keys_by_created_.emplace(created, std::move(key));
  return httpsig::nonce_check::fresh;
}

std::size_t nonce_cache::size() const {
  std::lock_guard lock(mutex_);
  return created_by_key_.size();
}

}  // namespace sovgw::crypto
