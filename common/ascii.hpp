#pragma once

// ASCII case folding for protocol tokens (HTTP field names, schemes) and hex digits: never
// locale-dependent.

#include <cstddef>
#include <string>
#include <string_view>

namespace sovgw {

// The value of a hex digit (either case), or -1.
[[nodiscard]] constexpr int hex_digit_value(char c) noexcept {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

[[nodiscard]] constexpr char ascii_lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

[[nodiscard]] constexpr bool ascii_iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) {
      return false;
    }
  }
  return true;
}

// `text` in ASCII lower case, into `out` (its buffer reused); true if that changed a letter.
inline bool ascii_lower_into(std::string_view text, std::string& out) {
  out.assign(text);
  bool changed = false;
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
      changed = true;
    }
  }
  return changed;
}

// `text` in ASCII lower case.
[[nodiscard]] inline std::string ascii_lowered(std::string_view text) {
  std::string out;
  ascii_lower_into(text, out);
  return out;
}

}  // namespace sovgw
