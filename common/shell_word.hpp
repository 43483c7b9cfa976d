#pragma once

// A file name or value as one word a POSIX shell reads back unchanged: the commands that messages
// and reports tell a person to run work when pasted, whatever the name holds (spaces, quotes, `$`).

#include <string>
#include <string_view>

namespace sovgw {

[[nodiscard]] inline std::string shell_word(std::string_view s) {
  const auto plain = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == '/' || c == ':' || c == '=' || c == '@' || c == '%' || c == '+' ||
           c == ',';
  };
  bool all_plain = !s.empty();
  for (char c : s) {
    all_plain = all_plain && plain(c);
  }
  if (all_plain) {
    return std::string(s);
  }
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

}  // namespace sovgw
