#include "classify/digit_lookalikes.hpp"

#include <algorithm>
#include <vector>

#include "classify/digit_scan.hpp"

namespace sovgw::classify {
namespace {

bool digit(char c) { return c >= '0' && c <= '9'; }
bool lookalike(char c) { return c == 'O' || c == 'o' || c == 'I' || c == 'l' || c == '|'; }
bool word_char(char c) { return digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '|'; }
char as_digit(char c) { return c == 'O' || c == 'o' ? '0' : c == 'I' || c == 'l' || c == '|' ? '1' : c; }

bool lookalike_beside(std::string_view text, std::size_t i) {
  return (i > 0 && lookalike(text[i - 1])) || (i + 1 < text.size() && lookalike(text[i + 1]));
}

}  // namespace

std::size_t next_lookalike_digit(std::string_view text, std::size_t from) {
  return next_digit_if(text, from, [&](std::size_t at) { return lookalike_beside(text, at); });
}

bool put_back_digits(std::string_view text, std::string& out) {
  out.assign(text);
  struct word {
    std::size_t begin;
    std::size_t end;
    bool digits;      // digits and lookalikes, a digit among them
    bool lookalikes;  // lookalikes alone, up to four
  };
  std::vector<word> words;
  for (std::size_t i = 0; i < text.size();) {
    if (!word_char(text[i])) {
      ++i;
      continue;
    }
    word w{i, i, false, false};
    bool any_digit = false;
    bool only = true;  // digits and lookalikes only
    while (i < text.size() && word_char(text[i])) {
      any_digit = any_digit || digit(text[i]);
      only = only && (digit(text[i]) || lookalike(text[i]));
      ++i;
    }
    w.end = i;
    // Digits and one trailing 'l' are a measure in litres ("4l 5l 10l 20l", probe round 33).
    const bool litres = w.end - w.begin >= 2 && text[w.end - 1] == 'l' &&
                        std::all_of(text.begin() + static_cast<std::ptrdiff_t>(w.begin),
                                    text.begin() + static_cast<std::ptrdiff_t>(w.end - 1), digit);
    w.digits = only && any_digit && !litres;
    w.lookalikes = only && !any_digit && w.end - w.begin <= 4;
    words.push_back(w);
  }
  // One space, '-', '.' or '/' between two words.
  const auto adjacent = [&](const word& a, const word& b) {
    return b.begin == a.end + 1 &&
           (text[a.end] == ' ' || text[a.end] == '-' || text[a.end] == '.' || text[a.end] == '/');
  };
  std::vector<bool> change(words.size());
  for (std::size_t k = 0; k < words.size(); ++k) {
    change[k] = words[k].digits;
  }
  // Letters-only words next to a changed word, both ways ("4lll llll llll", "OO" after "O13O").
  for (std::size_t k = 1; k < words.size(); ++k) {
    change[k] = change[k] || (words[k].lookalikes && change[k - 1] && adjacent(words[k - 1], words[k]));
  }
  for (std::size_t k = words.size(); k-- > 1;) {
    change[k - 1] =
        change[k - 1] || (words[k - 1].lookalikes && change[k] && adjacent(words[k - 1], words[k]));
  }
  bool changed = false;
  for (std::size_t k = 0; k < words.size(); ++k) {
    if (!change[k]) {
      continue;
    }
    for (std::size_t i = words[k].begin; i < words[k].end; ++i) {
      out[i] = as_digit(text[i]);
      changed = changed || out[i] != text[i];
    }
  }
  return changed;
}

}  // namespace sovgw::classify
