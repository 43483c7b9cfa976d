#include "cli/printable.hpp"

#include <fmt/format.h>

#include "common/utf8.hpp"

namespace sovgw::cli {

bool hidden_from_terminals(char32_t c) {
  return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x2028 || c == 0x2029 || c == 0x200e || c == 0x200f ||
         (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

std::string printable(std::string_view s, bool lines) {
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

}  // namespace sovgw::cli
