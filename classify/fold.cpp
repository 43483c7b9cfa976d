#include "classify/fold.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <utility>

namespace sovgw::classify {
namespace {

struct fold_run {
  std::uint32_t first;
  std::uint32_t last;
  std::uint8_t ascii;  // 0: removed; mark: a punctuation mark or symbol (fold.hpp)
  std::uint8_t step;   // 0: every code point folds to ascii; 1: to ascii + (cp - first)
};

struct fold_multi {
  std::uint32_t cp;
  const char* ascii;  // two to four characters
};

constexpr std::uint8_t mark = 0x1F;  // the generator's MARK
static_assert(static_cast<char>(mark) == mark_byte,
              "a mark is written as the byte that marks it in the table");

#include "classify/fold_table.inc"

template <typename T, std::size_t N, typename Key>
constexpr bool sorted_by(const T (&table)[N], Key key) {
  for (std::size_t i = 1; i < N; ++i) {
    if (key(table[i]).first <= key(table[i - 1]).second || key(table[i]).first > key(table[i]).second) {
      return false;
    }
  }
  return true;
}
static_assert(sorted_by(fold_runs, [](const fold_run& r) { return std::pair(r.first, r.last); }),
              "fold_runs must be sorted, disjoint runs");
static_assert(sorted_by(fold_multis, [](const fold_multi& m) { return std::pair(m.cp, m.cp); }),
              "fold_multis must be sorted");
static_assert(sorted_by(lookalike_runs, [](const fold_run& r) { return std::pair(r.first, r.last); }),
              "lookalike_runs must be sorted, disjoint runs");

// Bit cp: whether a code point of the Basic Multilingual Plane is in a table (fold_bmp: the runs
// and the multis): most text outside ASCII is letters no table holds, answered without a search.
using bmp_bits = std::array<std::uint64_t, 0x10000 / 64>;
template <std::size_t R>
constexpr bmp_bits bmp_of(const fold_run (&runs)[R]) {
  bmp_bits bits{};
  for (const fold_run& r : runs) {
    for (std::uint32_t cp = r.first; cp <= r.last && cp < 0x10000; ++cp) {
      bits[cp / 64] |= std::uint64_t{1} << (cp % 64);
    }
  }
  return bits;
}
constexpr bmp_bits fold_bmp = [] {
  bmp_bits bits = bmp_of(fold_runs);
  for (const fold_multi& m : fold_multis) {
    if (m.cp < 0x10000) {
      bits[m.cp / 64] |= std::uint64_t{1} << (m.cp % 64);
    }
  }
  return bits;
}();
constexpr bmp_bits lookalike_bmp = bmp_of(lookalike_runs);

bool in_bmp(const bmp_bits& bits, std::uint32_t cp) {
  return cp >= 0x10000 || ((bits[cp / 64] >> (cp % 64)) & 1u) != 0;
}

const fold_run* run_of(const fold_run* begin, const fold_run* end, std::uint32_t cp) {
  const auto* run =
      std::upper_bound(begin, end, cp, [](std::uint32_t c, const fold_run& r) { return c < r.first; });
  return run != begin && cp <= (run - 1)->last ? run - 1 : nullptr;
}

bool tag(std::uint32_t cp) { return cp >= 0xE0000 && cp <= 0xE007F; }

// What `cp` folds to: kept as it is (nullopt), removed (empty) or the ASCII it stands for, in
// `one` for a single character. A mark is a blank when `reading.marks`, else kept.
std::optional<std::string_view> fold_of(std::uint32_t cp, const fold_reading& reading, char& one) {
  if (reading.without_tags && tag(cp)) {
    return std::string_view();
  }
  const fold_run* r = reading.lookalikes && in_bmp(lookalike_bmp, cp)
                          ? run_of(std::begin(lookalike_runs), std::end(lookalike_runs), cp)
                          : nullptr;
  if (r == nullptr && !in_bmp(fold_bmp, cp)) {
    return std::nullopt;
  }
  if (r == nullptr) {
    r = run_of(std::begin(fold_runs), std::end(fold_runs), cp);
  }
  if (r != nullptr) {
    if (r->ascii == 0) {
      return std::string_view();
    }
    if (r->ascii == mark) {
      if (!reading.marks) {
        return std::nullopt;
      }
      one = mark_byte;  // the unit separator: no other control survives folding
      return std::string_view(&one, 1);
    }
    one = static_cast<char>(r->ascii + r->step * (cp - r->first));
    return std::string_view(&one, 1);
  }
  const auto* multi = std::lower_bound(std::begin(fold_multis), std::end(fold_multis), cp,
                                       [](const fold_multi& m, std::uint32_t c) { return m.cp < c; });
  if (multi != std::end(fold_multis) && multi->cp == cp) {
    return std::string_view(multi->ascii);
  }
  return std::nullopt;
}

// Decodes the UTF-8 sequence at t[i] into cp and returns its length, or 0 when it is not one.
std::size_t decode(std::string_view t, std::size_t i, std::uint32_t& cp) {
  const auto b = [&](std::size_t k) { return static_cast<std::uint8_t>(t[i + k]); };
  const std::uint8_t lead = b(0);
  std::size_t n = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    n = 2;
    cp = lead & 0x1Fu;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    n = 3;
    cp = lead & 0x0Fu;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    n = 4;
    cp = lead & 0x07u;
  } else {
    return 0;
  }
  if (i + n > t.size()) {
    return 0;
  }
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0u) != 0x80u) {
      return 0;
    }
    cp = (cp << 6) | (b(k) & 0x3Fu);
  }
  const bool overlong = (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
  return overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) ? 0 : n;
}

// An ASCII control character a model does not read as part of a word: removed. Tab, line feed and
// carriage return stay (they separate words, and line feed separates the body's strings).
bool removed_control(unsigned char c) {
  return (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F;
}

bool plain_ascii(std::string_view t) {
  return std::all_of(t.begin(), t.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x80 && !removed_control(u);
  });
}

// Whether the byte at t[i] (with its code point decoded into cp, n bytes; n == 0: not UTF-8 or
// ASCII) folds: a removed control or a code point of the table.
std::optional<std::string_view> fold_at(std::string_view t, std::size_t i, std::size_t n, std::uint32_t cp,
                                        const fold_reading& reading, char& one) {
  if (n == 0) {
    return removed_control(static_cast<unsigned char>(t[i]))
               ? std::optional<std::string_view>(std::string_view())
               : std::nullopt;
  }
  return fold_of(cp, reading, one);
}

}  // namespace

bool fold(std::string_view text, folded_text& out, bool marks) {
  return fold(text, out, fold_reading{.marks = marks});
}

bool fold(std::string_view text, folded_text& out, const fold_reading& reading) {
  if (plain_ascii(text)) {
    return false;
  }
  // First pass: is there anything to fold?
  std::size_t first = text.size();
  for (std::size_t i = 0; i < text.size();) {
    std::uint32_t cp = 0;
    const std::size_t n = static_cast<unsigned char>(text[i]) < 0x80 ? 0 : decode(text, i, cp);
    char one = 0;
    if (fold_at(text, i, n, cp, reading, one)) {
      first = i;
      break;
    }
    i += n == 0 ? 1 : n;
  }
  if (first == text.size()) {
    return false;
  }
  out.text.assign(text.substr(0, first));
  out.origin.resize(first);
  for (std::size_t i = 0; i < first; ++i) {
    out.origin[i] = static_cast<std::uint32_t>(i);
  }
  for (std::size_t i = first; i < text.size();) {
    std::uint32_t cp = 0;
    const std::size_t n = static_cast<unsigned char>(text[i]) < 0x80 ? 0 : decode(text, i, cp);
    char one = 0;
    const std::optional<std::string_view> folded = fold_at(text, i, n, cp, reading, one);
    if (folded) {
      out.text += *folded;  // nothing for a removed one
      out.origin.insert(out.origin.end(), folded->size(), static_cast<std::uint32_t>(i));
    } else {
      const std::size_t len = n == 0 ? 1 : n;
      for (std::size_t k = 0; k < len; ++k) {
        out.text += text[i + k];
        out.origin.push_back(static_cast<std::uint32_t>(i + k));
      }
    }
    i += n == 0 ? 1 : n;
  }
  out.origin.push_back(static_cast<std::uint32_t>(text.size()));
  return true;
}

folds_to fold_class(char32_t cp, const fold_reading& reading) {
  char one = 0;
  const std::optional<std::string_view> f = fold_of(cp, reading, one);
  return !f           ? folds_to::itself
         : f->empty() ? folds_to::nothing
         : *f == " "  ? folds_to::space
         : *f == "\n" ? folds_to::line_break
                      : folds_to::other;
}

bool has_tags(std::string_view text) {
  // U+E0000..E007F: F3 A0 80 80..F3 A0 81 BF.
  for (std::size_t at = text.find('\xF3'); at != std::string_view::npos; at = text.find('\xF3', at + 1)) {
    if (text.substr(at + 1, 2) == "\xA0\x80" || text.substr(at + 1, 2) == "\xA0\x81") {
      return true;
    }
  }
  return false;
}

bool has_lookalikes(std::string_view text) {
  constexpr std::size_t near = 8;  // bytes: "ВЕ68", "NL91 АВNA", "ᴡᴇꜱᴛ 1234"
  if (std::none_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; })) {
    return false;
  }
  for (std::size_t i = 0; i < text.size();) {
    std::uint32_t cp = 0;
    const std::size_t n = static_cast<unsigned char>(text[i]) < 0x80 ? 0 : decode(text, i, cp);
    if (n != 0 && in_bmp(lookalike_bmp, cp) &&
        run_of(std::begin(lookalike_runs), std::end(lookalike_runs), cp) != nullptr) {
      const std::size_t from = i < near ? 0 : i - near;
      const std::string_view around = text.substr(from, i + n + near - from);
      if (std::any_of(around.begin(), around.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return true;
      }
    }
    i += n == 0 ? 1 : n;
  }
  return false;
}

}  // namespace sovgw::classify
