#include "classify/number_bytes.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "classify/digit_scan.hpp"
#include "common/ascii.hpp"
#include "common/utf8.hpp"

namespace sovgw::classify {
namespace {

bool digit(char c) { return c >= '0' && c <= '9'; }
bool alnum(char c) { return digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool blank(char c) { return c == ' ' || c == '\t'; }

// What a number may be read as (several at once: "61" is decimal and a hex pair, "01100001"
// decimal and binary).
enum kinds : std::uint8_t { decimal = 1, prefixed_hex = 2, hex_pair = 4, binary = 8, prefixed_binary = 16 };

struct number {
  std::size_t begin = 0;
  std::size_t end = 0;  // 0: none at `begin`
  std::uint8_t kinds = 0;
};

// The number written at in[i] (a digit that no letter, digit, '.' or '-' is glued to before it),
// if one is: a word of its own, not a decimal fraction ("3.14", "10.0.0.1") nor a measure
// ("12px").
number number_at(std::string_view in, std::size_t i) {
  number n{i, 0, 0};
  std::size_t j = i;
  if (in[i] == '0' && i + 2 < in.size() && (in[i + 1] == 'x' || in[i + 1] == 'X') &&
      hex_digit_value(in[i + 2]) >= 0) {
    j = i + 2;
    while (j < in.size() && hex_digit_value(in[j]) >= 0 && j - i < 8) {
      ++j;
    }
    n.kinds = prefixed_hex;
  } else if (in[i] == '0' && i + 9 < in.size() && (in[i + 1] == 'b' || in[i + 1] == 'B') &&
             std::all_of(in.begin() + static_cast<std::ptrdiff_t>(i + 2),
                         in.begin() + static_cast<std::ptrdiff_t>(i + 10),
                         [](char c) { return c == '0' || c == '1'; })) {
    j = i + 10;  // 0b01100001: an octet
    n.kinds = prefixed_binary;
  } else {
    bool letters = false;
    bool bits = true;
    while (j < in.size() && hex_digit_value(in[j]) >= 0 && j - i < 9) {
      letters = letters || !digit(in[j]);
      bits = bits && (in[j] == '0' || in[j] == '1');
      ++j;
    }
    const std::size_t length = j - i;
    n.kinds = static_cast<std::uint8_t>((!letters && length <= 7 ? decimal : 0) |
                                        (length == 2 ? hex_pair : 0) | (bits && length == 8 ? binary : 0));
  }
  if (n.kinds == 0 || (j < in.size() && (alnum(in[j]) || (in[j] == '.' && j + 1 < in.size() && digit(in[j + 1]))))) {
    return n;
  }
  n.end = j;
  return n;
}

bool may_start_at(std::string_view in, std::size_t i) {
  if (i == 0) {
    return true;
  }
  const char c = in[i - 1];
  return !alnum(c) && c != '.' && c != '-';
}

// Where the next digit that may start a number is, at or after `from`, or npos.
std::size_t next_start(std::string_view in, std::size_t from) {
  return next_digit_if(in, from, [&](std::size_t at) { return may_start_at(in, at); });
}

// The separator after a number ending at in[end]: blanks, then one ',' or ';' (`mark`, else 0),
// then blanks and line breaks; at most eight bytes, not nothing. Its end, or npos.
std::size_t separator_end(std::string_view in, std::size_t end, char& mark) {
  std::size_t k = end;
  while (k < in.size() && blank(in[k]) && k - end < 8) {
    ++k;
  }
  mark = 0;
  if (k < in.size() && (in[k] == ',' || in[k] == ';')) {
    mark = in[k++];
  }
  while (k < in.size() && (blank(in[k]) || in[k] == '\n' || in[k] == '\r') && k - end < 8) {
    ++k;
  }
  return k == end || k - end >= 8 ? std::string_view::npos : k;
}

std::uint32_t value_of(std::string_view in, const number& n, kinds as) {
  std::uint32_t v = 0;
  const std::size_t from = as == prefixed_hex || as == prefixed_binary ? n.begin + 2 : n.begin;
  for (std::size_t k = from; k < n.end; ++k) {
    const auto d = static_cast<std::uint32_t>(hex_digit_value(in[k]));
    v = as == decimal ? v * 10 + d : as == binary || as == prefixed_binary ? v * 2 + d : v * 16 + d;
  }
  return v;
}

bool printable_ascii(std::uint32_t cp) { return cp >= 0x20 && cp < 0x7f; }

// A character no text holds: a control but tab and line breaks (C0, DEL, C1), a surrogate, private
// use, or past Unicode.
bool not_text(std::uint32_t cp) {
  return (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || (cp >= 0x7f && cp < 0xa0) ||
         (cp >= 0xd800 && cp < 0xe000) || (cp >= 0xe000 && cp < 0xf900) || cp >= 0xf0000;
}

// A character of the list: its code point and the numbers that give it (two for a UTF-16
// surrogate pair).
struct character {
  std::uint32_t cp = 0;
  std::size_t first = 0;
  std::size_t last = 0;
};

// Characters read as code points ("several bytes" no more): three in four printable ASCII, or the
// stretch is a list of other numbers (years: U+07E8...).
bool mostly_ascii(const character* begin, const character* end) {
  const auto ascii = std::count_if(begin, end, [](const character& c) { return printable_ascii(c.cp); });
  return 4 * static_cast<std::size_t>(ascii) >= 3 * static_cast<std::size_t>(end - begin);
}

// The stretch [begin, end) of a list's values as text into `out`, or false: bytes that are UTF-8
// (`bytes`), or else code points, mostly ASCII.
bool stretch_text(const character* begin, const character* end, bool bytes, std::string& out) {
  out.clear();
  if (bytes) {
    for (const character* c = begin; c != end; ++c) {
      out.push_back(static_cast<char>(c->cp));
    }
    // UTF-8 of text: no C1 control (U+0080 to U+009F, written C2 80 to C2 9F) either.
    bool c1 = false;
    for (std::size_t k = 0; k + 1 < out.size(); ++k) {
      c1 = c1 || (out[k] == '\xc2' && static_cast<unsigned char>(out[k + 1]) < 0xa0);
    }
    if (!c1 && first_invalid_utf8(out) == std::string_view::npos) {
      return true;
    }
    out.clear();
  }
  if (!mostly_ascii(begin, end)) {
    return false;
  }
  for (const character* c = begin; c != end; ++c) {
    if (not_text(c->cp)) {
      return false;
    }
    append_utf8(out, c->cp);
  }
  return true;
}

// The list of `numbers` read `as` one kind: each stretch of text in it, appended to `out`.
void read_list(std::string_view in, const std::vector<number>& numbers, kinds as, std::vector<base64_text>& out) {
  thread_local std::vector<character> chars;
  chars.clear();
  std::uint32_t largest = 0;
  for (std::size_t k = 0; k < numbers.size(); ++k) {
    const std::uint32_t v = value_of(in, numbers[k], as);
    largest = std::max(largest, v);
    chars.push_back({v, k, k});
  }
  const bool bytes = largest <= 0xff;
  if (!bytes) {  // JavaScript's char codes: UTF-16 units, a surrogate pair one character
    std::size_t w = 0;
    for (std::size_t r = 0; r < chars.size(); ++r, ++w) {
      chars[w] = chars[r];
      if (chars[r].cp >= 0xd800 && chars[r].cp < 0xdc00 && r + 1 < chars.size() && chars[r + 1].cp >= 0xdc00 &&
          chars[r + 1].cp < 0xe000) {
        chars[w].cp = 0x10000 + ((chars[r].cp - 0xd800) << 10) + (chars[r + 1].cp - 0xdc00);
        chars[w].last = chars[++r].last;
      }
    }
    chars.resize(w);
  }
  // Stretches between characters that no text holds (a NUL, a control: "1, 2, 97, 108, ..."
  // reads from 97), each read on its own.
  const auto breaks = [&](const character& c) {
    return bytes ? (c.cp < 0x20 && c.cp != '\t' && c.cp != '\n' && c.cp != '\r') || c.cp == 0x7f : not_text(c.cp);
  };
  std::string text;
  const character* const end = chars.data() + chars.size();
  for (const character* from = chars.data(); from != end;) {
    from = std::find_if_not(from, end, breaks);
    const character* to = std::find_if(from, end, breaks);
    // Text with a letter in it: a series of measurements between 48 and 57 (temperatures, heart
    // rates) spells digits alone, which the detectors would read as a card or a phone by chance
    // (probe round 33); char codes of digits alone are not read.
    if (static_cast<std::size_t>(to - from) >= min_number_bytes && stretch_text(from, to, bytes, text) &&
        std::any_of(text.begin(), text.end(),
                    [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); })) {
      out.push_back({numbers[from->first].begin, numbers[(to - 1)->last].end, text});
    }
    from = to;
  }
}

// One character written as a list item at in[i]: quoted ('a', "a": `quoted`) or bare (a letter, a
// digit, '@', '.', '_', '+', '-'); its end, or npos.
std::size_t list_character_at(std::string_view in, std::size_t i, bool quoted) {
  if (quoted) {
    if (i + 2 >= in.size() || (in[i] != '\'' && in[i] != '"')) {
      return std::string_view::npos;
    }
    const auto c = static_cast<unsigned char>(in[i + 1]);
    std::size_t length = 1;
    if (c >= 0x80) {
      char32_t cp = 0;
      length = utf8_sequence_at(in, i + 1, cp);
    } else if (c < 0x20 || c == 0x7f || c == '\\') {
      return std::string_view::npos;
    }
    return length != 0 && i + 1 + length < in.size() && in[i + 1 + length] == in[i] ? i + 2 + length
                                                                                    : std::string_view::npos;
  }
  const char c = in[i];
  const bool item = alnum(c) || c == '@' || c == '.' || c == '_' || c == '+' || c == '-';
  return item && (i + 1 == in.size() || !alnum(in[i + 1])) ? i + 1 : std::string_view::npos;
}

// Text written a character at a time as a list's items ("''.join(['a','l','i',...])", a C
// "{'a', 'l', ...}", a JSON array of characters in a prompt, "a,l,i,c,e,@,..."): at least
// min_number_bytes items, ',' or ';' apart (with blanks and line breaks around, one mark
// throughout), all quoted or all bare; bare ones not digits alone (a list of ratings, "4,5,3,4,...",
// would read as a card by chance); appended to `out` as runs of the characters joined.
void find_character_lists(std::string_view in, std::vector<base64_text>& out) {
  std::string text;
  // Each list is found at its first mark: the item before it starts the list (prose has few marks
  // and fewer one-character words before them).
  // The next ',' and the next ';' (two memchr passes: find_first_of reads byte by byte).
  std::size_t comma = in.find(',');
  std::size_t semicolon = in.find(';');
  for (std::size_t from = 0;;) {
    if (comma < from) {
      comma = in.find(',', from);
    }
    if (semicolon < from) {
      semicolon = in.find(';', from);
    }
    const std::size_t mark_at = std::min(comma, semicolon);
    if (mark_at == std::string_view::npos) {
      return;
    }
    from = mark_at + 1;
    std::size_t k = mark_at;
    while (k > 0 && blank(in[k - 1])) {
      --k;
    }
    if (k == 0) {
      continue;
    }
    const bool quoted = in[k - 1] == '\'' || in[k - 1] == '"';
    std::size_t i = quoted ? (k >= 3 ? k - 3 : std::string_view::npos) : k - 1;
    if (i == std::string_view::npos || (i > 0 && (alnum(in[i - 1]) || (!quoted && in[i - 1] == '.')))) {
      continue;
    }
    std::size_t end = list_character_at(in, i, quoted);
    if (end != k) {
      continue;
    }
    const std::size_t begin = i;
    text.clear();
    char first_mark = 0;
    std::size_t items = 0;
    bool digits_only = true;
    std::size_t last_end = end;
    for (;;) {
      const std::string_view item = quoted ? in.substr(i + 1, end - i - 2) : in.substr(i, 1);
      text.append(item);
      digits_only = digits_only && item.size() == 1 && digit(item[0]);
      ++items;
      last_end = end;
      char mark = 0;
      const std::size_t next = separator_end(in, end, mark);
      if (next == std::string_view::npos || mark == 0 || (items > 1 && mark != first_mark) ||
          next >= in.size()) {
        break;
      }
      const std::size_t after = list_character_at(in, next, quoted);
      if (after == std::string_view::npos) {
        break;
      }
      first_mark = mark;
      i = next;
      end = after;
    }
    from = std::max(from, last_end);
    if (items >= min_number_bytes && !(digits_only && !quoted)) {
      out.push_back({begin, last_end, text});
    }
  }
}

}  // namespace

void find_number_texts(std::string_view in, std::vector<base64_text>& out) {
  find_character_lists(in, out);
  thread_local std::vector<number> numbers;
  for (std::size_t from = 0; from < in.size();) {
    const std::size_t at = next_start(in, from);
    if (at == std::string_view::npos) {
      return;
    }
    number n = number_at(in, at);
    if (n.end == 0) {
      from = at + 1;
      continue;
    }
    numbers.clear();
    numbers.push_back(n);
    std::uint8_t common = n.kinds;
    char first_mark = 0;
    for (;;) {
      char mark = 0;
      const std::size_t next = separator_end(in, n.end, mark);
      if (next == std::string_view::npos || next >= in.size() || (numbers.size() > 1 && mark != first_mark) ||
          hex_digit_value(in[next]) < 0) {
        break;
      }
      const number m = number_at(in, next);
      if (m.end == 0 || (common & m.kinds) == 0) {
        break;
      }
      first_mark = mark;
      common = static_cast<std::uint8_t>(common & m.kinds);
      numbers.push_back(m);
      n = m;
    }
    from = n.end;
    if (numbers.size() < min_number_bytes) {
      continue;
    }
    if ((common & binary) != 0) {
      read_list(in, numbers, binary, out);
    } else if ((common & prefixed_binary) != 0) {
      read_list(in, numbers, prefixed_binary, out);
    } else if ((common & prefixed_hex) != 0) {
      read_list(in, numbers, prefixed_hex, out);
    } else {
      if ((common & decimal) != 0) {
        read_list(in, numbers, decimal, out);
      }
      // Hex pairs apart by blanks alone are read as groups (find_grouped in unescape.cpp).
      if ((common & hex_pair) != 0 && first_mark != 0) {
        read_list(in, numbers, hex_pair, out);
      }
    }
  }
}

}  // namespace sovgw::classify
