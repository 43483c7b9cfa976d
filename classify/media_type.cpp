#include "classify/media_type.hpp"

namespace sovgw::classify {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) {
      return false;
    }
  }
  return true;
}

bool is_tchar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Reads a token at the front of `s`; empty when there is none.
std::string_view token(std::string_view& s) {
  std::size_t n = 0;
  while (n < s.size() && is_tchar(s[n])) {
    ++n;
  }
  const std::string_view t = s.substr(0, n);
  s.remove_prefix(n);
  return t;
}

void skip_ows(std::string_view& s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
}

// A quoted-string at the front of `s` (which starts with '"'): its content, escapes kept.
std::optional<std::string_view> quoted(std::string_view& s) {
  for (std::size_t i = 1; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"') {
      const std::string_view inner = s.substr(1, i - 1);
      s.remove_prefix(i + 1);
      return inner;
    }
    if (c == '\\') {
      ++i;
    } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<media_type> parse_media_type(std::string_view s) noexcept {
  media_type m;
  skip_ows(s);
  m.type = token(s);
  if (m.type.empty() || s.empty() || s.front() != '/') {
    return std::nullopt;
  }
  s.remove_prefix(1);
  m.subtype = token(s);
  if (m.subtype.empty()) {
    return std::nullopt;
  }
  while (true) {
    skip_ows(s);
    if (s.empty()) {
      return m;
    }
    if (s.front() != ';') {
      return std::nullopt;
    }
    s.remove_prefix(1);
    skip_ows(s);
    if (s.empty() || s.front() == ';') {
      continue;  // an empty parameter
    }
    const std::string_view name = token(s);
    if (name.empty() || s.empty() || s.front() != '=') {
      return std::nullopt;
    }
    s.remove_prefix(1);
    std::optional<std::string_view> value;
    if (!s.empty() && s.front() == '"') {
      value = quoted(s);
    } else if (std::string_view t = token(s); !t.empty()) {
      value = t;
    }
    if (!value) {
      return std::nullopt;
    }
    if (iequals(name, "charset")) {
      if (m.charset) {
        return std::nullopt;  // which one would the cluster take?
      }
      m.charset = value;
    }
  }
}

json_media json_media_of(const media_type& m) noexcept {
  if (!iequals(m.type, "application") || !iequals(m.subtype, "json")) {
    return json_media::not_json;
  }
  return !m.charset || iequals(*m.charset, "utf-8") ? json_media::json : json_media::not_utf8;
}

bool identity_encoding(std::string_view value) noexcept {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    std::string_view coding = value.substr(0, comma);
    value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
    skip_ows(coding);
    while (!coding.empty() && (coding.back() == ' ' || coding.back() == '\t')) {
      coding.remove_suffix(1);
    }
    if (!coding.empty() && !iequals(coding, "identity")) {
      return false;
    }
  }
  return true;
}

}  // namespace sovgw::classify
