#include "classify/unescape.hpp"

#include <algorithm>
#include <array>
#include <cstddef>

namespace sovgw::classify {
namespace {

int hex_value(char c) {
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

// The value of `digits` hex digits at in[i], or -1.
long hex_at(std::string_view in, std::size_t i, std::size_t digits) {
  if (i + digits > in.size()) {
    return -1;
  }
  long v = 0;
  for (std::size_t k = 0; k < digits; ++k) {
    const int h = hex_value(in[i + k]);
    if (h < 0) {
      return -1;
    }
    v = v * 16 + h;
  }
  return v;
}

void put_utf8(std::uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// A decoded escape: `length` input bytes give `text` (possibly empty), or length 0: none here.
struct decoded {
  std::size_t length = 0;
  std::string text;
};

decoded json_escape_at(std::string_view in, std::size_t i) {
  if (in[i] != '\\' || i + 1 >= in.size()) {
    return {};
  }
  const char e = in[i + 1];
  if (e == 'u') {
    const long first = hex_at(in, i + 2, 4);
    if (first < 0) {
      return {};
    }
    auto cp = static_cast<std::uint32_t>(first);
    std::size_t length = 6;
    if (cp >= 0xD800 && cp <= 0xDBFF && i + 12 <= in.size() && in[i + 6] == '\\' && in[i + 7] == 'u') {
      const long second = hex_at(in, i + 8, 4);
      if (second >= 0xDC00 && second <= 0xDFFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (static_cast<std::uint32_t>(second) - 0xDC00);
        length = 12;
      }
    }
    decoded d{length, {}};
    if ((cp >= 0xD800 && cp <= 0xDFFF) || cp < 0x20 || cp == 0x7F) {
      return d;  // a lone surrogate or a control character: nothing a model reads
    }
    put_utf8(cp, d.text);
    return d;
  }
  static constexpr std::string_view from = "nrtbf/\"\\";
  static constexpr std::string_view to = "\n\r\t  /\"\\";
  const std::size_t k = from.find(e);
  return k == std::string_view::npos ? decoded{} : decoded{2, std::string(1, to[k])};
}

decoded percent_at(std::string_view in, std::size_t i) {
  const long v = in[i] == '%' ? hex_at(in, i + 1, 2) : -1;
  return v < 0 ? decoded{} : decoded{3, std::string(1, static_cast<char>(v))};
}

decoded html_reference_at(std::string_view in, std::size_t i) {
  if (in[i] != '&') {
    return {};
  }
  const std::size_t semi = in.find(';', i + 1);
  if (semi == std::string_view::npos || semi - i > 10) {
    return {};
  }
  const std::string_view name = in.substr(i + 1, semi - i - 1);
  const std::size_t length = semi - i + 1;
  if (name.size() >= 2 && name[0] == '#') {
    long cp = -1;
    if (name[1] == 'x' || name[1] == 'X') {
      cp = name.size() > 2 && name.size() <= 8 ? hex_at(name, 2, name.size() - 2) : -1;
    } else if (name.size() <= 8 &&
               std::all_of(name.begin() + 1, name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      cp = std::stol(std::string(name.substr(1)));
    }
    if (cp < 0x20 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return cp < 0 ? decoded{} : decoded{length, {}};
    }
    decoded d{length, {}};
    put_utf8(static_cast<std::uint32_t>(cp), d.text);
    return d;
  }
  // The punctuation and spaces an identifier is written with (HTML 5's names for them).
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 22> named = {{
      {"amp", "&"},
      {"AMP", "&"},
      {"lt", "<"},
      {"gt", ">"},
      {"quot", "\""},
      {"apos", "'"},
      {"commat", "@"},
      {"period", "."},
      {"plus", "+"},
      {"hyphen", "\xe2\x80\x90"},
      {"dash", "\xe2\x80\x90"},
      {"minus", "\xe2\x88\x92"},
      {"lowbar", "_"},
      {"sol", "/"},
      {"colon", ":"},
      {"lpar", "("},
      {"rpar", ")"},
      {"num", "#"},
      {"percnt", "%"},
      {"nbsp", "\xc2\xa0"},
      {"ensp", "\xe2\x80\x82"},
      {"emsp", "\xe2\x80\x83"},
  }};
  for (const auto& [n, text] : named) {
    if (name == n) {
      return {length, std::string(text)};
    }
  }
  return {};
}

}  // namespace

bool unescape(std::string_view in, std::uint8_t forms, unescaped_text& out) {
  const auto starts = [&](char c) {
    return ((forms & json_escapes) != 0 && c == '\\') || ((forms & percent_encoding) != 0 && c == '%') ||
           ((forms & plus_as_space) != 0 && c == '+') || ((forms & html_references) != 0 && c == '&');
  };
  const auto at = [&](std::size_t i) {
    if ((forms & json_escapes) != 0 && in[i] == '\\') {
      return json_escape_at(in, i);
    }
    if ((forms & percent_encoding) != 0 && in[i] == '%') {
      return percent_at(in, i);
    }
    if ((forms & plus_as_space) != 0 && in[i] == '+') {
      return decoded{1, " "};
    }
    if ((forms & html_references) != 0 && in[i] == '&') {
      return html_reference_at(in, i);
    }
    return decoded{};
  };
  std::size_t first = 0;
  while (first < in.size() && (!starts(in[first]) || at(first).length == 0)) {
    ++first;
  }
  if (first == in.size()) {
    return false;
  }
  out.text.assign(in.substr(0, first));
  out.origin.resize(first);
  for (std::size_t i = 0; i < first; ++i) {
    out.origin[i] = static_cast<std::uint32_t>(i);
  }
  for (std::size_t i = first; i < in.size();) {
    const decoded d = starts(in[i]) ? at(i) : decoded{};
    if (d.length == 0) {
      out.text.push_back(in[i]);
      out.origin.push_back(static_cast<std::uint32_t>(i));
      ++i;
      continue;
    }
    out.text += d.text;
    out.origin.insert(out.origin.end(), d.text.size(), static_cast<std::uint32_t>(i));
    i += d.length;
  }
  out.origin.push_back(static_cast<std::uint32_t>(in.size()));
  return true;
}

}  // namespace sovgw::classify
