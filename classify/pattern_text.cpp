#include "classify/pattern_text.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/ascii.hpp"
#include "common/utf8.hpp"

namespace sovgw::classify {
namespace {

bool ident_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-';
}

// The value of the `digits` hex digits at in[i] (all of them hex), or -1.
long hex_value(std::string_view in, std::size_t i, std::size_t digits) {
  if (i + digits > in.size()) {
    return -1;
  }
  long v = 0;
  for (std::size_t k = i; k < i + digits; ++k) {
    const int d = hex_digit_value(in[k]);
    if (d < 0) {
      return -1;
    }
    v = v * 16 + d;
  }
  return v;
}

class reader {
 public:
  reader(std::string_view in, alternative which, unescaped_text& out) : in_(in), which_(which), out_(out) {
    out_.text.clear();
    out_.origin.clear();
    budget_ = 4 * in.size() + 1024;  // rules inlined into rules: bounded
  }

  // A regular expression in in_[i, end).
  void regex(std::size_t i, std::size_t end) {
    std::vector<std::size_t> groups;  // where each open group's text starts in out_
    std::size_t atom = std::string::npos;  // where the text of the last atom starts (for a repeat)
    while (i < end) {
      const char c = in_[i];
      const std::size_t before = out_.text.size();
      if (c == '\\') {
        i = escape(i, end);
        atom = out_.text.size() > before ? before : std::string::npos;
      } else if (c == '^' || c == '$') {
        ++i;
        atom = std::string::npos;
      } else if (c == '(') {
        if (const std::size_t flags = inline_flags(i, end); flags != 0) {
          i += flags;  // "(?i)": no group
          continue;
        }
        if (const std::size_t skip = matches_nothing(i, end); skip != 0) {
          i = skip;  // a comment or a look-around: no text of its own
          continue;
        }
        groups.push_back(out_.text.size());
        i = group_body(i, end);
        atom = std::string::npos;
      } else if (c == ')') {
        atom = groups.empty() ? std::string::npos : groups.back();
        if (!groups.empty()) {
          groups.pop_back();
        }
        ++i;
      } else if (c == '|') {
        i = choice(i, end, groups.empty() ? std::string::npos : groups.back(), false);
        atom = std::string::npos;
      } else if (c == '[') {
        i = char_class(i, end);
        atom = out_.text.size() > before ? before : std::string::npos;
      } else if (c == '?' || c == '*' || c == '+') {
        ++i;
        atom = std::string::npos;
      } else if (c == '{' && repeat_length(i, end) != 0) {
        repeat(atom, i);
        i += repeat_length(i, end);
        atom = std::string::npos;
      } else {
        put(c, i);
        ++i;
        atom = before;
      }
    }
  }

  // A grammar: its rules (GBNF's `name ::= ...`, Lark's `name: ...`, EBNF's `name = ...;`), each
  // read with the rules it names inlined, on a line of its own; a string without rule heads is
  // one rule's body.
  void grammar() {
    find_rules();
    if (rules_.empty()) {
      body(0, in_.size(), 0);
      return;
    }
    for (const rule& r : rules_) {
      body(r.begin, r.end, 0);
      put('\n', r.end);
    }
  }

  [[nodiscard]] bool changed() const {
    if (out_.text.size() != in_.size()) {
      return true;
    }
    for (std::size_t k = 0; k < out_.origin.size(); ++k) {
      if (out_.origin[k] != k) {
        return true;
      }
    }
    return false;
  }

 private:
  struct rule {
    std::string_view name;
    std::size_t begin = 0;  // its body in in_
    std::size_t end = 0;
  };

  void put(char c, std::size_t at) {
    out_.text.push_back(c);
    out_.origin.push_back(static_cast<std::uint32_t>(at));
  }
  void put_code_point(long cp, std::size_t at) {
    if (cp < 0 || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) {
      return;
    }
    const std::size_t before = out_.text.size();
    append_utf8(out_.text, static_cast<char32_t>(cp));
    out_.origin.insert(out_.origin.end(), out_.text.size() - before, static_cast<std::uint32_t>(at));
  }

  void truncate(std::size_t size) {
    out_.text.resize(size);
    out_.origin.resize(size);
  }

  // The escape at in_[i] ('\\'), as a regular expression or a grammar's literal reads it; where
  // it ends.
  std::size_t escape(std::size_t i, std::size_t end) {
    if (i + 1 >= end) {
      return end;
    }
    const char e = in_[i + 1];
    switch (e) {
      case 'Q': {  // literal to \E
        std::size_t k = i + 2;
        for (; k < end && in_.compare(k, 2, "\\E") != 0; ++k) {
          put(in_[k], k);
        }
        return k < end ? k + 2 : end;
      }
      case 'x':
        if (i + 2 < end && in_[i + 2] == '{') {
          return braced_code_point(i, i + 3, end, 16);
        }
        put_code_point(hex_value(in_.substr(0, end), i + 2, 2), i);
        return hex_value(in_.substr(0, end), i + 2, 2) < 0 ? i + 2 : i + 4;
      case 'u':
      case 'U':  // \UHHHHHHHH: Python's re, Rust's regex, GBNF, Lark's literals; \U{H...}: Rust
        if (i + 2 < end && in_[i + 2] == '{') {
          return braced_code_point(i, i + 3, end, 16);
        }
        put_code_point(hex_value(in_.substr(0, end), i + 2, e == 'u' ? 4 : 8), i);
        return hex_value(in_.substr(0, end), i + 2, e == 'u' ? 4 : 8) < 0 ? i + 2 : i + (e == 'u' ? 6 : 10);
      case 'o':  // \o{...}: Perl, PCRE
        if (i + 2 < end && in_[i + 2] == '{') {
          return braced_code_point(i, i + 3, end, 8);
        }
        put(e, i + 1);
        return i + 2;
      case 'N':  // \N{COMMERCIAL AT}: Python's re (\N alone: PCRE's "not a line break")
        if (i + 2 < end && in_[i + 2] == '{') {
          const std::size_t close = in_.find('}', i + 3);
          if (close == std::string_view::npos || close >= end) {
            return end;
          }
          put_code_point(named_ascii(in_.substr(i + 3, close - (i + 3))), i);
          return close + 1;
        }
        return i + 2;
      case 's':
        put(' ', i);
        return i + 2;
      case 't':
        put('\t', i);
        return i + 2;
      case 'n':
        put('\n', i);
        return i + 2;
      case 'p':
      case 'P':
      case 'k':  // \p{L}, \k<name>: no character of their own
        if (i + 2 < end && (in_[i + 2] == '{' || in_[i + 2] == '<')) {
          const std::size_t close = in_.find(in_[i + 2] == '{' ? '}' : '>', i + 3);
          return close == std::string_view::npos || close >= end ? end : close + 1;
        }
        return i + 2;
      case 'b':
      case 'B':
      case 'A':
      case 'Z':
      case 'z':
      case 'G':
      case 'd':
      case 'D':
      case 'w':
      case 'W':
      case 'S':
      case 'h':
      case 'H':
      case 'v':
      case 'V':
      case 'r':
      case 'f':
        return i + 2;  // an anchor or a class: no one character
      default:
        if (e >= '0' && e <= '9') {
          // Octal: Python's \0, \0N, \0NN and \NNN (first digit 0 to 3), Java's \0NNN; else a
          // back reference.
          const auto octal = [&](std::size_t at) { return at < end && in_[at] >= '0' && in_[at] <= '7'; };
          std::size_t k = e == '0' ? i + 2 : i + 1;
          const std::size_t most = e == '0' && i + 2 < end && in_[i + 2] <= '3' ? 3 : (e == '0' ? 2 : 3);
          std::size_t digits = 0;
          long v = 0;
          while (digits < most && octal(k)) {
            v = v * 8 + (in_[k++] - '0');
            ++digits;
          }
          if (e == '0' || (digits == 3 && e <= '3')) {
            put_code_point(v >= 0x20 ? v : -1, i);
            return e == '0' ? k : i + 4;
          }
          return i + 2;  // a back reference
        }
        put(e, i + 1);
        return i + 2;
    }
  }
  std::size_t braced_code_point(std::size_t i, std::size_t from, std::size_t end, int base) {
    std::size_t length = 0;
    const long v = braced_code_point_at(in_.substr(0, end), from - 1, base, length);
    if (v < 0) {
      return from;
    }
    put_code_point(v, i);
    return from - 1 + length;
  }

  // "(?i)", "(?-s)": inline flags, no group; their length, or 0.
  std::size_t inline_flags(std::size_t i, std::size_t end) const {
    if (i + 2 >= end || in_[i + 1] != '?') {
      return 0;
    }
    std::size_t k = i + 2;
    while (k < end && ((in_[k] >= 'a' && in_[k] <= 'z') || in_[k] == '-')) {
      ++k;
    }
    return k > i + 2 && k < end && in_[k] == ')' ? k + 1 - i : 0;
  }
  // Past a group's opening: "(", "(?:", "(?=", "(?<name>", "(?P<name>", "(?'name'", "(?i:".
  // Where a group at in_[i] ('(') that matches no text ends (past its ')'), or 0 for another
  // group: a comment "(?#...)", a look-ahead "(?=...)", "(?!...)" or a look-behind "(?<=...)",
  // "(?<!...)". What a look-around asserts is read where the text has it: "smith(?=@)@example"
  // reads "smith@example".
  std::size_t matches_nothing(std::size_t i, std::size_t end) const {
    if (in_.compare(i, 3, "(?#") == 0) {
      const std::size_t close = in_.find(')', i + 3);
      return close == std::string_view::npos || close >= end ? end : close + 1;
    }
    if (in_.compare(i, 3, "(?=") != 0 && in_.compare(i, 3, "(?!") != 0 && in_.compare(i, 4, "(?<=") != 0 &&
        in_.compare(i, 4, "(?<!") != 0) {
      return 0;
    }
    std::size_t depth = 0;
    for (std::size_t k = i; k < end; ++k) {
      if (in_[k] == '\\') {
        ++k;
      } else if (in_[k] == '[') {
        k = class_end(k, end);
        if (k >= end) {
          return end;
        }
        --k;  // its ']'
      } else if (in_[k] == '(') {
        ++depth;
      } else if (in_[k] == ')' && --depth == 0) {
        return k + 1;
      }
    }
    return end;
  }

  std::size_t group_body(std::size_t i, std::size_t end) const {
    std::size_t k = i + 1;
    if (k >= end || in_[k] != '?') {
      return k;
    }
    ++k;
    if (k < end && in_[k] == 'P') {
      ++k;
    }
    if (k < end && (in_[k] == '<' || in_[k] == '\'')) {  // a name (look-arounds: matches_nothing)
      const std::size_t close = in_.find(in_[k] == '<' ? '>' : '\'', k + 1);
      return close == std::string_view::npos || close >= end ? end : close + 1;
    }
    while (k < end && ((in_[k] >= 'a' && in_[k] <= 'z') || in_[k] == '-')) {
      ++k;  // "(?i:"
    }
    return k < end && (in_[k] == ':' || in_[k] == '=' || in_[k] == '!' || in_[k] == '>') ? k + 1 : k;
  }

  // A repeat ("{4}", "{2,}", "{1,3}" at in_[at]) of the atom whose text starts at out_[atom]: its
  // text as many times as the least count (once for 0 but "{0}", which takes it away), "41{15}",
  // "4111(-1111){3}"; within the reading's bound.
  void repeat(std::size_t atom, std::size_t at) {
    if (atom == std::string::npos || atom > out_.text.size()) {
      return;
    }
    std::size_t k = at + 1;
    std::size_t least = 0;
    while (k < in_.size() && in_[k] >= '0' && in_[k] <= '9' && least < 1000) {
      least = least * 10 + static_cast<std::size_t>(in_[k] - '0');
      ++k;
    }
    if (least == 0 && k < in_.size() && in_[k] == '}') {
      truncate(atom);
      return;
    }
    const std::size_t size = out_.text.size() - atom;
    for (std::size_t n = 1; n < std::min<std::size_t>(least, 256) && out_.text.size() + size <= budget_;
         ++n) {
      for (std::size_t b = atom; b < atom + size; ++b) {
        put(out_.text[b], out_.origin[b]);
      }
    }
  }

  // "{4}", "{2,}", "{1,3}": a repeat's length, or 0 (a literal '{').
  std::size_t repeat_length(std::size_t i, std::size_t end) const {
    std::size_t k = i + 1;
    while (k < end && ((in_[k] >= '0' && in_[k] <= '9') || in_[k] == ',')) {
      ++k;
    }
    return k > i + 1 && k < end && in_[k] == '}' ? k + 1 - i : 0;
  }

  // Where the group or rule that `i` is inside ends: its ')' (not taken), or `end`.
  std::size_t group_end(std::size_t i, std::size_t end) const {
    int depth = 0;
    while (i < end) {
      const char c = in_[i];
      if (c == '\\') {
        i += 2;
        continue;
      }
      if (c == '"' || c == '\'') {
        const std::size_t close = in_.find(c, i + 1);
        i = close == std::string_view::npos || close >= end ? end : close + 1;
        continue;
      }
      if (c == '[') {
        i = class_end(i, end);
        continue;
      }
      if (c == '(') {
        ++depth;
      } else if (c == ')' && depth-- == 0) {
        return i;
      }
      ++i;
    }
    return end;
  }

  // A '|' at in_[i]: the first branch skips the others to the group's end; the last drops what
  // the earlier branches gave (since `start` in out_); a top-level choice of a regular expression
  // reads each branch on a line of its own (`top_is_rule`: a rule's branches, as a group's).
  std::size_t choice(std::size_t i, std::size_t end, std::size_t start, bool top_is_rule) {
    if (start == std::string::npos && !top_is_rule) {
      put('\n', i);
      return i + 1;
    }
    if (which_ == alternative::first) {
      return group_end(i + 1, end);
    }
    truncate(start);
    return i + 1;
  }

  std::size_t class_end(std::size_t i, std::size_t end) const {
    std::size_t k = i + 1;
    if (k < end && in_[k] == '^') {
      ++k;
    }
    if (k < end && in_[k] == ']') {
      ++k;
    }
    while (k < end && in_[k] != ']') {
      k += in_[k] == '\\' ? 2 : 1;
    }
    return k < end ? k + 1 : end;
  }
  // A character class: one of its characters (the first or the last), or nothing for a negated
  // class or one whose pick is a range ("[0-9]") or a class escape ("\d").
  std::size_t char_class(std::size_t i, std::size_t end) {
    const std::size_t close = class_end(i, end);
    std::size_t k = i + 1;
    if (k < close && in_[k] == '^') {
      return close;
    }
    struct member {
      std::size_t at;
      bool plain;  // one character, not a range nor a class escape
    };
    std::vector<member> members;
    const std::size_t last = close > i + 1 && in_[close - 1] == ']' ? close - 1 : close;
    while (k < last) {
      const std::size_t length = in_[k] == '\\' ? 2 : 1;
      const bool range = k + length + 1 < last && in_[k + length] == '-' &&
                         !(length == 1 && in_[k + 2] == in_[k]);  // "[4-4]", "[@-@]": one character
      const bool class_escape = length == 2 && k + 1 < last &&
                                std::string_view("dDwWsShHvVpP").find(in_[k + 1]) != std::string_view::npos;
      members.push_back({k, !range && !class_escape});
      k += length;
      if (range) {
        k += 1 + (in_[k + 1] == '\\' ? 2 : 1);
      } else if (length == 1 && k + 1 < last && in_[k] == '-' && in_[k + 1] == in_[k - 1]) {
        k += 2;  // the rest of a range of one character
      }
    }
    if (members.empty()) {
      return close;
    }
    const member& pick = which_ == alternative::first ? members.front() : members.back();
    if (pick.plain) {
      if (in_[pick.at] == '\\') {
        escape(pick.at, last);
      } else {
        put(in_[pick.at], pick.at);
      }
    }
    return close;
  }

  // A quoted literal at in_[i]: its characters (escapes decoded); where it ends.
  std::size_t literal(std::size_t i, std::size_t end) {
    const char quote = in_[i];
    std::size_t k = i + 1;
    while (k < end && in_[k] != quote) {
      if (in_[k] == '\\') {
        k = escape(k, end);
      } else {
        put(in_[k], k);
        ++k;
      }
    }
    return k < end ? k + 1 : end;
  }

  void find_rules() {
    rules_.clear();
    for (std::size_t line = 0; line < in_.size();) {
      std::size_t next = in_.find('\n', line);
      next = next == std::string_view::npos ? in_.size() : next + 1;
      std::size_t k = line;
      while (k < next && (in_[k] == ' ' || in_[k] == '\t' || in_[k] == '?' || in_[k] == '!')) {
        ++k;
      }
      const std::size_t name = k;
      while (k < next && ident_char(in_[k])) {
        ++k;
      }
      const std::size_t name_end = k;
      while (k < next && (in_[k] == ' ' || in_[k] == '\t')) {
        ++k;
      }
      std::size_t head = 0;
      if (in_.compare(k, 3, "::=") == 0) {
        head = 3;
      } else if (k < next && (in_[k] == ':' || in_[k] == '=') && in_.compare(k, 2, "::") != 0) {
        head = 1;
      }
      if (name_end > name && head != 0) {
        if (!rules_.empty()) {
          rules_.back().end = line;
        }
        rules_.push_back({in_.substr(name, name_end - name), k + head, in_.size()});
      }
      line = next;
    }
    by_name_.resize(rules_.size());
    for (std::size_t r = 0; r < rules_.size(); ++r) {
      by_name_[r] = r;
    }
    std::sort(by_name_.begin(), by_name_.end(),
              [&](std::size_t a, std::size_t b) { return rules_[a].name < rules_[b].name; });
  }
  const rule* find_rule(std::string_view name) const {
    const auto at = std::lower_bound(by_name_.begin(), by_name_.end(), name,
                                     [&](std::size_t r, std::string_view n) { return rules_[r].name < n; });
    return at != by_name_.end() && rules_[*at].name == name ? &rules_[*at] : nullptr;
  }

  // A rule's body in in_[i, end), the rules it names inlined up to eight deep (and within the
  // reading's bound).
  void body(std::size_t i, std::size_t end, int depth) {
    const std::size_t start = out_.text.size();
    std::vector<std::size_t> groups;
    std::size_t atom = std::string::npos;  // where the text of the last atom starts (for a repeat)
    while (i < end) {
      const char c = in_[i];
      const std::size_t before = out_.text.size();
      if (c == '"' || c == '\'') {
        i = literal(i, end);
        // Lark's range of characters ("4".."4"): one character when both ends are the same, else none.
        if (in_.compare(i, 2, "..") == 0 && i + 2 < end && (in_[i + 2] == '"' || in_[i + 2] == '\'')) {
          const std::size_t first = out_.text.size();
          i = literal(i + 2, end);
          const bool same =
              first - before == 1 && out_.text.size() - first == 1 && out_.text[before] == out_.text[first];
          truncate(same ? first : before);
        }
        atom = before;
        continue;
      }
      if (c == '~' || (c == '{' && repeat_length(i, end) != 0)) {  // Lark's "1"~15, GBNF's "1"{15}
        std::size_t k = i + 1;
        while (k < end && (in_[k] == ' ' || in_[k] == '\t')) {
          ++k;
        }
        if (c == '~') {
          repeat(atom, k - 1);  // the count after '~' read as after a '{'
          while (k < end && ((in_[k] >= '0' && in_[k] <= '9') || in_[k] == '.')) {
            ++k;
          }
          i = k;
        } else {
          repeat(atom, i);
          i += repeat_length(i, end);
        }
        atom = std::string::npos;
        continue;
      }
      if (c == ')' && !groups.empty()) {
        atom = groups.back();
        groups.pop_back();
        ++i;
        continue;
      }
      atom = std::string::npos;
      if (c == '/' && i + 1 < end && in_[i + 1] != '/') {  // Lark's /regex/
        std::size_t close = i + 1;
        while (close < end && in_[close] != '/' && in_[close] != '\n') {
          close += in_[close] == '\\' ? 2 : 1;
        }
        regex(i + 1, std::min(close, end));
        i = close + 1;
        while (i < end && in_[i] >= 'a' && in_[i] <= 'z') {
          ++i;  // flags
        }
        atom = before;
      } else if (c == '[') {
        i = char_class(i, end);
        atom = before;
      } else if (c == '(') {
        groups.push_back(out_.text.size());
        ++i;
      } else if (c == ')') {
        ++i;  // one that opened none
      } else if (c == '|') {
        i = choice(i, end, groups.empty() ? start : groups.back(), true);
      } else if (c == '#') {
        const std::size_t eol = in_.find('\n', i);
        i = eol == std::string_view::npos || eol >= end ? end : eol;
      } else if (ident_char(c)) {
        std::size_t k = i;
        while (k < end && ident_char(in_[k])) {
          ++k;
        }
        const rule* r = find_rule(in_.substr(i, k - i));
        if (r != nullptr && depth < 8 && out_.text.size() < budget_ &&
            inlined_ + (r->end - r->begin) <= budget_) {
          inlined_ += r->end - r->begin;
          body(r->begin, r->end, depth + 1);
          atom = before;
        }
        i = k;
      } else {
        ++i;  // blanks, line breaks, quantifiers, ';', '.'
      }
    }
  }

  std::string_view in_;
  alternative which_;
  unescaped_text& out_;
  std::size_t budget_;
  std::size_t inlined_ = 0;  // the bytes of the rules inlined so far: bounded as the text is
  std::vector<rule> rules_;
  std::vector<std::size_t> by_name_;  // rules_ by name
};

}  // namespace

bool pattern_text(std::string_view pattern, alternative which, unescaped_text& out) {
  reader r(pattern, which, out);
  if (pattern.find('"') != std::string_view::npos || pattern.find("::=") != std::string_view::npos) {
    r.grammar();
  } else {
    r.regex(0, pattern.size());
  }
  out.origin.push_back(static_cast<std::uint32_t>(pattern.size()));
  return r.changed();
}

}  // namespace sovgw::classify
