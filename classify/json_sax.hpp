#pragma once

// What the JSON body's SAX handlers (json_body.cpp, json_redact.cpp) share. Internal to classify/.
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

// A number written with an exponent reaches a model as its server prints it, not as written: a
// Python server parses 4.111111111111111e15 to a float and its chat template prints
// 4111111111111111.0 (JavaScript prints 4111111111111111). The detectors read that reading too:
// the value's shortest fixed-point form, written into `out` (64 bytes) after an '=', is its
// length, or 0 when the number has no exponent or the form is too short to hold an identifier
// (under 7 characters) or too long (over 40: digits then run on into zeros, no identifier).
// The text the inspector keeps for a number and the redactor's count of it both add these bytes.
// The value is read from `written` exactly (as Python does; Boost.JSON's own reading of a
// double may be off in its last digit).
inline std::size_t number_as_read(std::string_view written, char (&out)[64]) {
  if (written.find_first_of("eE") == std::string_view::npos) {
    return 0;
  }
  double value = 0;
  if (std::from_chars(written.data(), written.data() + written.size(), value).ec != std::errc()) {
    return 0;  // out of a double's range: a server refuses it or reads infinity
  }
  out[0] = '=';  // no detector's separator: the reading is a word of its own
  const auto [end, ec] = std::to_chars(out + 1, out + sizeof out, value, std::chars_format::fixed);
  const auto n = static_cast<std::size_t>(end - out);
  return ec != std::errc() || n < 8 || n > 41 ? 0 : n;
}

}  // namespace sovgw::classify::detail
