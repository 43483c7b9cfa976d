#include "policy/config_values.hpp"

#include <fmt/format.h>

#include <charconv>

namespace sovgw::policy {
namespace {

// A decimal number written with a leading zero ("010", "048300"): YAML 1.1 readers (PyYAML,
// Ansible, many generators) take it for octal, so the file means another number to them.
bool leading_zero(std::string_view text) noexcept {
  return text.size() > 1 && text[0] == '0' && text[1] >= '0' && text[1] <= '9';
}

// " (...)" saying why a number with a leading zero is refused, or "".
std::string leading_zero_hint(std::string_view text) {
  return leading_zero(text) ? " (no leading zero: YAML 1.1 tools read 010 as the octal 8)" : "";
}

// A number followed by a unit; nullopt when the number is missing or malformed.
std::optional<std::pair<std::uint64_t, std::string_view>> number_and_unit(std::string_view text) noexcept {
  if (leading_zero(text)) {
    return std::nullopt;
  }
  std::uint64_t v = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p == text.data()) {
    return std::nullopt;
  }
  return std::pair{v, std::string_view(p, static_cast<std::size_t>(text.data() + text.size() - p))};
}

}  // namespace

std::optional<bool> parse_bool(std::string_view text) noexcept {
  if (text == "true") {
    return true;
  }
  if (text == "false") {
    return false;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> parse_whole_number(std::string_view text) noexcept {
  const auto n = number_and_unit(text);
  if (!n || !n->second.empty()) {
    return std::nullopt;
  }
  return n->first;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) noexcept {
  const auto n = number_and_unit(text);
  if (!n) {
    return std::nullopt;
  }
  const auto [v, unit] = *n;
  const std::uint64_t factor = unit == "ms"  ? 1
                               : unit == "s" ? 1000
                               : unit == "m" ? 60000
                               : unit == "h" ? 3600000
                                             : 0;
  // Ten years at most: a deadline is the steady clock's now plus the duration in nanoseconds,
  // which overflows past 292 years (probe round 29: "3000000h" to mean "never" timed every
  // request out at once, and a dns_refresh that large re-resolved in a busy loop).
  constexpr std::uint64_t max_ms = std::uint64_t{87600} * 3600000;
  if (factor == 0 || v == 0 || v > max_ms / factor) {
    return std::nullopt;
  }
  return std::chrono::milliseconds(v * factor);
}

std::optional<std::uint64_t> parse_size(std::string_view text) noexcept {
  const auto n = number_and_unit(text);
  if (!n) {
    return std::nullopt;
  }
  const auto [v, unit] = *n;
  const std::uint64_t factor = unit.empty()    ? 1
                               : unit == "KiB" ? 1024
                               : unit == "MiB" ? 1024 * 1024
                               : unit == "GiB" ? 1024ull * 1024 * 1024
                                               : 0;
  if (factor == 0 || v == 0 || v > (1ull << 40) / factor) {
    return std::nullopt;
  }
  return v * factor;
}

std::string bool_error(std::string_view what, std::string_view text) {
  return fmt::format("{} must be true or false, not '{}'", what, text);
}

std::string whole_number_error(std::string_view what, std::string_view text) {
  return fmt::format("{} must be a whole number, not '{}'{}", what, text, leading_zero_hint(text));
}

std::string quoted_number_error(std::string_view what, std::string_view text) {
  return fmt::format("{} must be a whole number, not the string \"{}\" (remove the quotes)", what, text);
}

std::string range_error(std::string_view what, std::uint64_t min, std::uint64_t max, std::uint64_t value) {
  return fmt::format("{} must be between {} and {}, not {}", what, min, max, value);
}

std::string integer_error(std::string_view what, std::string_view text, std::uint64_t min,
                          std::uint64_t max) {
  if (text.size() > 1 && text[0] == '-' && parse_whole_number(text.substr(1))) {
    return fmt::format("{} must be between {} and {}, not {}", what, min, max, text);
  }
  return whole_number_error(what, text);
}

std::string quoted_bool_error(std::string_view what, std::string_view text) {
  return fmt::format("{} must be true or false, not the string \"{}\" (remove the quotes)", what, text);
}

std::string duration_error(std::string_view what, std::string_view text) {
  return fmt::format(
      "{} must be a positive duration like 500ms, 10s, 5m or 1h, at most 87600h (ten years), "
      "not '{}'{}",
      what, text, leading_zero_hint(text));
}

std::string size_error(std::string_view what, std::string_view text) {
  return fmt::format("{} must be a positive size like 8192, 64KiB or 10MiB, not '{}'{}", what, text,
                     leading_zero_hint(text));
}

}  // namespace sovgw::policy
