#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

// The scalar values of the gateway's config files, one reading for every section (the gateway's
// own keys and the shared `clusters:` schema), with the error texts that name what was expected.
// Pure functions.
namespace sovgw::policy {

// "true" or "false".
[[nodiscard]] std::optional<bool> parse_bool(std::string_view text) noexcept;
// Decimal digits only, up to 2^64 - 1.
[[nodiscard]] std::optional<std::uint64_t> parse_whole_number(std::string_view text) noexcept;
// A positive duration: "250ms", "10s", "5m", "1h"; at most 87600h (ten years).
[[nodiscard]] std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) noexcept;
// A positive size: "512", "64KiB", "10MiB", "1GiB" (at most 1 TiB).
[[nodiscard]] std::optional<std::uint64_t> parse_size(std::string_view text) noexcept;

[[nodiscard]] std::string bool_error(std::string_view what, std::string_view text);
[[nodiscard]] std::string whole_number_error(std::string_view what, std::string_view text);
// A number written in quotes: a string in YAML, named as the mistake it is.
[[nodiscard]] std::string quoted_number_error(std::string_view what, std::string_view text);
[[nodiscard]] std::string range_error(std::string_view what, std::uint64_t min, std::uint64_t max,
                                      std::uint64_t value);
// What is wrong with `text` for a whole number from min to max that parse_whole_number refused:
// a negative number is out of the range (range_error's words), anything else not a number.
[[nodiscard]] std::string integer_error(std::string_view what, std::string_view text, std::uint64_t min,
                                        std::uint64_t max);
// A boolean written in quotes ("true"): a string in YAML, named as the mistake it is.
[[nodiscard]] std::string quoted_bool_error(std::string_view what, std::string_view text);
[[nodiscard]] std::string duration_error(std::string_view what, std::string_view text);
[[nodiscard]] std::string size_error(std::string_view what, std::string_view text);

}  // namespace sovgw::policy
