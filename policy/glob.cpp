#include "policy/glob.hpp"

namespace sovgw::policy {

glob_pattern::glob_pattern(std::string pattern) : pattern_(std::move(pattern)) {
  const auto first_wild = pattern_.find_first_of("*?");
  prefix_ = pattern_.substr(0, first_wild);
  prefix_only_ =
      first_wild != std::string::npos && first_wild + 1 == pattern_.size() && pattern_.back() == '*';
}

bool glob_pattern::matches(std::string_view text) const noexcept {
  if (prefix_.size() == pattern_.size()) {
    return text == pattern_;
  }
  if (prefix_only_) {
    return text.substr(0, prefix_.size()) == prefix_;
  }
  // Iterative wildcard match with single-star backtracking: linear in practice, O(n*m) worst case.
  std::size_t p = 0;
  std::size_t t = 0;
  std::size_t star = std::string::npos;
  std::size_t resume = 0;
  while (t < text.size()) {
    if (p < pattern_.size() && (pattern_[p] == '?' || pattern_[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern_.size() && pattern_[p] == '*') {
      star = p++;
      resume = t;
    } else if (star != std::string::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern_.size() && pattern_[p] == '*') {
    ++p;
  }
  return p == pattern_.size();
}

bool glob_pattern::covers(const glob_pattern& other) const noexcept {
  if (other.prefix_.size() == other.pattern_.size()) {
    return matches(other.pattern_);
  }
  return pattern_ == other.pattern_ || (prefix_only_ && other.prefix_.starts_with(prefix_));
}

std::string glob_pattern::sample(char fill) const {
  std::string out;
  for (char c : pattern_) {
    out.push_back(c == '*' || c == '?' ? fill : c);
  }
  return out;
}

}  // namespace sovgw::policy
