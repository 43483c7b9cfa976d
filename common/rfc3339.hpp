#pragma once

// RFC 3339 timestamps as people type them on a command line: pure, no locale, no time zone
// database. One parser for every CLI option that takes a time (audit query/report --since and
// --until, tenants key create --expires), and the one formatter of the audit log's times.

#include <fmt/format.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sovgw {
namespace rfc3339_detail {

// Exactly `n` ASCII digits at `pos`.
[[nodiscard]] constexpr bool digits(std::string_view text, std::size_t pos, std::size_t n, unsigned& out) {
  if (pos + n > text.size()) {
    return false;
  }
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (text[i] < '0' || text[i] > '9') {
      return false;
    }
    out = out * 10 + static_cast<unsigned>(text[i] - '0');
  }
  return true;
}

[[nodiscard]] constexpr bool at(std::string_view text, std::size_t pos, char c) {
  return pos < text.size() && text[pos] == c;
}

inline constexpr std::int64_t us_per_second = 1000000;

// The first 10 characters as a full-date, in days since 1970-01-01; nullopt for an impossible
// date (2026-02-30: timegm would roll it over into March).
[[nodiscard]] inline std::optional<std::int64_t> days(std::string_view text) {
  unsigned y = 0, mo = 0, d = 0;
  if (!digits(text, 0, 4, y) || !at(text, 4, '-') || !digits(text, 5, 2, mo) || !at(text, 7, '-') ||
      !digits(text, 8, 2, d)) {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{std::chrono::year(static_cast<int>(y)), std::chrono::month(mo),
                                         std::chrono::day(d)};
  if (!date.ok()) {
    return std::nullopt;
  }
  return std::chrono::sys_days(date).time_since_epoch().count();
}

}  // namespace rfc3339_detail

// "2026-11-27" (an RFC 3339 full-date): its midnight UTC, in Unix microseconds. nullopt for
// anything else, an impossible date (2026-02-30) or a date before 1970.
[[nodiscard]] inline std::optional<std::int64_t> parse_rfc3339_date_us(std::string_view text) {
  const auto days = rfc3339_detail::days(text);
  if (text.size() != 10 || !days || *days < 0) {
    return std::nullopt;
  }
  return *days * 86400 * rfc3339_detail::us_per_second;
}

// An RFC 3339 date-time (section 5.6), converted to UTC, in Unix microseconds:
// "2026-11-27T10:00:00Z", "2026-11-27T11:00:00+01:00", "2026-11-27T10:00:00.25-05:30". `T` and `Z`
// in either case; a fraction of any length (microseconds kept, the rest dropped, or with `round_up`
// rounded up to the next microsecond when not zero: a bound of a period then takes in exactly the
// microsecond records at or after that instant); second 60 reads as the next second, but only where
// a leap second can be inserted: 23:59:60 UTC on June 30 or December 31.
// nullopt for anything else: no offset, an impossible date or time (2026-02-30, 24:00:00, second 60
// of any other minute, an offset of 24 hours or more), a time before 1970-01-01T00:00:00Z.
[[nodiscard]] inline std::optional<std::int64_t> parse_rfc3339_us(std::string_view text,
                                                                  bool round_up = false);

namespace rfc3339_detail {

// parse_rfc3339_us, `before_epoch` set for a well-formed time it refuses only for being before 1970.
[[nodiscard]] inline std::optional<std::int64_t> parse_us(std::string_view text, bool round_up,
                                                          bool* before_epoch) {
  unsigned h = 0, mi = 0, s = 0;
  const auto date = days(text);
  if (!date || !(at(text, 10, 'T') || at(text, 10, 't')) || !digits(text, 11, 2, h) || !at(text, 13, ':') ||
      !digits(text, 14, 2, mi) || !at(text, 16, ':') || !digits(text, 17, 2, s) || h > 23 || mi > 59 ||
      s > 60) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  std::int64_t frac_us = 0;
  bool below_us = false;  // a non-zero digit after the sixth
  if (at(text, pos, '.')) {
    const std::size_t first = ++pos;
    unsigned digit = 0;
    for (; pos < text.size() && digits(text, pos, 1, digit); ++pos) {
      if (pos - first < 6) {
        frac_us = frac_us * 10 + digit;
      } else if (digit != 0 && round_up) {
        below_us = true;
      }
    }
    if (pos == first) {
      return std::nullopt;
    }
    for (std::size_t n = pos - first; n < 6; ++n) {
      frac_us *= 10;
    }
  }
  std::int64_t offset_s = 0;
  const std::string_view zone = text.substr(pos);
  if (zone != "Z" && zone != "z") {
    unsigned oh = 0, om = 0;
    if (zone.size() != 6 || (zone[0] != '+' && zone[0] != '-') || !digits(zone, 1, 2, oh) ||
        !at(zone, 3, ':') || !digits(zone, 4, 2, om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_s = (zone[0] == '+' ? 1 : -1) * static_cast<std::int64_t>(oh * 3600 + om * 60);
  }
  const std::int64_t seconds = ((*date * 24 + h) * 60 + mi) * 60 + s - offset_s;
  if (seconds < 0) {
    if (before_epoch != nullptr) {
      *before_epoch = true;
    }
    return std::nullopt;
  }
  if (s == 60) {
    const std::int64_t before = seconds - 1;  // 23:59:59 UTC of the day that may end in a leap second
    const std::chrono::year_month_day utc{std::chrono::sys_days(std::chrono::days(before / 86400))};
    const bool month_end = (utc.month() == std::chrono::June && utc.day() == std::chrono::day(30)) ||
                           (utc.month() == std::chrono::December && utc.day() == std::chrono::day(31));
    if (before % 86400 != 86399 || !month_end) {
      return std::nullopt;
    }
  }
  return seconds * us_per_second + frac_us + (below_us ? 1 : 0);
}

}  // namespace rfc3339_detail

inline std::optional<std::int64_t> parse_rfc3339_us(std::string_view text, bool round_up) {
  return rfc3339_detail::parse_us(text, round_up, nullptr);
}

// Whether `text` is a well-formed RFC 3339 date-time or full-date that parse_rfc3339_us and
// parse_rfc3339_date_us refuse only because it is before 1970-01-01T00:00:00Z (1969-12-31,
// 0001-01-01, 1970-01-01T00:30:00+01:00): an error can say that rather than "cannot read".
[[nodiscard]] inline bool rfc3339_before_epoch(std::string_view text) {
  if (text.size() == 10) {
    const auto days = rfc3339_detail::days(text);
    return days && *days < 0;
  }
  bool before = false;
  (void)rfc3339_detail::parse_us(text, false, &before);
  return before;
}

// Unix microseconds as an RFC 3339 UTC date-time, "2026-11-27T10:00:00.250000Z" (six fraction
// digits), or to the second ("2026-11-27T10:00:00Z") when `fraction` is false. nullopt from
// 10000-01-01T00:00:00Z on: RFC 3339 years have four digits, so no text would be a valid time.
[[nodiscard]] inline std::optional<std::string> format_rfc3339_us(std::uint64_t us, bool fraction = true) {
  constexpr std::uint64_t year_10000_s = 253'402'300'800;
  const std::uint64_t s = us / 1'000'000;
  if (s >= year_10000_s) {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{std::chrono::sys_days(std::chrono::days(s / 86400))};
  const std::uint64_t in_day = s % 86400;
  std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", static_cast<int>(date.year()),
                                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                                in_day / 3600, in_day / 60 % 60, in_day % 60);
  if (fraction) {
    out += fmt::format(".{:06}", us % 1'000'000);
  }
  return out + "Z";
}

}  // namespace sovgw
