// common/rfc3339.hpp: the time parser of every CLI option that takes a time (audit query and
// report, tenants key create), as a table.
#include "common/rfc3339.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <string_view>

namespace {

constexpr std::int64_t s = 1000000;
constexpr std::int64_t t0 = 1796409918;  // 2026-12-04T18:45:18Z

struct row {
  std::string_view text;
  std::optional<std::int64_t> us;
};

}  // namespace

TEST_CASE("RFC 3339 date-times are read as UTC microseconds, offsets applied") {
  const row rows[] = {
      {"2026-12-04T18:45:18Z", t0 * s},
      {"2026-12-04T19:45:18+01:00", t0 * s},
      {"2026-12-04T13:15:18-05:30", t0 * s},
      {"2026-12-05T08:45:18+14:00", t0 * s},
      {"2026-12-04T18:45:18+00:00", t0 * s},
      {"2026-12-04T18:45:18-00:00", t0 * s},
      {"2026-12-04t18:45:18z", t0 * s},
      {"2026-12-04T18:45:18.5Z", t0 * s + 500000},
      {"2026-12-04T19:45:18.123456+01:00", t0 * s + 123456},
      {"2026-12-04T18:45:18.1234569Z", t0 * s + 123456},  // beyond microseconds: dropped
      {"2016-12-31T23:59:60Z", 1483228800 * s},           // a leap second: the next second
      {"2017-01-01T00:59:60+01:00", 1483228800 * s},      // ... at 23:59:60 UTC, whatever the offset
      {"2026-06-30T23:59:60Z", 1782864000 * s},
      {"2024-02-29T00:00:00Z", 1709164800 * s},
      {"1970-01-01T00:00:00Z", 0},
      {"1970-01-01T01:00:00+01:00", 0},
      // Refused: no offset, malformed or impossible fields, before 1970.
      {"2026-12-04T18:45:18", std::nullopt},
      {"2026-12-04 18:45:18Z", std::nullopt},
      {"2026-12-04T18:45:18+01", std::nullopt},
      {"2026-12-04T18:45:18+0100", std::nullopt},
      {"2026-12-04T18:45:18+1:00", std::nullopt},
      {"2026-12-04T18:45:18+24:00", std::nullopt},
      {"2026-12-04T18:45:18+01:60", std::nullopt},
      {"2026-12-04T18:45:18.Z", std::nullopt},
      {"2026-12-04T18:45:18ZZ", std::nullopt},
      {"2026-12-04T24:00:00Z", std::nullopt},
      {"2026-12-04T18:60:00Z", std::nullopt},
      {"2026-12-04T18:45:61Z", std::nullopt},
      // Second 60 where no leap second can be: not rolled over into the next minute.
      {"2026-12-04T18:45:60Z", std::nullopt},
      {"2026-12-07T00:14:60Z", std::nullopt},
      {"2026-12-31T23:58:60Z", std::nullopt},
      {"2026-12-30T23:59:60Z", std::nullopt},
      {"2016-12-31T23:59:60+01:00", std::nullopt},
      {"2026-02-30T00:00:00Z", std::nullopt},
      {"2025-02-29T00:00:00Z", std::nullopt},
      {"2026-13-01T00:00:00Z", std::nullopt},
      {"2026-1-01T00:00:00Z", std::nullopt},
      {"1969-12-31T23:59:59Z", std::nullopt},
      {"1970-01-01T00:30:00+01:00", std::nullopt},
      {"2026-12-04", std::nullopt},
      {"", std::nullopt},
  };
  for (const row& r : rows) {
    CHECK_MESSAGE(sovgw::parse_rfc3339_us(r.text) == r.us, r.text);
  }
}

TEST_CASE("RFC 3339 fractions finer than a microsecond round up only when asked") {
  const std::int64_t at = t0 * s;
  CHECK(sovgw::parse_rfc3339_us("2026-12-04T18:45:18.3440769Z") == at + 344076);
  CHECK(sovgw::parse_rfc3339_us("2026-12-04T18:45:18.3440769Z", true) == at + 344077);
  CHECK(sovgw::parse_rfc3339_us("2026-12-04T18:45:18.3440760000Z", true) == at + 344076);
  CHECK(sovgw::parse_rfc3339_us("2026-12-04T18:45:18.344076Z", true) == at + 344076);
  CHECK(sovgw::parse_rfc3339_us("2026-12-04T18:45:18.9999999Z", true) == at + s);
}

TEST_CASE("RFC 3339 full-dates are their midnight UTC") {
  const row rows[] = {
      {"2026-12-04", (t0 - (18 * 3600 + 45 * 60 + 18)) * s},
      {"1970-01-01", 0},
      {"2024-02-29", 1709164800 * s},
      {"2025-02-29", std::nullopt},
      {"1969-12-31", std::nullopt},
      {"2026-12-4", std::nullopt},
      {"2026-12-04T00:00:00Z", std::nullopt},
      {"2026-12-04 ", std::nullopt},
  };
  for (const row& r : rows) {
    CHECK_MESSAGE(sovgw::parse_rfc3339_date_us(r.text) == r.us, r.text);
  }
}

TEST_CASE("A well-formed time before 1970 is told from one that cannot be read") {
  // Probe round 39: `--since 1969-12-31` and `--since 0001-01-01` got "cannot read ... as a time".
  for (const char* text : {"1969-12-31", "0001-01-01", "1969-12-31T23:59:59Z", "1970-01-01T00:30:00+01:00",
                           "1969-12-31T23:59:59.999999Z"}) {
    CHECK_MESSAGE(sovgw::rfc3339_before_epoch(text), text);
  }
  for (const char* text : {"1970-01-01", "1970-01-01T01:00:00+01:00", "2026-12-04", "1969-02-30",
                           "1969-12-31 ", "1969-12-31T24:00:00Z", "yesterday", ""}) {
    CHECK_MESSAGE(!sovgw::rfc3339_before_epoch(text), text);
  }
}
