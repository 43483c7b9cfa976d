#include "classify/unescape.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstring>
#include <utility>

#include "classify/fold.hpp"
#include "classify/number_bytes.hpp"
#include "common/ascii.hpp"

namespace sovgw::classify {
namespace {

// The value of `digits` hex digits at in[i], or -1.
long hex_at(std::string_view in, std::size_t i, std::size_t digits) {
  if (i + digits > in.size()) {
    return -1;
  }
  long v = 0;
  for (std::size_t k = 0; k < digits; ++k) {
    const int h = hex_digit_value(in[i + k]);
    if (h < 0) {
      return -1;
    }
    v = v * 16 + h;
  }
  return v;
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
    append_utf8(d.text, cp);
    return d;
  }
  static constexpr std::string_view from = "nrtbf/\"\\";
  static constexpr std::string_view to = "\n\r\t  /\"\\";
  const std::size_t k = from.find(e);
  if (k != std::string_view::npos) {
    return decoded{2, std::string(1, to[k])};
  }
  // An identity escape, as JavaScript, JSON5, Markdown and a shell read one: a backslash before
  // punctuation or a space is that character. Text escaped twice ("alice\\@example.com", whose
  // model reads two backslashes and the address) reads so one level down (probe round 37).
  const bool punctuation =
      (e >= '!' && e <= '/') || (e >= ':' && e <= '@') || (e >= '[' && e <= '`') || (e >= '{' && e <= '~');
  return punctuation || e == ' ' ? decoded{2, std::string(1, e)} : decoded{};
}

// A code point a model reads (not a surrogate or a control character) as UTF-8, `length` bytes of
// input; nothing otherwise.
decoded code_point(std::uint32_t cp, std::size_t length) {
  decoded d{length, {}};
  if ((cp >= 0xD800 && cp <= 0xDFFF) || cp < 0x20 || cp == 0x7F || cp > 0x10FFFF) {
    return {};
  }
  append_utf8(d.text, cp);
  return d;
}

// Unicode's names of the printable ASCII characters but letters and digits, in code point order
// from U+0020.
constexpr std::string_view ascii_names[] = {"SPACE",
                                            "EXCLAMATION MARK",
                                            "QUOTATION MARK",
                                            "NUMBER SIGN",
                                            "DOLLAR SIGN",
                                            "PERCENT SIGN",
                                            "AMPERSAND",
                                            "APOSTROPHE",
                                            "LEFT PARENTHESIS",
                                            "RIGHT PARENTHESIS",
                                            "ASTERISK",
                                            "PLUS SIGN",
                                            "COMMA",
                                            "HYPHEN-MINUS",
                                            "FULL STOP",
                                            "SOLIDUS",
                                            "COLON",
                                            "SEMICOLON",
                                            "LESS-THAN SIGN",
                                            "EQUALS SIGN",
                                            "GREATER-THAN SIGN",
                                            "QUESTION MARK",
                                            "COMMERCIAL AT",
                                            "LEFT SQUARE BRACKET",
                                            "REVERSE SOLIDUS",
                                            "RIGHT SQUARE BRACKET",
                                            "CIRCUMFLEX ACCENT",
                                            "LOW LINE",
                                            "GRAVE ACCENT",
                                            "LEFT CURLY BRACKET",
                                            "VERTICAL LINE",
                                            "RIGHT CURLY BRACKET",
                                            "TILDE"};
constexpr std::string_view ascii_name_chars = " !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
static_assert(std::size(ascii_names) == ascii_name_chars.size());

decoded percent_at(std::string_view in, std::size_t i) {
  if (in[i] != '%') {
    return {};
  }
  // %uHHHH: JavaScript's escape(), which some servers still decode.
  if (i + 1 < in.size() && (in[i + 1] == 'u' || in[i + 1] == 'U')) {
    const long cp = hex_at(in, i + 2, 4);
    return cp < 0 ? decoded{} : code_point(static_cast<std::uint32_t>(cp), 6);
  }
  const long v = hex_at(in, i + 1, 2);
  return v < 0 ? decoded{} : decoded{3, std::string(1, static_cast<char>(v))};
}

// The named character references of the characters the detectors read (gen_html_references.py).
struct html_reference {
  std::string_view name;  // without its ';'
  std::string_view text;  // what it stands for, in UTF-8
  bool bare;              // HTML 5 also reads it without its ';'
};

#include "classify/html_reference_table.inc"

static_assert(std::is_sorted(std::begin(html_references_named), std::end(html_references_named),
                             [](const html_reference& a, const html_reference& b) {
                               return a.name < b.name;
                             }),
              "html_references_named must be sorted by name");

const html_reference* named_reference(std::string_view name) {
  const auto* r = std::lower_bound(std::begin(html_references_named), std::end(html_references_named), name,
                                   [](const html_reference& a, std::string_view n) { return a.name < n; });
  return r != std::end(html_references_named) && r->name == name ? r : nullptr;
}

decoded html_reference_at(std::string_view in, std::size_t i) {
  if (in[i] != '&') {
    return {};
  }
  // Numeric references as HTML 5 reads them (and Python's html.unescape): the digits run as far
  // as they go, and the ';' may be missing ("alice&#64example.com").
  if (i + 2 < in.size() && in[i + 1] == '#') {
    std::size_t j = i + 2;
    const bool hex = in[j] == 'x' || in[j] == 'X';
    j += hex ? 1 : 0;
    const std::size_t digits = j;
    std::uint32_t cp = 0;
    for (; j < in.size(); ++j) {
      const long d = hex ? hex_at(in, j, 1) : (in[j] >= '0' && in[j] <= '9' ? in[j] - '0' : -1);
      if (d < 0) {
        break;
      }
      cp = cp > 0x10FFFF ? cp : cp * (hex ? 16 : 10) + static_cast<std::uint32_t>(d);
    }
    if (j == digits) {
      return {};
    }
    decoded d{j - i + (j < in.size() && in[j] == ';' ? 1 : 0), {}};
    if (cp >= 0x20 && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF)) {
      append_utf8(d.text, cp);
    }
    return d;
  }
  // A name: letters and digits, at most longest_reference_name of them (a text of '&' and no
  // ';' is read once). With its ';', any name of the table; without (or when the name with it is
  // none), the longest one HTML 5 also reads bare that starts it ("&nbsp1111", "gm&shyail"), as
  // HTML 5 and Python's html.unescape read them.
  const auto name_char = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  };
  std::size_t end = i + 1;
  while (end < in.size() && end - i - 1 < longest_reference_name && name_char(in[end])) {
    ++end;
  }
  const std::string_view name = in.substr(i + 1, end - i - 1);
  if (name.empty()) {
    return {};
  }
  if (end < in.size() && in[end] == ';') {
    if (const html_reference* r = named_reference(name); r != nullptr) {
      return {name.size() + 2, std::string(r->text)};
    }
  }
  for (std::size_t n = std::min(name.size(), longest_bare_reference_name); n >= 2; --n) {
    if (const html_reference* r = named_reference(name.substr(0, n)); r != nullptr && r->bare) {
      return {n + 1, std::string(r->text)};
    }
  }
  return {};
}

// The value of three octal digits at in[i] whose first is 0 to 3 (one byte), or -1.
long octal3_at(std::string_view in, std::size_t i) {
  if (i + 3 > in.size() || in[i] < '0' || in[i] > '3' || in[i + 1] < '0' || in[i + 1] > '7' ||
      in[i + 2] < '0' || in[i + 2] > '7') {
    return -1;
  }
  return (in[i] - '0') * 64 + (in[i + 1] - '0') * 8 + (in[i + 2] - '0');
}

decoded printable_ascii(long v, std::size_t length) {
  return v >= 0x20 && v < 0x7F ? decoded{length, std::string(1, static_cast<char>(v))} : decoded{};
}

// The escapes programming languages write a character with: \xHH (C, Python, JavaScript),
// \x{H...} (Perl, PCRE, Ruby), \u{H...} and \U{H...} (JavaScript, Rust,
// Swift), \UHHHHHHHH (Python, C, C++, C#, Go), Java's \uuHHHH, \N{NAME} and \N{U+H...} (Python,
// Perl: named_ascii), \o{...} (Perl, PCRE), an octal \NNN (C, Python) or \0NNN (Java) of a
// printable ASCII character, and CSS's \H... of one.
decoded hex_escape_at(std::string_view in, std::size_t i) {
  if (i + 1 >= in.size() || in[i] != '\\') {
    return {};
  }
  const char e = in[i + 1];
  std::size_t braced = 0;
  if (e == 'x' || e == 'u' || e == 'U' || e == 'o') {
    if (const long cp = braced_code_point_at(in, i + 2, e == 'o' ? 8 : 16, braced); cp >= 0) {
      return code_point(static_cast<std::uint32_t>(cp), 2 + braced);
    }
  }
  if (e == 'x') {
    const long v = hex_at(in, i + 2, 2);
    return v < 0 ? decoded{} : decoded{4, std::string(1, static_cast<char>(v))};
  }
  if (e == 'U') {
    const long cp = hex_at(in, i + 2, 8);
    return cp < 0 ? decoded{} : code_point(static_cast<std::uint32_t>(cp), 10);
  }
  if (e == 'u' && i + 2 < in.size() && in[i + 2] == 'u') {
    std::size_t j = i + 2;
    while (j < in.size() && in[j] == 'u') {
      ++j;
    }
    const long cp = hex_at(in, j, 4);
    return cp < 0 ? decoded{} : code_point(static_cast<std::uint32_t>(cp), j + 4 - i);
  }
  if (e == 'N' && i + 2 < in.size() && in[i + 2] == '{') {
    const std::size_t close = in.find('}', i + 3);
    if (close == std::string_view::npos || close - (i + 3) > 40) {
      return {};
    }
    return printable_ascii(named_ascii(in.substr(i + 3, close - (i + 3))), close + 1 - i);
  }
  if (e == '0') {
    if (const decoded d = printable_ascii(octal3_at(in, i + 2), 5); d.length != 0) {
      return d;
    }
  }
  if (const decoded d = printable_ascii(octal3_at(in, i + 1), 4); d.length != 0) {
    return d;
  }
  // CSS: two to six hex digits and one white space after them if any ("alice\40 example.com",
  // "\000040"), of a printable ASCII character: "\d", "\be", "\2024" and "\5FAE" in a regular
  // expression, TeX, a path or a font's name stay as written.
  std::size_t j = i + 1;
  std::uint32_t cp = 0;
  for (; j < in.size() && j - (i + 1) < 6; ++j) {
    const long d = hex_at(in, j, 1);
    if (d < 0) {
      break;
    }
    cp = cp * 16 + static_cast<std::uint32_t>(d);
  }
  if (j - (i + 1) < 2 || cp < 0x20 || cp >= 0x7F) {
    return {};
  }
  const bool white = j < in.size() && (in[j] == ' ' || in[j] == '\t' || in[j] == '\n');
  return decoded{j - i + (white ? 1 : 0), std::string(1, static_cast<char>(cp))};
}

// Unicode's own notation of a code point, U+ and four to six hex digits ("alice.smithU+0040example.com"),
// which a model reads as the character. Four digits when the first is 0 (a letter after them,
// "U+0040example", is the text's), else up to six.
decoded unicode_notation_at(std::string_view in, std::size_t i) {
  if (i + 6 > in.size() || in[i + 1] != '+') {
    return {};
  }
  const std::size_t most = in[i + 2] == '0' ? 4 : 6;
  std::size_t j = i + 2;
  long cp = 0;
  while (j < in.size() && j - (i + 2) < most && hex_digit_value(in[j]) >= 0) {
    cp = cp * 16 + hex_digit_value(in[j++]);
  }
  return j - (i + 2) < 4 ? decoded{} : code_point(static_cast<std::uint32_t>(cp), j - i);
}

bool ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// An HTML comment or tag at in[i] ("<!-- x -->", "<b>", "</span>", "<br/>", "<a href=...>"): its
// length, or 0; `inline_tag`: a comment, or a tag that renders within a line of text (b, span, a,
// code, ...), not one that separates what is around it (td, p, div, br, li, ...). A tag's name is
// letters, digits and '-' after a letter; its attributes run to the '>' within 256 bytes, on one
// line; "a < b", "x<y" and "<3" are not tags.
std::size_t html_markup_at(std::string_view in, std::size_t i, bool& inline_tag, comment_memo& memo) {
  inline_tag = true;
  // A CDATA section's opening (its content is text; its end, "]]>", is markup_at's), and a
  // processing instruction or a bogus comment ("<?x?>", "<!DOCTYPE html>"), which end at the next
  // '>' (within 256 bytes, as a tag's attributes).
  if (in.substr(i, 9) == "<![CDATA[") {
    return 9;
  }
  if (i + 2 < in.size() && (in[i + 1] == '?' || (in[i + 1] == '!' && ascii_letter(in[i + 2])))) {
    const std::size_t close = in.substr(i + 2, 256).find('>');
    return close == std::string_view::npos ? 0 : close + 3;
  }
  if (in.substr(i, 4) == "<!--") {
    constexpr std::size_t npos = std::string_view::npos;
    const std::size_t from = i + 4;
    std::size_t close = npos;
    if (memo.from != npos && from >= memo.from && (memo.close == npos || from <= memo.close)) {
      close = memo.close;  // no "-->" between the last search's start and what it found
    } else if (memo.from != npos && from < memo.from) {
      close = in.substr(from, 4096).find("-->");  // behind the memo: a bounded look
      close = close == npos ? npos : from + close;
    } else {
      close = in.find("-->", from);
      memo = {from, close};
    }
    // A comment ends within 4 KiB.
    return close == npos || close + 3 - from > 4096 ? 0 : close + 3 - i;
  }
  std::size_t k = i + 1;
  if (k < in.size() && in[k] == '/') {
    ++k;
  }
  if (k >= in.size() || !ascii_letter(in[k])) {
    return 0;
  }
  const std::size_t name = k;
  while (k < in.size() && k - name < 32 &&
         (ascii_letter(in[k]) || (in[k] >= '0' && in[k] <= '9') || in[k] == '-')) {
    ++k;
  }
  std::string lower(in.substr(name, k - name));
  for (char& c : lower) {
    c = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  }
  static constexpr std::string_view inline_names[] = {
      "a",    "abbr",   "b",      "bdi", "bdo", "cite", "code", "data", "del",  "dfn",
      "em",   "font",   "i",      "ins", "kbd", "mark", "q",    "s",    "samp", "small",
      "span", "strike", "strong", "sub", "sup", "time", "tt",   "u",    "var",  "wbr"};
  inline_tag = std::find(std::begin(inline_names), std::end(inline_names), lower) != std::end(inline_names);
  if (k < in.size() && (in[k] == ' ' || in[k] == '\t')) {
    const std::size_t attributes = k;
    while (k < in.size() && k - attributes < 256 && in[k] != '>' && in[k] != '<' && in[k] != '\n') {
      ++k;
    }
  }
  if (k < in.size() && in[k] == '/') {
    ++k;
  }
  return k < in.size() && in[k] == '>' ? k + 1 - i : 0;
}

// Markup at in[i] (unescape_forms::markup): removed, or a backslash escape's character.
decoded markup_at(std::string_view in, std::size_t i, comment_memo& memo) {
  const char c = in[i];
  if (c == '\\') {
    static constexpr std::string_view punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
    if (in.compare(i + 1, 1, "\n") == 0 || in.compare(i + 1, 2, "\r\n") == 0) {
      return decoded{in[i + 1] == '\n' ? std::size_t{2} : std::size_t{3}, {}};  // a line continuation
    }
    return i + 1 < in.size() && punctuation.find(in[i + 1]) != std::string_view::npos
               ? decoded{2, std::string(1, in[i + 1])}
               : decoded{};
  }
  if (c == ']') {
    return in.compare(i, 3, "]]>") == 0 ? decoded{3, {}} : decoded{};  // a CDATA section's end
  }
  if (c == '<') {
    bool inline_tag = true;
    const std::size_t length = html_markup_at(in, i, inline_tag, memo);
    return decoded{length, length == 0 || inline_tag ? std::string() : std::string(" ")};
  }
  std::size_t k = i;
  while (k < in.size() && in[k] == c && k - i < 8) {
    ++k;
  }
  return c == '*' || c == '`' || k - i >= 2 ? decoded{k - i, {}} : decoded{};  // "~~", not one '~'
}

}  // namespace

std::size_t markup_length(std::string_view in, std::size_t i, comment_memo& memo) {
  const char c = in[i];
  return c == '*' || c == '`' || c == '~' || c == '<' || c == '\\' || c == ']' ? markup_at(in, i, memo).length
                                                                               : 0;
}

namespace {

// The length of the mark a wrap may be next to at in[i] ('-', '.', '/', '_', and the dashes and
// full stops the detectors read as those: U+2010 to U+2013, U+2212, fullwidth U+FF0D and U+FF0E),
// or 0.
std::size_t wrap_mark_at(std::string_view in, std::size_t i) {
  if (i >= in.size()) {
    return 0;
  }
  const char c = in[i];
  if (c == '-' || c == '.' || c == '/' || c == '_') {
    return 1;
  }
  if (c != '\xe2' && c != '\xef') {
    return 0;  // the usual case: no memcmp
  }
  static constexpr std::string_view marks[] = {"\xe2\x80\x90", "\xe2\x80\x91", "\xe2\x80\x92", "\xe2\x80\x93",
                                               "\xe2\x88\x92", "\xef\xbc\x8d", "\xef\xbc\x8e"};
  for (const std::string_view m : marks) {
    if (in.compare(i, m.size(), m) == 0) {
      return m.size();
    }
  }
  return 0;
}

// The length of the mark that ends in[0, end), or 0.
std::size_t wrap_mark_before(std::string_view in, std::size_t end) {
  if (end >= 1 && wrap_mark_at(in, end - 1) == 1) {
    return 1;
  }
  if (end >= 3 && wrap_mark_at(in, end - 3) == 3) {
    return 3;
  }
  return 0;
}

bool wrap_alnum(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

}  // namespace

std::size_t wrap_length(std::string_view in, std::size_t i) {
  std::size_t k = i;
  const auto byte = [&](std::size_t at) { return at < in.size() ? static_cast<unsigned char>(in[at]) : 0u; };
  if (in[k] == '\r') {
    k += byte(k + 1) == '\n' ? 2 : 1;
  } else if (in[k] == '\n') {
    ++k;
  } else if (byte(k) == 0xc2 && byte(k + 1) == 0x85) {
    k += 2;
  } else if (byte(k) == 0xe2 && byte(k + 1) == 0x80 && (byte(k + 2) == 0xa8 || byte(k + 2) == 0xa9)) {
    k += 3;
  } else {
    return 0;
  }
  const auto blanks = [&] {
    const std::size_t from = k;
    while (k < in.size() && (in[k] == ' ' || in[k] == '\t') && k - from < 16) {
      ++k;
    }
  };
  blanks();
  // The next line's quote or comment mark, as a mail reply and code wrap a line: "> ", ">> ",
  // "// ", "# ", " * ".
  if (k < in.size() && in[k] == '>') {
    for (std::size_t quotes = 0; k < in.size() && in[k] == '>' && quotes < 8; ++quotes) {
      ++k;
      blanks();
    }
  } else if (in.compare(k, 2, "//") == 0) {
    k += 2;
    blanks();
  } else if (k + 1 < in.size() && (in[k] == '#' || in[k] == '*') && (in[k + 1] == ' ' || in[k + 1] == '\t')) {
    ++k;
    blanks();
  }
  if (k >= in.size()) {
    return 0;
  }
  const std::size_t before = wrap_mark_before(in, i);
  const bool mark_before = before != 0 && i > before && wrap_alnum(in[i - before - 1]) && wrap_alnum(in[k]);
  const std::size_t after = wrap_mark_at(in, k);
  const bool mark_after =
      i > 0 && wrap_alnum(in[i - 1]) && after != 0 && k + after < in.size() && wrap_alnum(in[k + after]);
  return mark_before || mark_after ? k - i : 0;
}

std::uint8_t quoted_printable_in(std::string_view text) {
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  for (std::size_t at = text.find('='); at != std::string_view::npos && at + 2 < text.size();
       at = text.find('=', at + 1)) {
    const char a = text[at + 1];
    const char b = text[at + 2];
    if ((a == '4' && b == '0') || (a == '3' && b == 'D') || (a == '2' && b == 'E') ||
        (a == '2' && b == '0' && at > 0 && digit(text[at - 1]) && at + 3 < text.size() &&
         digit(text[at + 3]))) {
      return quoted_printable;
    }
  }
  return 0;
}

long braced_code_point_at(std::string_view in, std::size_t i, int base, std::size_t& length) {
  if (i >= in.size() || in[i] != '{') {
    return -1;
  }
  long cp = 0;
  std::size_t j = i + 1;
  for (; j < in.size() && j - (i + 1) < 9; ++j) {
    const int d = hex_digit_value(in[j]);
    if (d < 0 || d >= base) {
      break;
    }
    cp = cp * base + d;
  }
  const std::size_t digits = j - (i + 1);
  if (digits < 1 || digits > 8 || j >= in.size() || in[j] != '}') {
    return -1;
  }
  length = j + 1 - i;
  return cp;
}

long named_ascii(std::string_view name) {
  // Python reads names in any letter case and '_' for ' ' (none of these have one); Perl also
  // U+H... for the code point.
  std::string upper(name.substr(0, 40));
  for (char& c : upper) {
    c = c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
  }
  const std::string_view n = upper;
  if (n.starts_with("U+")) {
    std::size_t length = 0;
    const std::string braced = "{" + std::string(n.substr(2)) + "}";
    const long cp = braced_code_point_at(braced, 0, 16, length);
    return cp >= 0 && length == braced.size() ? cp : -1;
  }
  for (std::size_t k = 0; k < std::size(ascii_names); ++k) {
    if (n == ascii_names[k]) {
      return static_cast<unsigned char>(ascii_name_chars[k]);
    }
  }
  constexpr std::string_view small = "LATIN SMALL LETTER ";
  constexpr std::string_view capital = "LATIN CAPITAL LETTER ";
  constexpr std::string_view digit = "DIGIT ";
  static constexpr std::string_view digits[] = {"ZERO", "ONE", "TWO",   "THREE", "FOUR",
                                                "FIVE", "SIX", "SEVEN", "EIGHT", "NINE"};
  if ((n.starts_with(small) || n.starts_with(capital)) &&
      n.size() == (n[6] == 'S' ? small : capital).size() + 1) {
    const char letter = n.back();
    return letter >= 'A' && letter <= 'Z' ? (n[6] == 'S' ? letter - 'A' + 'a' : letter) : -1;
  }
  if (n.starts_with(digit)) {
    const auto* d = std::find(std::begin(digits), std::end(digits), n.substr(digit.size()));
    return d == std::end(digits) ? -1 : '0' + (d - std::begin(digits));
  }
  return -1;
}

bool unescape(std::string_view in, std::uint8_t forms, unescaped_text& out) {
  comment_memo memo;
  const auto starts = [&](char c) {
    return ((forms & (json_escapes | hex_escapes | markup)) != 0 && c == '\\') ||
           ((forms & percent_encoding) != 0 && c == '%') || ((forms & plus_as_space) != 0 && c == '+') ||
           ((forms & html_references) != 0 && c == '&') || ((forms & quoted_printable) != 0 && c == '=') ||
           ((forms & markup) != 0 && (c == '*' || c == '`' || c == '~' || c == '<' || c == ']')) ||
           ((forms & line_wraps) != 0 && (c == '\n' || c == '\r' || c == '\xc2' || c == '\xe2')) ||
           ((forms & hex_escapes) != 0 && c == 'U');
  };
  const auto at = [&](std::size_t i) {
    if (in[i] == '\\') {
      decoded d = (forms & json_escapes) != 0 ? json_escape_at(in, i) : decoded{};
      if (d.length == 0 && (forms & hex_escapes) != 0) {
        d = hex_escape_at(in, i);
      }
      if (d.length == 0 && (forms & markup) != 0) {
        d = markup_at(in, i, memo);
      }
      return d;
    }
    if ((forms & markup) != 0 &&
        (in[i] == '*' || in[i] == '`' || in[i] == '~' || in[i] == '<' || in[i] == ']')) {
      return markup_at(in, i, memo);
    }
    if ((forms & percent_encoding) != 0 && in[i] == '%') {
      return percent_at(in, i);
    }
    if ((forms & hex_escapes) != 0 && in[i] == 'U') {
      return unicode_notation_at(in, i);
    }
    if ((forms & line_wraps) != 0) {
      if (const std::size_t length = wrap_length(in, i); length != 0) {
        return decoded{length, {}};
      }
    }
    if ((forms & plus_as_space) != 0 && in[i] == '+') {
      return decoded{1, " "};
    }
    if ((forms & html_references) != 0 && in[i] == '&') {
      return html_reference_at(in, i);
    }
    if ((forms & quoted_printable) != 0 && in[i] == '=') {
      // A soft line break (RFC 2045 6.7: mail is wrapped at 76 columns) joins the lines it ends.
      if (in.compare(i + 1, 2, "\r\n") == 0) {
        return decoded{3, std::string()};
      }
      if (i + 1 < in.size() && in[i + 1] == '\n') {
        return decoded{2, std::string()};
      }
      const long v = hex_at(in, i + 1, 2);
      return v < 0 ? decoded{} : decoded{3, std::string(1, static_cast<char>(v))};
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

namespace {

// The value of a base64 character in either alphabet, or -1.
constexpr std::array<std::int8_t, 256> base64_values = [] {
  std::array<std::int8_t, 256> v{};
  v.fill(-1);
  for (int i = 0; i < 26; ++i) {
    v['A' + i] = static_cast<std::int8_t>(i);
    v['a' + i] = static_cast<std::int8_t>(26 + i);
  }
  for (int i = 0; i < 10; ++i) {
    v['0' + i] = static_cast<std::int8_t>(52 + i);
  }
  v['+'] = v['-'] = 62;
  v['/'] = v['_'] = 63;
  return v;
}();

// Text as UTF-16 (`little_endian` or big), after a byte order mark if any, in UTF-8 into `out`:
// false when a unit is a control character (but tab and line breaks) or a lone surrogate.
bool utf16_text(std::string_view bytes, bool little_endian, std::string& out) {
  out.clear();
  std::size_t i = 0;
  if (bytes.starts_with("\xff\xfe") || bytes.starts_with("\xfe\xff")) {
    little_endian = bytes[0] == '\xff';
    i = 2;
  }
  const auto unit = [&](std::size_t k) {
    const auto lo = static_cast<unsigned char>(bytes[k + (little_endian ? 0 : 1)]);
    const auto hi = static_cast<unsigned char>(bytes[k + (little_endian ? 1 : 0)]);
    return static_cast<std::uint32_t>(hi << 8 | lo);
  };
  for (; i + 1 < bytes.size(); i += 2) {
    std::uint32_t cp = unit(i);
    if (cp >= 0xD800 && cp <= 0xDBFF && i + 3 < bytes.size() && unit(i + 2) >= 0xDC00 &&
        unit(i + 2) <= 0xDFFF) {
      cp = 0x10000 + ((cp - 0xD800) << 10) + (unit(i + 2) - 0xDC00);
      i += 2;
    } else if ((cp >= 0xD800 && cp <= 0xDFFF) || (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') ||
               cp == 0x7f) {
      return false;
    }
    append_utf8(out, cp);
  }
  return !out.empty();
}

// Decodes the run `in` as UTF-16 text (decode_base64_text) into `out`.
bool decode_base64_utf16(std::string_view in, std::string& out) {
  std::string bytes;
  std::uint32_t bits = 0;
  int count = 0;
  for (const char c : in) {
    bits = (bits << 6) | static_cast<std::uint32_t>(base64_values[static_cast<unsigned char>(c)]);
    count += 6;
    if (count >= 8) {
      count -= 8;
      bytes.push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  return bytes.size() >= 4 && utf16_text(bytes, bytes[1] == '\0', out);
}

// Decodes the run `in` (its padding left off) into `out`; false when it is not text. Text is
// UTF-8, or UTF-16 (as PowerShell's -EncodedCommand and .NET's Unicode encoding write it): a NUL
// in its first two bytes, or a byte order mark.
bool decode_base64_text(std::string_view in, std::string& out) {
  out.clear();
  std::uint32_t bits = 0;
  int count = 0;
  for (std::size_t n = 0; n < in.size(); ++n) {
    bits = (bits << 6) | static_cast<std::uint32_t>(base64_values[static_cast<unsigned char>(in[n])]);
    count += 6;
    if (count >= 8) {
      count -= 8;
      const auto b = static_cast<unsigned char>((bits >> count) & 0xff);
      if ((b < 0x20 && b != '\t' && b != '\n' && b != '\r') || b == 0x7f) {
        // The usual end: a word or an identifier decodes to control bytes at once.
        return b == 0 && out.size() <= 1 && decode_base64_utf16(in, out);
      }
      out.push_back(static_cast<char>(b));
      if (out.size() == 2 && (out == "\xff\xfe" || out == "\xfe\xff")) {
        return decode_base64_utf16(in, out);
      }
    }
  }
  return !out.empty() && first_invalid_utf8(out) == std::string_view::npos;
}

#if defined(__SSE2__)
// Bit k: p[k] is in either base64 alphabet (k < 16).
[[gnu::always_inline]] inline std::uint64_t base64_mask16(const char* p) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const auto between = [&](char lo, char hi) {  // signed: bytes over 0x7f are below every bound
    return _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8(static_cast<char>(lo - 1))),
                         _mm_cmplt_epi8(x, _mm_set1_epi8(static_cast<char>(hi + 1))));
  };
  const auto is = [&](char c) { return _mm_cmpeq_epi8(x, _mm_set1_epi8(c)); };
  const __m128i m =
      _mm_or_si128(_mm_or_si128(_mm_or_si128(between('A', 'Z'), between('a', 'z')), between('0', '9')),
                   _mm_or_si128(_mm_or_si128(is('+'), is('/')), _mm_or_si128(is('-'), is('_'))));
  return static_cast<std::uint32_t>(_mm_movemask_epi8(m));
}
#endif

static_assert(min_base64_run == 12, "first_base64_run's shifts are for runs of 12");

// Where the first run of min_base64_run alphabet characters or more starts in `in` (at or after
// the returned offset), or npos: prose, whose words are shorter, is passed over 53 bytes at a time.
std::size_t first_base64_run(std::string_view in) {
  std::size_t i = 0;
#if defined(__SSE2__)
  for (; i + 64 <= in.size(); i += 53) {
    const char* p = in.data() + i;
    const std::uint64_t m = base64_mask16(p) | base64_mask16(p + 16) << 16 | base64_mask16(p + 32) << 32 |
                            base64_mask16(p + 48) << 48;
    const std::uint64_t r2 = m & (m >> 1);     // bit k: k and k + 1 in the alphabet
    const std::uint64_t r4 = r2 & (r2 >> 2);   // k .. k + 3
    const std::uint64_t r8 = r4 & (r4 >> 4);   // k .. k + 7
    const std::uint64_t r12 = r8 & (r4 >> 8);  // k .. k + 11
    if (const std::uint64_t starts = r12 & ((std::uint64_t{1} << 53) - 1); starts != 0) {
      return i + static_cast<std::size_t>(std::countr_zero(starts));
    }
  }
#endif
  std::size_t run = 0;
  for (; i < in.size(); ++i) {
    run = base64_values[static_cast<unsigned char>(in[i])] >= 0 ? run + 1 : 0;
    if (run == min_base64_run) {
      return i + 1 - run;
    }
  }
  return std::string_view::npos;
}

bool base64_char(char c) { return base64_values[static_cast<unsigned char>(c)] >= 0; }

// Hex that spells text ("616c696365406578616d706c652e636f6d"): an even run of hex digits, at least
// 8 bytes, that decodes to text as decode_base64_text() defines it. Digests and ids do not.
bool decode_hex_text(std::string_view in, std::string& out) {
  out.clear();
  if (in.size() % 2 != 0 || in.size() < 16) {
    return false;
  }
  for (std::size_t i = 0; i < in.size(); i += 2) {
    const int hi = hex_digit_value(in[i]);
    const int lo = hex_digit_value(in[i + 1]);
    if (hi < 0 || lo < 0) {
      return false;
    }
    const auto b = static_cast<unsigned char>(hi * 16 + lo);
    if ((b < 0x20 && b != '\t' && b != '\n' && b != '\r') || b == 0x7f) {
      return false;
    }
    out.push_back(static_cast<char>(b));
  }
  return first_invalid_utf8(out) == std::string_view::npos;
}

void read_inner(std::string& decoded, int depth);
std::size_t find_texts(std::string_view in, std::vector<base64_text>& out, int depth);

#if defined(__SSE2__)
// Bit k: p[k] is ' ', ':' or '-' (k < 16).
std::uint64_t separator_mask16(const char* p) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const auto is = [&](char c) { return _mm_cmpeq_epi8(x, _mm_set1_epi8(c)); };
  return static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(is(' '), is(':')), is('-'))));
}
// Bit k: p[k] is a hex digit (k < 16).
std::uint64_t hex_mask16(const char* p) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const auto between = [&](char lo, char hi) {
    return _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8(static_cast<char>(lo - 1))),
                         _mm_cmplt_epi8(x, _mm_set1_epi8(static_cast<char>(hi + 1))));
  };
  return static_cast<std::uint32_t>(
      _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(between('0', '9'), between('a', 'f')), between('A', 'F'))));
}
#endif

bool hex_separator(char c) { return c == ' ' || c == ':' || c == '-'; }

// Where four hex pairs written apart ("61 6c 69 63") first start in `in`, or npos: text, where
// they are rare, is passed over 53 bytes at a time.
std::size_t first_spaced_hex(std::string_view in) {
  std::size_t i = 0;
#if defined(__SSE2__)
  for (; i + 64 <= in.size(); i += 53) {
    const char* p = in.data() + i;
    const std::uint64_t sep = separator_mask16(p) | separator_mask16(p + 16) << 16 |
                              separator_mask16(p + 32) << 32 | separator_mask16(p + 48) << 48;
    if ((sep & (sep >> 3) & (sep >> 6)) == 0) {
      continue;  // no three separators three bytes apart: the usual case
    }
    const std::uint64_t h =
        hex_mask16(p) | hex_mask16(p + 16) << 16 | hex_mask16(p + 32) << 32 | hex_mask16(p + 48) << 48;
    const std::uint64_t pair = h & (h >> 1);       // k, k + 1 hex
    const std::uint64_t step = pair & (sep >> 2);  // ... and a separator after them
    const std::uint64_t four = step & (step >> 3) & (step >> 6) & (pair >> 9);
    if (const std::uint64_t starts = four & ((std::uint64_t{1} << 53) - 1); starts != 0) {
      return i + static_cast<std::size_t>(std::countr_zero(starts));
    }
  }
#endif
  const auto hex = [&](std::size_t k) { return hex_digit_value(in[k]) >= 0; };
  for (; i + 11 <= in.size(); ++i) {
    if (!hex_separator(in[i + 2]) || !hex_separator(in[i + 5]) || !hex_separator(in[i + 8])) {
      continue;  // most text ends here
    }
    bool four = true;
    for (std::size_t k = i; four && k < i + 11; k += 3) {
      four = hex(k) && hex(k + 1);
    }
    if (four) {
      return i;
    }
  }
  return std::string_view::npos;
}

bool ascii_alnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Hex bytes written apart that spell text ("61 6c 69 63 65 40 65 78 61 6d 70 6c 65 2e 63 6f 6d",
// "61:6c:69:..."): at least eight pairs, one separator throughout, a word of their own; appended to
// `out` as runs.
void find_spaced_hex(std::string_view in, std::vector<base64_text>& out, int depth) {
  std::string decoded;
  for (std::size_t from = 0; from < in.size();) {
    const std::size_t at = first_spaced_hex(in.substr(from));
    if (at == std::string_view::npos) {
      return;
    }
    const std::size_t begin = from + at;
    if (begin > 0 && ascii_alnum(in[begin - 1])) {
      from = begin + 1;  // the end of a word ("decode 61 6c ..."): the run may start after it
      continue;
    }
    const char sep = in[begin + 2];
    const auto hex = [&](std::size_t n) { return hex_digit_value(in[n]) >= 0; };
    std::size_t k = begin;
    decoded.clear();
    bool text = true;
    for (;;) {
      const auto b = static_cast<unsigned char>(hex_digit_value(in[k]) * 16 + hex_digit_value(in[k + 1]));
      text = text && !((b < 0x20 && b != '\t' && b != '\n' && b != '\r') || b == 0x7f);
      decoded.push_back(static_cast<char>(b));
      k += 2;
      if (k + 2 >= in.size() || in[k] != sep || !hex(k + 1) || !hex(k + 2)) {
        break;
      }
      ++k;
    }
    from = k;
    if (decoded.size() >= 8 && text && (k >= in.size() || !ascii_alnum(in[k])) &&
        first_invalid_utf8(decoded) == std::string_view::npos) {
      read_inner(decoded, depth);
      out.push_back({begin, k, decoded});
    }
  }
}

// Base64 and hex written in groups ("YWxp Y2Uu c21p dGhA ...", "616c 6963 652e ...", base64 wrapped
// at any width): a chain of groups, each a word of alphabet characters, one or two spaces, tabs or
// line breaks apart, read as one encoding of what the groups spell joined.

bool group_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Where the group after the one that ends at in[end] starts (one or two spaces, tabs or line
// breaks after it), or npos: the chain ends there.
std::size_t next_group(std::string_view in, std::size_t end) {
  std::size_t k = end;
  while (k < in.size() && k - end < 2 && group_space(in[k])) {
    ++k;
  }
  return k > end && k < in.size() && base64_char(in[k]) ? k : std::string_view::npos;
}

// UTF-8 text read a byte at a time: the state after whole characters (`ground`), or the
// continuation bytes still to come and the range of the next one; `not_text` once a byte is not
// text: a control character but tab and line breaks (C0, DEL, C1), not UTF-8, or a code point no
// text holds (private use: U+E000 to U+F8FF and planes 15 and 16; planes 4 to 13, unassigned).
enum utf8_state : std::uint8_t {
  ground,
  tail1,     // one byte, 80 to BF
  tail1_a0,  // one, A0 to BF (after C2: U+0080 to U+009F are controls)
  tail2,
  tail2_a0,  // after E0 (no overlong)
  tail2_9f,  // after ED (no surrogate)
  tail2_a4,  // after EF (U+F900 on)
  tail3_90,  // after F0
  tail3_a0,  // after F3: plane 14 only (tags, variation selectors)
  not_text,
  utf8_states
};

constexpr std::array<std::array<std::uint8_t, 256>, utf8_states> utf8_next = [] {
  std::array<std::array<std::uint8_t, 256>, utf8_states> next{};
  for (auto& row : next) {
    row.fill(not_text);
  }
  const auto range = [&](utf8_state from, unsigned lo, unsigned hi, utf8_state to) {
    for (unsigned b = lo; b <= hi; ++b) {
      next[from][b] = to;
    }
  };
  range(ground, 0x20, 0x7e, ground);
  range(ground, '\t', '\n', ground);
  range(ground, '\r', '\r', ground);
  range(ground, 0xc2, 0xc2, tail1_a0);
  range(ground, 0xc3, 0xdf, tail1);
  range(ground, 0xe0, 0xe0, tail2_a0);
  range(ground, 0xe1, 0xec, tail2);
  range(ground, 0xed, 0xed, tail2_9f);
  range(ground, 0xef, 0xef, tail2_a4);
  range(ground, 0xf0, 0xf0, tail3_90);
  range(ground, 0xf3, 0xf3, tail3_a0);
  range(tail1, 0x80, 0xbf, ground);
  range(tail1_a0, 0xa0, 0xbf, ground);
  range(tail2, 0x80, 0xbf, tail1);
  range(tail2_a0, 0xa0, 0xbf, tail1);
  range(tail2_9f, 0x80, 0x9f, tail1);
  range(tail2_a4, 0xa4, 0xbf, tail1);
  range(tail3_90, 0x90, 0xbf, tail2);
  range(tail3_a0, 0xa0, 0xaf, tail2);
  return next;
}();

// The value of a hex digit, or -1.
constexpr std::array<std::int8_t, 256> hex_values = [] {
  std::array<std::int8_t, 256> v{};
  for (unsigned c = 0; c < 256; ++c) {
    v[c] = static_cast<std::int8_t>(hex_digit_value(static_cast<char>(c)));
  }
  return v;
}();

struct group_reading {
  std::size_t end = 0;    // after the last group read (its padding included); 0: no reading
  std::size_t bytes = 0;  // of text it decodes to
  bool whole = false;     // its chain ends there (after the last group, or padding)
  std::size_t stop = 0;   // where reading stopped (at or after `end`)
};

// The chain of groups from in[start] read as hex (`hex`: every group hex digits) or as base64 (one
// alphabet; '=' padding ends a group and the chain), its groups joined, up to the first byte that
// is not text: the longest reading that ends after a group on a whole character, with two groups
// or more, the first of two characters or more, and at least `min_bytes` of text. Reading stops
// too after max_broken groups in a row that end inside a character, so no start reads far for
// nothing. What it decodes to is not kept (decode_groups).
template <bool hex>
group_reading read_groups(std::string_view in, std::size_t start, std::size_t min_bytes) {
  constexpr int max_broken = 12;
  constexpr int bits_per_char = hex ? 4 : 6;
  group_reading best;
  std::uint8_t state = ground;
  std::uint32_t bits = 0;
  int count = 0;  // bits not yet a byte
  std::size_t bytes = 0;
  char alphabet = 0;  // '+' or '-': the one seen so far (base64)
  int groups = 0;
  int broken = 0;
  const auto stop = [&](std::size_t where) {
    best.stop = where;
    return best;
  };
  for (std::size_t at = start;;) {
    std::size_t k = at;
    for (; k < in.size(); ++k) {
      const char c = in[k];
      const int v = (hex ? hex_values : base64_values)[static_cast<unsigned char>(c)];
      if (v < 0) {
        break;
      }
      if (!hex && v >= 62) {
        const char a = c == '+' || c == '/' ? '+' : '-';
        if (alphabet != 0 && a != alphabet) {
          return stop(k);
        }
        alphabet = a;
      }
      bits = bits << bits_per_char | static_cast<std::uint32_t>(v);
      count += bits_per_char;
      if (count >= 8) {
        count -= 8;
        state = utf8_next[state][static_cast<unsigned char>(bits >> count)];
        if (state == not_text) {
          return stop(k);
        }
        ++bytes;
      }
    }
    if ((hex && k < in.size() && base64_char(in[k])) || (groups == 0 && k - at < 2)) {
      return stop(k);  // a group that is not all hex digits; a first group of one character
    }
    std::size_t end = k;
    while (!hex && end < in.size() && in[end] == '=' && end - k < 2) {
      ++end;
    }
    ++groups;
    const std::size_t next = end > k ? std::string_view::npos : next_group(in, end);
    // A whole character, and what is left over is no byte (hex) or no lone character (base64).
    if (state == ground && count != (hex ? 4 : 6)) {
      broken = 0;
      if (groups >= 2 && bytes >= min_bytes) {
        best = {end, bytes, next == std::string_view::npos};
      }
    } else if (++broken > max_broken) {
      return stop(end);
    }
    if (next == std::string_view::npos) {
      return stop(end);
    }
    at = next;
  }
}

// What the groups in[start, end) decode to (read_groups found them text), into `text`.
template <bool hex>
void decode_groups(std::string_view in, std::size_t start, std::size_t end, std::string& text) {
  text.clear();
  std::uint32_t bits = 0;
  int count = 0;
  for (std::size_t k = start; k < end; ++k) {
    const int v = (hex ? hex_values : base64_values)[static_cast<unsigned char>(in[k])];
    if (v < 0) {
      continue;  // between groups, padding
    }
    bits = bits << (hex ? 4 : 6) | static_cast<std::uint32_t>(v);
    count += hex ? 4 : 6;
    if (count >= 8) {
      count -= 8;
      text.push_back(static_cast<char>(bits >> count));
    }
  }
}

// Whether a reading may start at in[k], the first character of a word: whether the first four
// characters of its chain (the word's, then the next word's after one or two spaces) decode to
// the start of text, as base64 or as hex; when the next word is too short for that, whether the
// chain goes on after the word. Branch-free: a word of prose passes one time in ten or so.
bool may_start_at(std::string_view in, std::size_t k) {
  if (k + 8 > in.size()) {
    return true;  // near the end: read_groups decides
  }
  std::uint64_t x = 0;
  std::memcpy(&x, in.data() + k, 8);
  const auto byte = [&](unsigned n) { return static_cast<unsigned char>(x >> (8 * n)); };
  unsigned alpha = 0;
  for (unsigned n = 0; n < 4; ++n) {
    alpha |= (base64_values[byte(n)] >= 0 ? 1u : 0u) << n;
  }
  const auto length = static_cast<unsigned>(std::countr_one(alpha));  // the word's, up to 4
  const bool chain = length == 4 || group_space(static_cast<char>(byte(length)));
  const unsigned gap = length == 4 ? 0 : group_space(static_cast<char>(byte(length + 1))) ? 2 : 1;
  const std::uint64_t word = length == 4 ? x : x & ((std::uint64_t{1} << (8 * length)) - 1);
  const auto window = static_cast<std::uint32_t>(word | (x >> (8 * (length + gap))) << (8 * length));
  const auto at = [&](unsigned n) { return static_cast<unsigned char>(window >> (8 * n)); };
  const int v0 = base64_values[at(0)];
  const int v1 = base64_values[at(1)];
  const int v2 = base64_values[at(2)];
  const int v3 = base64_values[at(3)];
  const int h0 = hex_values[at(0)];
  const int h1 = hex_values[at(1)];
  const int h2 = hex_values[at(2)];
  const int h3 = hex_values[at(3)];
  const auto b0 = static_cast<unsigned>(v0 << 2 | v1 >> 4) & 0xff;
  const auto b1 = static_cast<unsigned>((v1 & 15) << 4 | v2 >> 2) & 0xff;
  const auto b2 = static_cast<unsigned>((v2 & 3) << 6 | v3) & 0xff;
  const bool base64 = utf8_next[utf8_next[utf8_next[ground][b0]][b1]][b2] != not_text;
  const bool hex =
      (h0 | h1 | h2 | h3) >= 0 && utf8_next[utf8_next[ground][static_cast<unsigned>(h0 << 4 | h1) & 0xff]]
                                           [static_cast<unsigned>(h2 << 4 | h3) & 0xff] != not_text;
  const bool four = (v0 | v1 | v2 | v3) >= 0;
  return length >= 2 && chain && (four ? base64 || hex : base64_values[byte(length + gap)] >= 0);
}

#if defined(__SSE2__)
// may_start_at for the words that start in p[0, 60), p[0, 64) readable, as bits; `after_alphabet`:
// p[-1] is an alphabet character. Branch-free over 64-bit masks: which bytes are alphabet
// characters, spaces, and the bit planes of their base64 values. It reads three characters of a
// chain (a looser test than may_start_at's four) after a word of one or two characters and one or
// two spaces; after two words of one character, any.
std::uint64_t group_candidates(const char* p, bool after_alphabet) {
  std::uint64_t m = 0;
  std::uint64_t ws = 0;
  std::uint64_t any = 0;  // '+', '-', '/', '_': of every class below (their values are left out)
  std::array<std::uint64_t, 6> plane{};
  for (int chunk = 0; chunk < 4; ++chunk) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * chunk));
    const auto between = [&](char lo, char hi) {
      return _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8(static_cast<char>(lo - 1))),
                           _mm_cmplt_epi8(x, _mm_set1_epi8(static_cast<char>(hi + 1))));
    };
    const auto is = [&](char c) { return _mm_cmpeq_epi8(x, _mm_set1_epi8(c)); };
    const auto offset = [](__m128i where, int by) {
      return _mm_and_si128(where, _mm_set1_epi8(static_cast<char>(by)));
    };
    const __m128i upper = between('A', 'Z');
    const __m128i lower = between('a', 'z');
    const __m128i digit = between('0', '9');
    const __m128i special = _mm_or_si128(_mm_or_si128(is('+'), is('-')), _mm_or_si128(is('/'), is('_')));
    const __m128i alphabet = _mm_or_si128(_mm_or_si128(upper, lower), _mm_or_si128(digit, special));
    const __m128i value = _mm_add_epi8(
        x, _mm_or_si128(_mm_or_si128(offset(upper, -'A'), offset(lower, 26 - 'a')), offset(digit, 52 - '0')));
    // A space or below (controls are no alphabet characters either: reading them as spaces only
    // lets more words through to read_groups).
    const __m128i space = _mm_cmpeq_epi8(_mm_max_epu8(x, _mm_set1_epi8(' ')), _mm_set1_epi8(' '));
    const int shift = 16 * chunk;
    m |= std::uint64_t{static_cast<std::uint32_t>(_mm_movemask_epi8(alphabet))} << shift;
    any |= std::uint64_t{static_cast<std::uint32_t>(_mm_movemask_epi8(special))} << shift;
    ws |= std::uint64_t{static_cast<std::uint32_t>(_mm_movemask_epi8(space))} << shift;
    // Bit plane k of each value: its bit k shifted into the byte's top bit (an immediate shift).
    [&]<int... k>(std::integer_sequence<int, k...>) {
      ((plane[k] |= std::uint64_t{static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_slli_epi16(value, 7 - k)))}
                    << shift),
       ...);
    }(std::make_integer_sequence<int, 6>{});
  }
  const auto [p0, p1, p2, p3, p4, p5] = plane;
  // The first byte (value v0): ASCII (8 to 31, and 2, 3 for a tab or line break), the first of
  // two bytes (48 to 55: C0 to DF), of three or four (56 to 61).
  const std::uint64_t first_ascii = (~p5 & (p4 | p3 | (~p2 & p1))) | any;
  const std::uint64_t first_of_two = (p5 & p4 & ~p3) | any;
  const std::uint64_t first_of_more = (p5 & p4 & p3 & ~(p2 & p1)) | any;
  // The second byte's high nibble (v1 & 15): ASCII or a control (0, 2 to 7), a continuation (8
  // to B), a first byte (C to F).
  const std::uint64_t second_ascii = (~p3 & ~(~p2 & ~p1 & p0)) | any;
  const std::uint64_t second_continues = (p3 & ~p2) | any;
  const std::uint64_t second_first = (p3 & p2) | any;
  // The third byte (v2 & 3 and the next value v3): a continuation (2), ASCII text (0 before a
  // value of 32 or more; 1), a first byte (3). The next value is the next word's when this one
  // ends (then any).
  const std::uint64_t third_continues = (p1 & ~p0) | any;
  const std::uint64_t third_starts = p0 | (~p1 & ((p5 | any | ~m) >> 1)) | any;
  // Hex digits by value: 0 to 9 (52 to 61), a to f (26 to 31), A to F (0 to 5); the first nibble
  // of ASCII (0, 2 to 7: '0' and '2' to '7'), of a first byte (C to F), of a continuation (8 to B).
  const std::uint64_t hex_digit = ((p5 & p4 & ((~p3 & p2) | (p3 & ~(p2 & p1)))) |
                                   (~p5 & p4 & p3 & (p2 | p1)) | (~p5 & ~p4 & ~p3 & ~(p2 & p1))) &
                                  ~any;
  const std::uint64_t hex_ascii = p5 & p4 & ((~p3 & p2 & (p1 | ~p0)) | (p3 & ~p2)) & ~any;
  const std::uint64_t hex_first = ((~p5 & p4 & p3 & p2) | (~p5 & ~p4 & ~p3 & (p2 ^ p1))) & ~any;
  const std::uint64_t hex_continues =
      (p5 & p4 & p3 & p2 & ~p1) | (~p5 & p4 & p3 & ~p2 & p1) | (~p5 & ~p4 & ~p3 & ~p2 & ~p1);
  // Whether the characters at k, k + a and k + b (alphabet characters) may start a reading.
  const auto may_start = [&](int a, int b) {
    const std::uint64_t base64 = (first_ascii & (((second_ascii >> a) & (third_starts >> b)) |
                                                 ((second_first >> a) & (third_continues >> b)))) |
                                 (first_of_two & (second_continues >> a) & (third_starts >> b)) |
                                 (first_of_more & (second_continues >> a) & (third_continues >> b));
    const std::uint64_t hex = (hex_digit >> a) & ((hex_ascii & ((hex_ascii | hex_first) >> b)) |
                                                  (hex_first & (hex_continues >> b)));
    return base64 | hex;
  };
  const std::uint64_t starts = m & ~(m << 1 | (after_alphabet ? 1 : 0));
  const std::uint64_t two = starts & (m >> 1) & ~(m >> 2);  // a word of two characters
  const std::uint64_t more = starts & (m >> 1) & (m >> 2);  // of three or more
  const std::uint64_t may =
      (more & may_start(1, 2)) |
      (two & (ws >> 2) & (((m >> 3) & may_start(1, 3)) | ((ws >> 3) & (m >> 4) & may_start(1, 4))));
  return may & ((std::uint64_t{1} << 60) - 1);
}
#endif

// The words of `in` a reading of groups may start at, in order: an alphabet character after one
// that is not (or the start) where a reading may start (group_candidates 60 bytes at a time, then
// may_start_at).
class group_starts {
 public:
  explicit group_starts(std::string_view in) : in_(in) {}

  // The first such word at or after `from`, or npos.
  std::size_t next(std::size_t from) {
    for (;;) {
      if (!loaded_ || from < block_ || from >= block_ + block) {
        if (!load(from)) {
          return scalar(from);
        }
      }
      const std::uint64_t left = starts_ & (~std::uint64_t{0} << (from - block_));
      if (left != 0) {
        return block_ + static_cast<std::size_t>(std::countr_zero(left));
      }
      from = block_ + block;
    }
  }

 private:
  static constexpr std::size_t block = 60;

  bool load(std::size_t from) {
#if defined(__SSE2__)
    if (from + 64 <= in_.size()) {
      starts_ = group_candidates(in_.data() + from, from > 0 && base64_char(in_[from - 1]));
      block_ = from;
      loaded_ = true;
      return true;
    }
#endif
    (void)from;
    return false;
  }
  std::size_t scalar(std::size_t from) const {
    for (std::size_t i = from; i < in_.size(); ++i) {
      if (base64_char(in_[i]) && (i == 0 || !base64_char(in_[i - 1])) && may_start_at(in_, i)) {
        return i;
      }
    }
    return std::string_view::npos;
  }

  std::string_view in_;
  std::size_t block_ = 0;
  std::uint64_t starts_ = 0;
  bool loaded_ = false;
};

// Whether more than half of `text` is ASCII letters and digits.
bool mostly_alphanumeric(std::string_view text) {
  const auto n = std::count_if(text.begin(), text.end(), [](char c) { return ascii_alnum(c); });
  return static_cast<std::size_t>(n) * 2 > text.size();
}

// Base64 and hex in groups that spell text, appended to `out` as runs. The runs out[first, ...)
// that the other readings found are not found again: no reading starts inside one, and one that
// starts where one does takes its place only when it reads further (base64 wrapped at a width
// that is not whole groups of four).
void find_grouped(std::string_view in, std::vector<base64_text>& out, std::size_t first, int depth) {
  constexpr std::size_t long_run = 64;  // bytes: a run this long is no chance reading of words
  std::vector<std::size_t> found(out.size() - first);
  for (std::size_t r = 0; r < found.size(); ++r) {
    found[r] = first + r;
  }
  std::sort(found.begin(), found.end(),
            [&](std::size_t a, std::size_t b) { return out[a].begin < out[b].begin; });
  std::size_t next_found = 0;
  std::size_t covered = 0;  // the runs so far end there
  std::string text;
  group_starts starts(in);
  for (std::size_t at = starts.next(0); at != std::string_view::npos; at = starts.next(at + 1)) {
    while (next_found < found.size() && out[found[next_found]].end <= at) {
      ++next_found;
    }
    std::size_t same = std::string_view::npos;  // a run found before that starts here
    if (next_found < found.size() && out[found[next_found]].begin <= at) {
      if (out[found[next_found]].begin < at) {
        at = out[found[next_found]].end - 1;
        continue;  // inside it
      }
      same = found[next_found];
    }
    group_reading reading;
    bool hex = hex_values[static_cast<unsigned char>(in[at])] >= 0;
    if (hex) {
      reading = read_groups<true>(in, at, 8);
    }
    if (reading.end == 0) {
      hex = false;
      reading = read_groups<false>(in, at, 9);
    }
    if (reading.end == 0) {
      continue;
    }
    if (reading.end > covered && (same == std::string_view::npos || reading.end > out[same].end)) {
      if (hex) {
        decode_groups<true>(in, at, reading.end, text);
      } else {
        decode_groups<false>(in, at, reading.end, text);
      }
      const std::string_view groups = in.substr(at, reading.end - at);
      // A list of numbers ("2024 2025 2026 ...": hex of spaces and punctuation) is not read.
      if (std::any_of(groups.begin(), groups.end(), ascii_letter) || mostly_alphanumeric(text)) {
        read_inner(text, depth);
        if (same != std::string_view::npos) {
          out[same] = {at, reading.end, text};
        } else {
          out.push_back({at, reading.end, text});
        }
      }
      covered = reading.end;
    }
    // A short reading that ends before its chain does may have started on words before the
    // groups it reads (a prose word that decodes with them): the next word may start a longer one.
    // Else the next start is after it, and no group is read by more than a few starts.
    if (reading.whole || reading.bytes >= long_run || reading.stop - at >= 4 * long_run) {
      at = reading.end - 1;
    }
  }
}

#if defined(__SSE2__)
// Bit k: p[k] is ' ' or a tab (k < 16); and: p[k] is a visible ASCII character.
std::uint64_t space_mask16(const char* p) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return static_cast<std::uint32_t>(_mm_movemask_epi8(
      _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(' ')), _mm_cmpeq_epi8(x, _mm_set1_epi8('\t')))));
}
std::uint64_t visible_mask16(const char* p) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return static_cast<std::uint32_t>(_mm_movemask_epi8(
      _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8(' ')), _mm_cmplt_epi8(x, _mm_set1_epi8(0x7f)))));
}
#endif

bool visible(char c) { return c > ' ' && c < 0x7f; }
bool blank(char c) { return c == ' ' || c == '\t'; }

// Whether four one-character words, one to three blanks apart, start at in[i] ("a l i c",
// "a  l\t\ti c").
bool four_spaced_at(std::string_view in, std::size_t i) {
  for (int word = 0;; ++word) {
    if (i >= in.size() || !visible(in[i])) {
      return false;
    }
    if (word == 3) {
      return true;
    }
    std::size_t next = i + 1;
    while (next < in.size() && blank(in[next]) && next - i <= 3) {
      ++next;
    }
    if (next == i + 1) {
      return false;
    }
    i = next;
  }
}

// Where four one-character words ("a l i c", "a  l  i  c") first start in `in`, or npos: 53
// bytes at a time where no visible character stands alone before a blank (text).
std::size_t first_spaced_letters(std::string_view in) {
  std::size_t i = 0;
#if defined(__SSE2__)
  for (; i + 64 <= in.size(); i += 53) {
    const char* p = in.data() + i;
    const std::uint64_t sp = space_mask16(p) | space_mask16(p + 16) << 16 | space_mask16(p + 32) << 32 |
                             space_mask16(p + 48) << 48;
    const std::uint64_t v = visible_mask16(p) | visible_mask16(p + 16) << 16 | visible_mask16(p + 32) << 32 |
                            visible_mask16(p + 48) << 48;
    // A visible character with a blank after it and none before it (bit 0: whatever is before).
    std::uint64_t starts = v & (sp >> 1) & ~(v << 1) & ((std::uint64_t{1} << 53) - 1);
    for (; starts != 0; starts &= starts - 1) {
      const std::size_t at = i + static_cast<std::size_t>(std::countr_zero(starts));
      if (four_spaced_at(in, at)) {
        return at;
      }
    }
  }
#endif
  for (; i + 7 <= in.size(); ++i) {
    if (blank(in[i + 1]) && visible(in[i]) && four_spaced_at(in, i)) {
      return i;
    }
  }
  return std::string_view::npos;
}

constexpr std::size_t min_spaced_letters = 8;

// Text written a character at a time ("a l i c e @ e x a m p l e . c o m", "I B A N D E 8 9 ..."),
// which a model reads as the word it spells: at least eight one-character words (thirteen when
// all are digits), one to three spaces or tabs apart, read with them removed (and what base64 or
// hex they spell, decoded: read_inner); appended to `out` as runs.
void find_spaced_letters_in(std::string_view in, std::vector<base64_text>& out) {
  constexpr std::size_t min_card_digits = 13;
  std::string collapsed;
  for (std::size_t from = 0; from < in.size();) {
    const std::size_t at = first_spaced_letters(in.substr(from));
    if (at == std::string_view::npos) {
      return;
    }
    std::size_t begin = from + at;
    if (begin > 0 && visible(in[begin - 1])) {
      from = begin + 1;  // the end of a longer word ("is a b c d"): the run may start after it
      continue;
    }
    collapsed.clear();
    std::size_t k = begin;
    std::size_t end = begin;
    while (k < in.size() && visible(in[k]) && (k + 1 == in.size() || !visible(in[k + 1]))) {
      collapsed.push_back(in[k]);
      end = k + 1;
      std::size_t next = k + 1;
      while (next < in.size() && blank(in[next]) && next - k <= 3) {
        ++next;
      }
      if (next == k + 1 || next - k > 4) {
        break;  // no space after it, or more than three
      }
      k = next;
    }
    from = std::max(end, begin + 1);
    // Digits alone are a list ("0 1 2 3 4 5 6 7 8 9" is no telephone number) up to a card's length.
    const bool digits_only =
        std::all_of(collapsed.begin(), collapsed.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (collapsed.size() >= (digits_only ? min_card_digits : min_spaced_letters)) {
      read_inner(collapsed, 0);  // base64 or hex written a character at a time
      out.push_back({begin, end, collapsed});
    }
  }
}

// Whether `in` holds a byte outside ASCII: eight bytes at a time, as text is mostly ASCII.
bool any_non_ascii(std::string_view in) {
  std::uint64_t bytes = 0;
  std::size_t i = 0;
  for (; i + 8 <= in.size(); i += 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, in.data() + i, 8);
    bytes |= word;
  }
  for (; i < in.size(); ++i) {
    bytes |= static_cast<unsigned char>(in[i]);
  }
  return (bytes & 0x8080808080808080ULL) != 0;
}

// What a code point is to spaced_characters: a blank (a space, a tab, or what fold() reads as a
// space: a Unicode space), a character, invisible (what fold() removes: zero width, bidirectional
// and format characters, combining marks, variation selectors, U+FFFD, the blank braille pattern,
// and here the tag characters, as a model sees them), or the end of a line (a control).
enum class spaced_kind : std::uint8_t { character, blank, invisible, line_end };

constexpr fold_reading spaced_reading{.without_tags = true};

spaced_kind spaced_kind_of(char32_t cp) {
  if (cp < 0x80) {
    return cp == ' ' || cp == '\t'   ? spaced_kind::blank
           : cp < 0x20 || cp == 0x7F ? spaced_kind::line_end
                                     : spaced_kind::character;
  }
  switch (fold_class(cp, spaced_reading)) {
    case folds_to::space:
      return spaced_kind::blank;
    case folds_to::nothing:
      return spaced_kind::invisible;
    case folds_to::line_break:
      return spaced_kind::line_end;
    default:
      return spaced_kind::character;
  }
}

// Whether `in` holds eight one-character words in a row, one to three blanks apart, code point
// by code point ("a\u00a0l\u00a0i\u00a0c\u00a0e...", "\uff41 \uff4c \uff49 ..."): what
// find_spaced_letters_in needs before the text is worth folding, which costs far more than this.
bool spaced_characters(std::string_view in) {
  int words = 0;   // one-character words so far, each one to three blanks after the last
  int length = 0;  // the characters of the word being read
  int blanks = 0;  // since the last word
  int gap = 0;     // the blanks before the word being read
  const auto word_ends = [&] {
    words = length > 1 ? 0 : words > 0 && gap <= 3 ? words + 1 : 1;
    length = 0;
    return words >= static_cast<int>(min_spaced_letters);
  };
  for (std::size_t i = 0; i < in.size();) {
    char32_t cp = static_cast<unsigned char>(in[i]);
    const std::size_t n = cp < 0x80 ? 1 : utf8_sequence_at(in, i, cp);
    i += n == 0 ? 1 : n;
    const spaced_kind kind = spaced_kind_of(cp);
    if (kind == spaced_kind::character) {
      if (length++ == 0) {
        gap = blanks;
        blanks = 0;
      }
    } else if (kind != spaced_kind::invisible) {
      if (length > 0 && word_ends()) {
        return true;
      }
      blanks = kind == spaced_kind::blank ? blanks + 1 : 0;
      words = kind == spaced_kind::blank ? words : 0;
    }
  }
  return length > 0 && word_ends();
}

// find_spaced_letters_in, on the text as a model reads it (fold.hpp) where anything in it folds:
// Unicode spaces separate the characters as spaces do ("a\u00a0l\u00a0i...", "D\u2009E\u20098..."),
// and fullwidth, circled or enclosed letters and digits are the ASCII ones; each run's bounds are
// mapped back to `in`. A dash, quotation mark or other punctuation that folds to ASCII ends a run
// as it did unfolded ("a l i c e . c o m \u2014 ...", "\u201ca l i c e ...\u201d"): only '@' and '.' are
// read as one-character words of their own.
void find_spaced_letters(std::string_view in, std::vector<base64_text>& out) {
  thread_local folded_text folded;
  if (!any_non_ascii(in)) {
    find_spaced_letters_in(in, out);
    return;
  }
  if (!spaced_characters(in)) {
    return;
  }
  if (!fold(in, folded, spaced_reading)) {
    find_spaced_letters_in(in, out);
    return;
  }
  for (std::size_t i = 0; i < folded.text.size(); ++i) {
    const char c = folded.text[i];
    if (static_cast<unsigned char>(in[folded.origin[i]]) >= 0x80 && !ascii_alnum(c) && c != ' ' && c != '@' &&
        c != '.') {
      folded.text[i] = mark_byte;
    }
  }
  const std::size_t before = out.size();
  find_spaced_letters_in(folded.text, out);
  for (std::size_t r = before; r < out.size(); ++r) {
    out[r].begin = folded.origin[out[r].begin];
    out[r].end = folded.origin[out[r].end];
  }
}

// Base64 or hex (find_texts) inside decoded text, for what was encoded twice: its text is appended
// to `decoded`, after a line break, up to max_encoded_levels deep.
void read_inner(std::string& decoded, int depth) {
  constexpr int max_encoded_levels = 3;
  if (depth + 1 >= max_encoded_levels || decoded.size() < min_base64_run) {
    return;
  }
  std::vector<base64_text> inner;
  find_texts(decoded, inner, depth + 1);
  for (const base64_text& run : inner) {
    decoded += '\n';
    decoded += run.text;
  }
}

std::size_t find_texts(std::string_view in, std::vector<base64_text>& out, int depth) {
  const std::size_t before = out.size();
  std::string decoded;
  std::string more;
  std::size_t i = 0;
  while (i < in.size()) {
    const std::size_t at = first_base64_run(in.substr(i));
    if (at == std::string_view::npos) {
      break;  // the usual case, at once
    }
    // A run starts there (in[i - 1], if any, ended the run before).
    const std::size_t begin = i + at;
    std::size_t end = begin + min_base64_run;
    while (end < in.size() && base64_char(in[end])) {
      ++end;
    }
    i = end;
    const std::string_view run = in.substr(begin, end - begin);
    // Hex written as a literal ("0x616c6963...") is the hex after its prefix.
    const bool literal = run.size() > 2 && run[0] == '0' && (run[1] == 'x' || run[1] == 'X');
    if (decode_hex_text(literal ? run.substr(2) : run, decoded)) {
      read_inner(decoded, depth);
      out.push_back({begin, end, decoded});
      continue;
    }
    // Mixed alphabets are not base64; a length of 4k+1 cannot be; the bits after the last byte
    // of an unpadded tail are ignored, as decoders do.
    bool url_safe = run.find_first_of("-_") != std::string_view::npos;
    bool standard = run.find_first_of("+/") != std::string_view::npos;
    if ((url_safe && standard) || run.size() % 4 == 1 || !decode_base64_text(run, decoded)) {
      continue;
    }
    std::size_t padded = end;
    while (padded < in.size() && in[padded] == '=' && padded - end < 2) {
      ++padded;
    }
    // Base64 wrapped in lines (MIME, PEM) or split over strings reads on after a line break or a
    // space, where what came before is whole groups of four: each such piece decodes on its own,
    // and the run ends at the first one that is not text, or after a tail (padding, a short group).
    bool open = padded == end && run.size() % 4 == 0;  // whole groups so far, no padding
    while (open) {
      std::size_t next = padded;
      while (next < in.size() && next - padded < 2 &&
             (in[next] == ' ' || in[next] == '\n' || in[next] == '\r' || in[next] == '\t')) {
        ++next;
      }
      std::size_t stop = next;
      while (stop < in.size() && base64_char(in[stop])) {
        ++stop;
      }
      const std::string_view piece = in.substr(next, stop - next);
      url_safe = url_safe || piece.find_first_of("-_") != std::string_view::npos;
      standard = standard || piece.find_first_of("+/") != std::string_view::npos;
      if (next == padded || piece.empty() || (url_safe && standard) || piece.size() % 4 == 1 ||
          !decode_base64_text(piece, more)) {
        break;
      }
      decoded += more;
      padded = stop;
      while (padded < in.size() && in[padded] == '=' && padded - stop < 2) {
        ++padded;
      }
      open = padded == stop && piece.size() % 4 == 0;
      i = padded;
    }
    read_inner(decoded, depth);
    out.push_back({begin, padded, decoded});
  }
  find_spaced_hex(in, out, depth);
  find_grouped(in, out, before, depth);
  const std::size_t numbers = out.size();
  find_number_texts(in, out);
  for (std::size_t r = numbers; r < out.size(); ++r) {
    read_inner(out[r].text, depth);
  }
  if (depth == 0) {
    find_spaced_letters(in, out);
  }
  return out.size() - before;
}

}  // namespace

std::size_t find_base64_texts(std::string_view in, std::vector<base64_text>& out) {
  return find_texts(in, out, 0);
}

}  // namespace sovgw::classify
