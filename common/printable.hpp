#pragma once

// Text a terminal (or a text viewer) shows as it is, whatever bytes a value holds: for messages
// that quote a value from a file or a request (a name in a config error, a log line).

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/utf8.hpp"

namespace sovgw {

// What no terminal should receive as it is: C0 and C1 controls, DEL, the line and paragraph
// separators (U+2028/2029) and the bidirectional controls (which reorder what follows; the Arabic
// letter mark U+061C too).
[[nodiscard]] inline bool hidden_from_terminals(char32_t c) {
  return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x2028 || c == 0x2029 || c == 0x061c || c == 0x200e ||
         c == 0x200f || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

// A value as text for a terminal: control characters as \n, \t, \r or \xNN, DEL and bytes that are
// not UTF-8 as \xNN, the other hidden characters as \uXXXX, and a backslash as \\: a value can
// neither forge a line nor drive the terminal, and reads back unambiguously. `lines`: a text of
// several lines (a payload, a message): newlines and tabs stay, backslashes too.
[[nodiscard]] inline std::string printable(std::string_view s, bool lines = false) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    char32_t c = 0;
    const std::size_t n = utf8_sequence_at(s, i, c);
    if (n == 0 || c < 0x20 || c == 0x7f) {
      const auto byte = static_cast<unsigned char>(s[i]);
      out += lines && (byte == '\n' || byte == '\t') ? std::string(1, static_cast<char>(byte))
             : byte == '\n'                          ? std::string("\\n")
             : byte == '\t'                          ? std::string("\\t")
             : byte == '\r'                          ? std::string("\\r")
                                                     : fmt::format("\\x{:02x}", byte);
      ++i;
      continue;
    }
    if (hidden_from_terminals(c)) {
      out += fmt::format("\\u{:04x}", static_cast<std::uint32_t>(c));
    } else if (c == '\\' && !lines) {
      out += "\\\\";
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
  return out;
}

}  // namespace sovgw

namespace sovgw {

// A value written where a file's path belongs, for a message: as it is, unless it looks like the
// secret itself pasted in place of its file, which is shown as its first four characters only: an
// operator's slip must not copy a token into a log or a terminal (probe round 29). It looks like one
// when a word of what follows its last '/' (base64 keys hold '/'; a pasted header value `Bearer …`
// a space: probe round 36) has at least 16 characters, letters of both cases or letters and
// digits, and no file-name extension; a path into a folder that exists is shown as it is.
[[nodiscard]] inline bool looks_like_secret_word(std::string_view word) {
  if (word.size() < 16) {
    return false;
  }
  const std::size_t dot = word.rfind('.');
  if (dot != std::string_view::npos && word.size() - dot <= 5 && dot > 0) {
    return false;  // "credential.txt", "token.secret"
  }
  bool lower = false;
  bool upper = false;
  bool digit = false;
  for (const char c : word) {
    lower = lower || (c >= 'a' && c <= 'z');
    upper = upper || (c >= 'A' && c <= 'Z');
    digit = digit || (c >= '0' && c <= '9');
  }
  return static_cast<int>(lower) + static_cast<int>(upper) + static_cast<int>(digit) >= 2;
}

[[nodiscard]] inline std::string path_or_secret(std::string_view path) {
  // A path into a folder that exists is a path, whatever its words (/tmp/sovgw-test-a1b2c3d4e5/x).
  if (const std::size_t slash = path.rfind('/'); slash != std::string_view::npos) {
    struct stat st {};
    const std::string parent(path.substr(0, std::max<std::size_t>(slash, 1)));
    if (parent.find('\0') == std::string::npos && ::stat(parent.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      return printable(path);
    }
  }
  // The words of its last component: a folder's name may well be long and mixed (sovgw-a1b2c3d4e5f6).
  const std::size_t slash = path.rfind('/');
  const std::string_view last = slash == std::string_view::npos ? path : path.substr(slash + 1);
  for (std::size_t at = 0; at <= last.size();) {
    const std::size_t end = std::min(last.find_first_of(" \t", at), last.size());
    if (looks_like_secret_word(last.substr(at, end - at))) {
      return fmt::format(
          "'{}...' (this looks like a secret, not a file name: give the path of a file that holds it)",
          printable(path.substr(0, 4)));
    }
    at = end + 1;
  }
  return printable(path);
}

}  // namespace sovgw
