#pragma once

// Whether a request path is in canonical form (RFC 3986 section 6), as the gateway requires of every
// target before the policy sees it, so that whatever decodes or normalises paths (the policy's
// matcher, a cluster's router) sees the same path. One rule for the gateway's parser and the
// policy tools (`policy explain`/`test` refuse a path the gateway would refuse, `policy check`
// warns at a rule's). Header-only, pure.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/ascii.hpp"

namespace sovgw {

// RFC 3986 unreserved: a percent-encoding of one of these has a plain spelling.
[[nodiscard]] constexpr bool is_unreserved_char(unsigned char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

// The other characters a path segment holds as they are (RFC 3986 pchar: ':', '@' and the
// sub-delims but ';', which is refused on its own): servers decode their percent-encodings before
// they route (/v1beta/models/x%3AstreamGenerateContent is :streamGenerateContent), so an encoded
// one would spell a path the policy never matched (probe round 45).
[[nodiscard]] constexpr bool is_path_char(unsigned char c) noexcept {
  return c == ':' || c == '@' || c == '!' || c == '$' || c == '&' || c == '\'' || c == '(' || c == ')' ||
         c == '*' || c == '+' || c == ',' || c == '=';
}

// The length of the percent-encoded UTF-8 character at path[i] ('%' and two hex digits, its lead
// byte >= 0x80, and its continuation bytes encoded the same way), or 0 when the bytes are not one
// well-formed UTF-8 character (overlong, surrogate, truncated, over U+10FFFF).
[[nodiscard]] inline std::size_t encoded_utf8_length(std::string_view path, std::size_t i,
                                                     std::uint32_t* code_point = nullptr) noexcept {
  const auto byte_at = [&](std::size_t k) -> int {
    if (k + 2 >= path.size() || path[k] != '%' || hex_digit_value(path[k + 1]) < 0 ||
        hex_digit_value(path[k + 2]) < 0) {
      return -1;
    }
    return hex_digit_value(path[k + 1]) * 16 + hex_digit_value(path[k + 2]);
  };
  const int lead = byte_at(i);
  std::size_t n = 0;
  std::uint32_t cp = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    n = 2;
    cp = static_cast<std::uint32_t>(lead & 0x1F);
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    n = 3;
    cp = static_cast<std::uint32_t>(lead & 0x0F);
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    n = 4;
    cp = static_cast<std::uint32_t>(lead & 0x07);
  } else {
    return 0;
  }
  for (std::size_t k = 1; k < n; ++k) {
    const int b = byte_at(i + 3 * k);
    if (b < 0x80 || b > 0xBF) {
      return 0;
    }
    cp = (cp << 6) | static_cast<std::uint32_t>(b & 0x3F);
  }
  const bool overlong = (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
  if (code_point != nullptr) {
    *code_point = cp;
  }
  return overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) ? 0 : 3 * n;
}

// The characters that Unicode case folding, or a case-insensitive comparison (Java's
// equalsIgnoreCase, .NET's invariant culture, Python's upper()), takes for an ASCII letter: the
// dotted İ and dotless ı (i, I), the long s ſ (s) and the Kelvin sign K (k). A router matching
// paths in any case reads "/adm%C4%B1n" as "/admin".
[[nodiscard]] constexpr bool folds_to_ascii_letter(std::uint32_t cp) noexcept {
  return cp == 0x130 || cp == 0x131 || cp == 0x17F || cp == 0x212A;
}

enum class path_form { canonical, malformed, not_canonical };

// No empty ("//") or dot ("." / "..") segments, no segment ending in '.' or an encoded space
// (Windows servers drop them), no percent-encoded unreserved or other path characters (':', '@',
// the sub-delims), slashes, backslashes,
// control characters, percent signs, ';', '?' or '#', or characters a case-insensitive router takes
// for an ASCII letter (folds_to_ascii_letter); encoded bytes that are well-formed UTF-8, no
// raw backslash, no ';' path parameters; `malformed`: not starting with '/', or a '%' not followed
// by two hex digits. A trailing '/' is allowed.
[[nodiscard]] inline path_form canonical_path_form(std::string_view path) noexcept {
  if (path.empty() || path.front() != '/') {
    return path_form::malformed;
  }
  std::size_t segment_start = 1;
  for (std::size_t i = 1; i <= path.size(); ++i) {
    if (i < path.size() && path[i] != '/') {
      const char c = path[i];
      if (c == '\\' || c == ';') {
        return path_form::not_canonical;
      }
      if (c == '%') {
        if (i + 2 >= path.size() || hex_digit_value(path[i + 1]) < 0 || hex_digit_value(path[i + 2]) < 0) {
          return path_form::malformed;
        }
        const auto decoded =
            static_cast<unsigned char>(hex_digit_value(path[i + 1]) * 16 + hex_digit_value(path[i + 2]));
        if (is_unreserved_char(decoded) || is_path_char(decoded) || decoded == '/' || decoded == '\\' ||
            decoded == '%' || decoded < 0x20 || decoded == 0x7f || decoded == ';' || decoded == '?' ||
            decoded == '#') {
          return path_form::not_canonical;
        }
        if (decoded >= 0x80) {  // the encoded bytes must be UTF-8: no overlong '/' (%C0%AF)
          std::uint32_t cp = 0;
          const std::size_t used = encoded_utf8_length(path, i, &cp);
          if (used == 0 || folds_to_ascii_letter(cp)) {
            return path_form::not_canonical;
          }
          i += used - 1;
          continue;
        }
        i += 2;
      }
      continue;
    }
    const std::string_view segment = path.substr(segment_start, i - segment_start);
    const bool last = i == path.size();
    if ((segment.empty() && !last) || segment == "." || segment == "..") {
      return path_form::not_canonical;
    }
    // Windows servers (IIS, http.sys) drop a segment's trailing dots and spaces: "admin." is "admin".
    if (segment.ends_with('.') || segment.ends_with("%20")) {
      return path_form::not_canonical;
    }
    segment_start = i + 1;
  }
  return path_form::canonical;
}

}  // namespace sovgw
