#include "gateway/secret_mask.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include "crypto/base64.hpp"

namespace sovgw::gateway {

namespace {

constexpr std::size_t npos = std::string_view::npos;

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowered(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    c = lower(c);
  }
  return out;
}

int hex_digit(char c) {
  return c >= '0' && c <= '9'   ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                : -1;
}

// HTML's named character references of ASCII characters (HTML5's list).
constexpr std::pair<std::string_view, char> named_references[] = {
    {"&amp;", '&'},    {"&lt;", '<'},     {"&gt;", '>'},     {"&quot;", '"'},   {"&apos;", '\''},
    {"&plus;", '+'},   {"&sol;", '/'},    {"&equals;", '='}, {"&colon;", ':'},  {"&period;", '.'},
    {"&lowbar;", '_'}, {"&hyphen;", '-'}, {"&num;", '#'},    {"&excl;", '!'},   {"&percnt;", '%'},
    {"&commat;", '@'}, {"&dollar;", '$'}, {"&ast;", '*'},    {"&comma;", ','},  {"&semi;", ';'},
    {"&quest;", '?'},  {"&Hat;", '^'},    {"&grave;", '`'},  {"&verbar;", '|'}, {"&lpar;", '('},
    {"&rpar;", ')'},   {"&lsqb;", '['},   {"&rsqb;", ']'},   {"&lcub;", '{'},   {"&rcub;", '}'},
    {"&bsol;", '\\'},
};

// Digits of `base` in `t` from `at`: between `min` and `max` of them, then `end` (none: '\0').
// Returns the length up to and with `end`, 0 when they are not there; `partial` when `t` ends
// before they could be.
std::size_t number(std::string_view t, std::size_t at, int base, std::size_t min, std::size_t max, char end,
                   unsigned& value, bool& partial) {
  value = 0;
  std::size_t n = 0;
  for (; at + n < t.size() && n < max; ++n) {
    const int d = hex_digit(t[at + n]);
    if (d < 0 || d >= base) {
      break;
    }
    value = value * static_cast<unsigned>(base) + static_cast<unsigned>(d);
  }
  if (end == '\0') {  // exactly `max` digits (min == max)
    partial = partial || (n < max && at + n == t.size());
    return n == max ? at + n : 0;
  }
  if (at + n == t.size()) {  // more digits, or `end`, may come
    partial = true;
    return 0;
  }
  if (n < min) {
    return 0;
  }
  return t[at + n] == end ? at + n + 1 : 0;
}

// An escape at the start of `t`, as encoders write one character: JSON's \uXXXX, \/, \", \\;
// percent-encoding %XX; HTML's &#NN;, &#xHH; and named references. Returns its length and sets `c`
// when it is a whole one of an ASCII character; 0 otherwise, with `partial` when `t` ends inside
// what may still become one.
std::size_t escape(std::string_view t, char& c, bool& partial) {
  unsigned value = 0;
  std::size_t n = 0;
  switch (t[0]) {
    case '\\':
      if (t.size() < 2) {
        partial = true;
        return 0;
      }
      if (t[1] == '/' || t[1] == '"' || t[1] == '\\') {
        c = t[1];
        return 2;
      }
      n = t[1] == 'u' ? number(t, 2, 16, 4, 4, '\0', value, partial) : 0;
      break;
    case '%':
      n = number(t, 1, 16, 2, 2, '\0', value, partial);
      break;
    case '&':
      if (t.size() >= 3 && t[1] == '#' && (t[2] == 'x' || t[2] == 'X')) {
        n = number(t, 3, 16, 1, 6, ';', value, partial);
      } else if (t.size() >= 2 && t[1] == '#') {
        n = number(t, 2, 10, 1, 7, ';', value, partial);
      } else if (t.size() < 2) {
        partial = true;
      } else {
        for (const auto& [name, ch] : named_references) {
          if (t.starts_with(name)) {
            c = ch;
            return name.size();
          }
          partial = partial || (t.size() < name.size() && name.starts_with(t));
        }
      }
      break;
    default:
      return 0;
  }
  if (n == 0 || value >= 0x80) {
    return 0;
  }
  c = static_cast<char>(value);
  return n;
}

// Where the next byte that may begin an escape is in `text`, from `from` on (npos: none).
std::size_t next_escape(std::string_view text, std::size_t from) {
  std::size_t best = npos;
  for (const char c : {'\\', '%', '&'}) {
    if (from >= text.size()) {
      break;
    }
    const void* p = std::memchr(text.data() + from, c, std::min(best, text.size()) - from);
    if (p != nullptr) {
      best = static_cast<std::size_t>(static_cast<const char*>(p) - text.data());
    }
  }
  return best;
}

// `text` with the escapes of characters a form holds decoded. `at[i]`: where chars[i] begins in
// `text`, `at[chars.size()]` where the decoded part ends. `partial`: where an escape begins that
// `text` ends inside (npos: none); the decoded part stops there.
struct decoded_text {
  bool any = false;  // an escape was decoded: otherwise `chars` is empty and the text is as written
  std::string chars;
  std::vector<std::uint32_t> at;
  std::size_t partial = npos;
};

void decode(std::string_view text, const std::array<bool, 256>& wanted, decoded_text& out) {
  std::size_t copied = 0;  // text[0, copied) is in out.chars (once out.any)
  for (std::size_t e = next_escape(text, 0); e != npos; e = next_escape(text, e + 1)) {
    char c = 0;
    bool partial = false;
    const std::size_t n = escape(text.substr(e), c, partial);
    if (partial && e + 10 >= text.size()) {
      out.partial = e;
      break;
    }
    if (n == 0 || !wanted[static_cast<unsigned char>(c)]) {
      continue;
    }
    if (!out.any) {
      out.any = true;
      out.chars.reserve(text.size());
      out.at.reserve(text.size() + 1);
    }
    for (; copied < e; ++copied) {
      out.chars += text[copied];
      out.at.push_back(static_cast<std::uint32_t>(copied));
    }
    out.chars += c;
    out.at.push_back(static_cast<std::uint32_t>(e));
    copied = e + n;
    e += n - 1;
  }
  if (!out.any) {
    return;
  }
  const std::size_t end = std::min(out.partial, text.size());
  for (; copied < end; ++copied) {
    out.chars += text[copied];
    out.at.push_back(static_cast<std::uint32_t>(copied));
  }
  out.at.push_back(static_cast<std::uint32_t>(end));
}

// The part of the base64 text of some bytes holding `secret` at byte offset `shift` (mod 3) of its
// group that depends on the secret alone: the characters carrying bits of the bytes around it are
// left out.
std::string base64_core(std::string_view secret, std::size_t shift) {
  std::vector<std::uint8_t> bytes(shift, 0);
  bytes.insert(bytes.end(), secret.begin(), secret.end());
  const std::string encoded = crypto::to_base64(std::span<const std::uint8_t>(bytes));
  constexpr std::size_t lead[] = {0, 2, 3};  // characters holding bits of the bytes before it
  const std::size_t n = bytes.size();
  const std::size_t known = 4 * (n / 3) + n % 3;  // the last character of a partial group: not known
  return encoded.substr(lead[shift], known - lead[shift]);
}

}  // namespace

secret_forms::secret_forms(std::string_view value) {
  // The value as sent, each word of it (an `Authorization: Basic …` or `Bearer …` value's token: an
  // echo quotes the token alone), and what a base64 word spells (Basic's `user:password`, and each
  // side of it; probe round 47).
  add_secret(value);
  for (std::size_t at = 0; at < value.size();) {
    const std::size_t space = std::min(value.find(' ', at), value.size());
    const std::string_view word = value.substr(at, space - at);
    at = space + 1;
    if (word.size() == value.size()) {
      break;
    }
    add_secret(word);
    const std::optional<std::vector<std::uint8_t>> decoded = crypto::from_base64(word);
    if (!decoded || decoded->empty() || !std::all_of(decoded->begin(), decoded->end(), [](std::uint8_t c) {
          return c >= 0x20 && c < 0x7f;
        })) {
      continue;
    }
    const std::string text(decoded->begin(), decoded->end());
    add_secret(text);
    if (const std::size_t colon = text.find(':'); colon != std::string::npos) {
      add_secret(std::string_view(text).substr(0, colon));
      add_secret(std::string_view(text).substr(colon + 1));
    }
  }
}

void secret_forms::add_secret(std::string_view secret) {
  if (secret.size() < 8) {
    return;
  }
  add(std::string(secret), true);
  for (std::size_t shift = 0; shift < 3; ++shift) {
    std::string core = base64_core(secret, shift);
    std::string url = core;
    std::replace(url.begin(), url.end(), '+', '-');
    std::replace(url.begin(), url.end(), '/', '_');
    add(std::move(core), false);
    add(std::move(url), false);
  }
}

void secret_forms::add(std::string text, bool any_case) {
  if (text.size() < 8) {
    return;
  }
  form f;
  f.any_case = any_case;
  f.pattern = any_case ? lowered(text) : std::move(text);
  if (std::any_of(forms_.begin(), forms_.end(),
                  [&](const form& g) { return g.pattern == f.pattern && g.any_case == f.any_case; })) {
    return;
  }
  const std::size_t m = f.pattern.size();
  f.skip.fill(static_cast<std::uint8_t>(std::min<std::size_t>(m, 255)));
  for (std::size_t i = 0; i + 1 < m; ++i) {
    const char c = f.pattern[i];
    for (const char v : {c, any_case && c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c}) {
      f.skip[static_cast<unsigned char>(v)] =
          static_cast<std::uint8_t>(std::min<std::size_t>(m - 1 - i, 255));
    }
  }
  for (const char c : f.pattern) {
    wanted_[static_cast<unsigned char>(c)] = true;
    if (any_case && c >= 'a' && c <= 'z') {
      wanted_[static_cast<unsigned char>(c - 'a' + 'A')] = true;
    }
  }
  longest_ = std::max(longest_, m);
  first_[static_cast<unsigned char>(lower(f.pattern[0]))] = true;  // looked up in the lower-cased text
  forms_.push_back(std::move(f));
}

namespace {

// Horspool's search for `pattern` in `hay` from `from` (any case: `hay` is lower-cased, so is the
// pattern).
std::size_t search(std::string_view hay, std::string_view pattern, const std::array<std::uint8_t, 256>& skip,
                   std::size_t from) {
  const std::size_t m = pattern.size();
  const auto last = static_cast<unsigned char>(pattern[m - 1]);
  for (std::size_t i = from; i + m <= hay.size();) {
    const auto c = static_cast<unsigned char>(hay[i + m - 1]);
    if (c == last && std::memcmp(hay.data() + i, pattern.data(), m - 1) == 0) {
      return i;
    }
    i += skip[c];
  }
  return npos;
}

}  // namespace

template <typename hit_fn>
std::size_t secret_forms::scan(std::string_view text, bool whole, hit_fn&& hit) const {
  // As written (a form may hold what reads as an escape), then with the escapes decoded.
  thread_local std::string low;  // one allocation per thread, not per read
  low.assign(text);
  for (char& c : low) {
    c = lower(c);
  }
  const auto each = [&](std::string_view as_is, std::string_view lower_case, auto&& place) {
    for (const form& f : forms_) {
      const std::string_view hay = f.any_case ? lower_case : as_is;
      const std::size_t m = f.pattern.size();
      for (std::size_t i = search(hay, f.pattern, f.skip, 0); i != npos;
           i = search(hay, f.pattern, f.skip, i + m)) {
        place(i, i + m);
      }
    }
  };
  each(text, low, hit);
  decoded_text d;
  decode(text, wanted_, d);
  std::string decoded_low;
  if (d.any) {
    decoded_low = lowered(d.chars);
    each(d.chars, decoded_low, [&](std::size_t b, std::size_t e) { hit(d.at[b], d.at[e]); });
  }
  if (whole) {
    return 0;
  }
  // What may begin a form once more bytes come: an escape the text ends inside (it may spell the
  // form's next character), after the longest tail that begins a form.
  const std::string_view chars = d.any ? std::string_view(decoded_low) : std::string_view(low);
  const std::size_t end = d.any ? chars.size() : std::min(d.partial, text.size());
  const auto where = [&](std::size_t i) { return d.any ? static_cast<std::size_t>(d.at[i]) : i; };
  std::size_t from = std::min(d.partial, text.size());
  for (std::size_t k = std::min(longest_ - 1, end); k > 0; --k) {
    if (!first_[static_cast<unsigned char>(chars[end - k])]) {
      continue;
    }
    const std::string_view tail = chars.substr(end - k, k);
    if (std::any_of(forms_.begin(), forms_.end(), [&](const form& f) {
          if (f.pattern.size() <= k) {
            return false;
          }
          const std::string_view begin = std::string_view(f.pattern).substr(0, k);
          if (f.any_case) {
            return tail == begin;
          }
          const std::string_view as_is = d.any ? std::string_view(d.chars) : text;
          return as_is.substr(end - k, k) == begin;
        })) {
      from = where(end - k);
      break;
    }
  }
  return text.size() - from;
}

bool secret_forms::found_in(std::string_view text) const {
  bool found = false;
  (void)scan(text, true, [&](std::size_t, std::size_t) { found = true; });
  return found;
}

void secret_mask::feed(std::string_view data, std::string& out) {
  if (!active()) {
    out += data;
    return;
  }
  work_.assign(held_).append(data);
  held_.clear();
  const std::size_t hold = forms_->scan(work_, false, [&](std::size_t b, std::size_t e) {
    std::fill(work_.begin() + static_cast<std::ptrdiff_t>(b), work_.begin() + static_cast<std::ptrdiff_t>(e),
              '*');
  });
  out.append(work_, 0, work_.size() - hold);
  held_.assign(work_, work_.size() - hold, hold);
}

void secret_mask::finish(std::string& out) {
  out += held_;
  held_.clear();
}

}  // namespace sovgw::gateway
