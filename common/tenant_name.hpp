#pragma once

// What a tenant name is: 1 to 64 ASCII letters, digits, '.', '_' or '-', starting with a letter or
// digit. The tenants file declares names of this form and the policy may only name such tenants,
// so a look-alike (a Cyrillic 'а', a zero-width space) is refused where it is written. Cluster
// names follow the same rule: they go into metrics labels, log lines, Sovereign-* fields and the
// report, where a line break or a bidi override would forge what a reader sees.

#include <fmt/format.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace sovgw {

[[nodiscard]] constexpr bool tenant_name_char(char c, bool first) noexcept {
  const bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  return alnum || (!first && (c == '.' || c == '_' || c == '-'));
}

[[nodiscard]] constexpr bool valid_tenant_name(std::string_view s) noexcept {
  if (s.empty() || s.size() > 64) {
    return false;
  }
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!tenant_name_char(s[i], i == 0)) {
      return false;
    }
  }
  return true;
}

// Why `s` is not a tenant name ("" when it is one): its length, or its first character that may
// not be there, named by code point when it is not printable ASCII ("U+0430 at character 1").
// `kind` names what the name is of ("tenant", "cluster").
[[nodiscard]] inline std::string tenant_name_problem(std::string_view s, std::string_view kind = "tenant") {
  if (valid_tenant_name(s)) {
    return {};
  }
  if (s.empty() || s.size() > 64) {
    return fmt::format("a {} name has 1 to 64 characters", kind);
  }
  std::size_t chars = 0;
  for (std::size_t i = 0; i < s.size();) {
    ++chars;
    const auto c = static_cast<unsigned char>(s[i]);
    if (tenant_name_char(s[i], i == 0)) {
      ++i;
      continue;
    }
    const std::string rule = fmt::format(
        "{} names are ASCII letters, digits, '.', '_' and '-', starting with a letter or digit", kind);
    if (c >= 0x21 && c < 0x7f) {
      return fmt::format("'{}' at character {}: {}", s[i], chars, rule);
    }
    // The code point of a UTF-8 sequence (the YAML readers only pass valid UTF-8).
    const std::size_t n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    char32_t cp = n == 1 ? c : c & (0x7f >> n);
    for (std::size_t k = 1; k < n && i + k < s.size(); ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
    }
    return fmt::format("U+{:04X} at character {}: {}", static_cast<unsigned>(cp), chars, rule);
  }
  return {};
}

}  // namespace sovgw
