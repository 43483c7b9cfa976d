#pragma once

#include <string>
#include <string_view>

// A precompiled glob over model names and paths: `*` matches any run of characters (also empty),
// `?` exactly one; everything else is literal. Immutable after construction; matches() is
// allocation-free and thread-safe.
namespace sovgw::policy {

class glob_pattern {
 public:
  explicit glob_pattern(std::string pattern);

  [[nodiscard]] static bool is_glob(std::string_view text) noexcept {
    return text.find_first_of("*?") != std::string_view::npos;
  }

  [[nodiscard]] bool matches(std::string_view text) const noexcept;

  // "literal*" (the common case): a prefix test.
  [[nodiscard]] bool is_prefix() const noexcept { return prefix_only_; }
  [[nodiscard]] std::string_view literal_prefix() const noexcept { return prefix_; }
  [[nodiscard]] const std::string& text() const noexcept { return pattern_; }

  // Whether this pattern matches every text `other` matches, as far as that can be told simply: the
  // same pattern, `*`, or a prefix pattern whose prefix starts every text `other` matches (an exact
  // `other`: matches()). A false answer may be wrong for patterns with inner wildcards.
  [[nodiscard]] bool covers(const glob_pattern& other) const noexcept;

  // A string this pattern matches (wildcards filled with `fill`), used to pick class representatives.
  [[nodiscard]] std::string sample(char fill) const;

 private:
  std::string pattern_;
  std::string prefix_;  // literal characters before the first wildcard
  bool prefix_only_ = false;
};

}  // namespace sovgw::policy
