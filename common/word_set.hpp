#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sovgw {

// A fixed set of words, tested for membership on a hot path (the keys of every request body): a
// 64-bit mask of the words' hashes (length, first and last byte) turns most misses away before
// any comparison.
template <std::size_t N>
class word_set {
 public:
  template <typename... W>
  constexpr explicit word_set(W... words) : words_{std::string_view(words)...} {
    static_assert(sizeof...(W) == N);
    for (const std::string_view w : words_) {
      hashes_ |= std::uint64_t{1} << hash(w);
    }
  }

  [[nodiscard]] constexpr bool contains(std::string_view w) const {
    if (((hashes_ >> hash(w)) & 1) == 0) {
      return false;
    }
    return std::find(words_.begin(), words_.end(), w) != words_.end();
  }

 private:
  static constexpr unsigned hash(std::string_view w) {
    if (w.empty()) {
      return 0;
    }
    const auto byte = [](char c) { return static_cast<unsigned>(static_cast<unsigned char>(c)); };
    return static_cast<unsigned>((w.size() * 7 + byte(w.front()) * 3 + byte(w.back())) & 63);
  }

  std::array<std::string_view, N> words_;
  std::uint64_t hashes_ = 0;
};

template <typename... W>
word_set(W...) -> word_set<sizeof...(W)>;

}  // namespace sovgw
