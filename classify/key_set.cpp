#include "classify/key_set.hpp"

#include <algorithm>
#include <functional>

namespace sovgw::classify::detail {

namespace {
constexpr std::size_t initial_slots = 16;
constexpr std::size_t kept_slots = 4096;  // above this, clear() gives the memory back
}  // namespace

void key_set::clear() {
  if (slots_.size() > kept_slots) {
    std::vector<std::size_t>().swap(slots_);
    std::vector<entry>().swap(entries_);
    std::string().swap(bytes_);
    return;
  }
  if (!entries_.empty()) {
    std::fill(slots_.begin(), slots_.end(), 0);
  }
  entries_.clear();
  bytes_.clear();
}

void key_set::rehash(std::size_t slots) {
  slots_.assign(slots, 0);
  const std::size_t mask = slots - 1;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    std::size_t at = entries_[i].hash & mask;
    while (slots_[at] != 0) {
      at = (at + 1) & mask;
    }
    slots_[at] = i + 1;
  }
}

std::optional<std::string_view> key_set::insert(std::string_view folded, std::string_view sent) {
  if (2 * (entries_.size() + 1) > slots_.size()) {  // load factor at most 1/2
    rehash(std::max(initial_slots, 2 * slots_.size()));
  }
  const std::size_t hash = std::hash<std::string_view>{}(folded);
  const std::size_t mask = slots_.size() - 1;
  std::size_t at = hash & mask;
  for (; slots_[at] != 0; at = (at + 1) & mask) {
    const entry& e = entries_[slots_[at] - 1];
    if (e.hash == hash && folded_of(e) == folded) {
      return std::string_view(bytes_).substr(e.offset + e.folded_size, e.sent_size);
    }
  }
  entries_.push_back({bytes_.size(), folded.size(), sent.size(), hash});
  bytes_.append(folded);
  bytes_.append(sent);
  slots_[at] = entries_.size();
  return std::nullopt;
}

}  // namespace sovgw::classify::detail
