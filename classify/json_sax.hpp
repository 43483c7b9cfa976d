#pragma once

// What the JSON body's SAX handlers (json_body.cpp, json_redact.cpp) share. Internal to classify/.
#include <algorithm>
#include <charconv>
#include <cstddef>
#include <string_view>

namespace sovgw::classify::detail {

// Boost.JSON's per-handler limits: none (the gateway's limits.max_body_bytes bounds the body).
struct no_size_limits {
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);
};

// A number reaches a model as its server prints it, not as written: a server that parses it as a
// float64 prints the nearest double in the shortest digits that read back to it. Python's
// repr(4.111111111111111e15) and repr(4111111111111110.75) are 4111111111111111.0; Go's
// encoding/json (Ollama) and JavaScript print 4.111111111111117e18 and the integer
// 4111111111111117001 (past 2^53) as 4111111111111117000, positional below 1e21. The detectors
// read that reading too: those digits in positional form (Python's add ".0", which reads alike),
// written into `out` (64 bytes) after an '=', is its length, or 0 when the number prints as
// written (trailing zeros of a fraction aside) or the form is too short to hold an identifier
// (under 7 characters) or too long (over 40: digits then run on into zeros, no identifier).
// Without an exponent only a number of more than 15 significant digits can print otherwise (a
// double holds any 15), so most numbers (token ids, tensors) cost a length check.
// The text the inspector keeps for a number and the redactor's count of it both add these bytes.
// The value is read from `written` exactly (as Python does; Boost.JSON's own reading of a
// double may be off in its last digit). std::to_chars's fixed form is not a server's: it prints
// a large double's exact value (4111111111111116800), so the digits come from the shortest
// scientific form.
inline std::size_t number_as_read(std::string_view written, char (&out)[64]) {
  constexpr std::size_t npos = std::string_view::npos;
  // any_of, not find_first_of (a memchr per character): every number in the body passes here.
  const bool exponent =
      std::any_of(written.begin(), written.end(), [](char c) { return c == 'e' || c == 'E'; });
  if (!exponent) {
    const std::size_t first = written.find_first_not_of("-0.");
    const std::size_t last = written.find_last_not_of("0.");
    if (written.size() < 16 || first == npos || last == npos || last < first ||
        last - first + 1 - (written.substr(first, last - first + 1).find('.') != npos ? 1 : 0) <= 15) {
      return 0;
    }
  }
  double value = 0;
  const auto [read_end, read_ec] = std::from_chars(written.data(), written.data() + written.size(), value);
  if (read_ec != std::errc() || read_end != written.data() + written.size()) {
    return 0;  // out of a double's range (a server refuses it or reads infinity), or no number
  }
  char sci[32];  // "-d.dddddddddddddddde-308"
  const auto [sci_end, sci_ec] = std::to_chars(sci, sci + sizeof sci, value, std::chars_format::scientific);
  if (sci_ec != std::errc()) {
    return 0;
  }
  const std::string_view s(sci, static_cast<std::size_t>(sci_end - sci));
  const std::size_t e = s.find('e');
  int exp = 0;
  std::from_chars(s.data() + e + (s[e + 1] == '+' ? 2 : 1), s.data() + s.size(), exp);
  char digits[20];
  std::size_t count = 0;
  for (const char c : s.substr(0, e)) {
    if (c >= '0' && c <= '9') {
      digits[count++] = c;
    }
  }
  const bool negative = s[0] == '-';
  const long point = exp + 1L;  // digits before the point; none or fewer than none when below 1
  const std::size_t length =
      (negative ? 1 : 0) + (point <= 0                          ? 2 + static_cast<std::size_t>(-point) + count
                            : point >= static_cast<long>(count) ? static_cast<std::size_t>(point)
                                                                : count + 1);
  if (length < 7 || length > 40) {
    return 0;
  }
  char* o = out;
  *o++ = '=';  // no detector's separator: the reading is a word of its own
  if (negative) {
    *o++ = '-';
  }
  for (long k = point; k < 1; ++k) {
    *o++ = '0';
    if (k == point) {
      *o++ = '.';
    }
  }
  for (std::size_t k = 0; k < count || static_cast<long>(k) < point; ++k) {
    if (static_cast<long>(k) == point && point > 0) {
      *o++ = '.';
    }
    *o++ = k < count ? digits[k] : '0';
  }
  const std::string_view printed(out + 1, static_cast<std::size_t>(o - out - 1));
  if (!exponent) {
    std::string_view same = written;
    if (same.find('.') != npos) {
      same.remove_suffix(same.size() - 1 - same.find_last_not_of('0'));
      same.remove_suffix(same.ends_with('.') ? 1 : 0);
    }
    if (printed == same) {
      return 0;
    }
  }
  return length + 1;
}

}  // namespace sovgw::classify::detail
