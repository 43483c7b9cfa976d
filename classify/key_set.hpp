#pragma once

// The keys of one JSON object, compared in a folded form (json_body.cpp folds them the way
// case-insensitive decoders do): a hash set that keeps its memory between bodies, so that a
// worker inspects a typical request without allocating. Not thread-safe.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sovgw::classify::detail {

class key_set {
 public:
  // Empties the set; memory is kept unless the last body had unusually many keys.
  void clear();
  // When a key with the same folded form is already in the set, returns how that one was sent;
  // otherwise adds `sent` under `folded` and returns nullopt. Expected O(1). The view returned
  // is valid until the next insert() or clear().
  [[nodiscard]] std::optional<std::string_view> insert(std::string_view folded, std::string_view sent);

 private:
  struct entry {
    std::size_t offset;  // into bytes_: the folded form, then the key as sent
    std::size_t folded_size;
    std::size_t sent_size;
    std::size_t hash;
  };
  [[nodiscard]] std::string_view folded_of(const entry& e) const {
    return std::string_view(bytes_).substr(e.offset, e.folded_size);
  }
  void rehash(std::size_t slots);

  std::string bytes_;
  std::vector<entry> entries_;
  std::vector<std::size_t> slots_;  // index + 1 into entries_, 0 when free; a power of two long
};

}  // namespace sovgw::classify::detail
