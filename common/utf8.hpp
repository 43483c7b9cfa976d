#pragma once

// UTF-8 validity (RFC 3629), shared by the body inspector, the tenants file and the YAML loaders.
#include <fmt/format.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace sovgw {

// The length (1 to 4) of the valid UTF-8 sequence at `s[i]` (no overlongs, surrogates or values
// over U+10FFFF), or 0 when the byte there does not start one; `code_point` gets its value.
[[nodiscard]] inline std::size_t utf8_sequence_at(std::string_view s, std::size_t i,
                                                  char32_t& code_point) noexcept {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    code_point = c;
    return 1;
  }
  std::size_t n = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 1;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 2;
    lo = c == 0xe0 ? 0xa0 : 0x80;
    hi = c == 0xed ? 0x9f : 0xbf;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 3;
    lo = c == 0xf0 ? 0x90 : 0x80;
    hi = c == 0xf4 ? 0x8f : 0xbf;
  } else {
    return 0;
  }
  code_point = c & (0x3f >> n);
  for (std::size_t k = 1; k <= n; ++k) {
    const auto d = i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0;
    if (d < (k == 1 ? lo : 0x80) || d > (k == 1 ? hi : 0xbf)) {
      return 0;
    }
    code_point = code_point << 6 | (d & 0x3f);
  }
  return n + 1;
}

// The offset of the first byte of `s` that does not start or continue a valid UTF-8 sequence
// (no overlongs, surrogates or values over U+10FFFF), or npos.
[[nodiscard]] inline std::size_t first_invalid_utf8(std::string_view s) noexcept {
  char32_t code_point = 0;
  for (std::size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {  // the common case, kept short: request bodies
      ++i;
      continue;
    }
    const std::size_t n = utf8_sequence_at(s, i, code_point);
    if (n == 0) {
      return i;
    }
    i += n;
  }
  return std::string_view::npos;
}

[[nodiscard]] inline bool valid_utf8(std::string_view s) noexcept {
  return first_invalid_utf8(s) == std::string_view::npos;
}

// Appends the code point `cp` (at most U+10FFFF; the caller rules out surrogates where they matter)
// to `out` in UTF-8.
inline void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

// Where a text file stops being UTF-8, for a `file:line:col` message: 1-based line and column
// (in bytes) of the first invalid byte, and what to do; empty when the text is UTF-8.
struct utf8_problem {
  int line = 0;
  int column = 0;
  std::string message;
};
[[nodiscard]] inline utf8_problem find_utf8_problem(std::string_view text) {
  const std::size_t at = first_invalid_utf8(text);
  if (at == std::string_view::npos) {
    return {};
  }
  const std::size_t line_start = text.rfind('\n', at == 0 ? 0 : at - 1);
  const std::size_t begin = line_start == std::string_view::npos || at == 0 ? 0 : line_start + 1;
  int line = 1;
  for (std::size_t i = 0; i < begin; ++i) {
    line += text[i] == '\n' ? 1 : 0;
  }
  return {line, static_cast<int>(at - begin) + 1,
          fmt::format("byte 0x{:02X} is not UTF-8: the file must be UTF-8 (save it as UTF-8; Latin-1 "
                      "or Windows-1252 accents are single bytes)",
                      static_cast<unsigned char>(text[at]))};
}

// Where `s` first holds a character outside printable ASCII, for a message that must not read as
// the ASCII look-alike it shows as ("U+0415 at character 1"; a control or invalid byte as "byte
// 0xNN at character N"); empty when it holds none. Look-alikes (Cyrillic Е in `ЕU`) and invisible
// characters (U+200B) show on a screen as the name they are not.
[[nodiscard]] inline std::string first_non_ascii(std::string_view s) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < s.size();) {
    ++chars;
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      ++i;
      continue;
    }
    char32_t cp = 0;
    const std::size_t n = utf8_sequence_at(s, i, cp);
    if (n == 0 || c < 0x80) {
      return fmt::format("byte 0x{:02X} at character {}", c, chars);
    }
    return fmt::format("U+{:04X} at character {}", static_cast<unsigned>(cp), chars);
  }
  return {};
}

// " (it holds U+0415 at character 1, which only looks like an ASCII character)" when `s` holds a
// character outside printable ASCII, else empty: appended to a message naming a value that was
// looked up and not found.
[[nodiscard]] inline std::string non_ascii_note(std::string_view s) {
  const std::string where = first_non_ascii(s);
  return where.empty() ? std::string()
                       : fmt::format(" (it holds {}, not an ASCII character: retype it)", where);
}

}  // namespace sovgw
