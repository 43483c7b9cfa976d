#include "policy/geo_distance.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numbers>

namespace sovgw::policy {

namespace {

struct country_disc {
  std::string_view code;
  double latitude;
  double longitude;
  double radius_km;
};

// Centre and a radius that holds the country's whole territory under its ISO code. Made by hand
// from each country's extreme points (northernmost, southernmost, easternmost, westernmost, and
// far islands of the same code: the Canaries for ES, the Azores and Madeira for PT, Corsica for
// FR, Lampedusa for IT, Bornholm for DK), then rounded up by 10% or more. Territories with codes of
// their own (GF, RE, GL, FO, SJ, AX, BQ, ...) are not in these discs. Not a survey: a disc too
// large only makes fewer contradictions provable, never a false one; too small would, so each
// radius errs large.
constexpr country_disc discs[] = {
    {"AT", 47.6, 13.6, 450}, {"BE", 50.6, 4.6, 250},   {"BG", 42.7, 25.4, 400},  {"CH", 46.8, 8.2, 300},
    {"CY", 35.0, 33.2, 200}, {"CZ", 49.8, 15.5, 350},  {"DE", 51.2, 10.4, 650},  {"DK", 56.0, 10.5, 500},
    {"EE", 58.7, 25.0, 300}, {"ES", 40.2, -3.7, 2300}, {"FI", 64.5, 26.0, 900},  {"FR", 46.5, 2.5, 1000},
    {"GB", 54.0, -2.5, 900}, {"GR", 38.5, 23.5, 750},  {"HR", 44.5, 16.5, 450},  {"HU", 47.2, 19.4, 350},
    {"IE", 53.4, -8.0, 350}, {"IS", 64.9, -18.6, 450}, {"IT", 42.5, 12.5, 1000}, {"LI", 47.15, 9.55, 30},
    {"LT", 55.2, 23.9, 300}, {"LU", 49.8, 6.1, 80},    {"LV", 56.9, 24.6, 350},  {"MT", 35.9, 14.4, 60},
    {"NL", 52.2, 5.3, 300},  {"NO", 64.5, 12.0, 1500}, {"PL", 52.0, 19.4, 550},  {"PT", 39.6, -8.0, 2400},
    {"RO", 45.9, 25.0, 500}, {"SE", 62.0, 16.0, 1100}, {"SI", 46.1, 14.8, 200},  {"SK", 48.7, 19.7, 300},
};

// ceil(rtt_us / 2 / 1000 x km_per_ms) in integers (no rounding up of an exact bound by float error);
// the speed given in metres per millisecond.
std::uint64_t bound(std::uint64_t rtt_us, std::uint64_t m_per_ms) {
  rtt_us = std::min<std::uint64_t>(rtt_us, 3'600'000'000ull);  // an hour: no overflow below
  return (rtt_us * m_per_ms + 2'000'000 - 1) / 2'000'000;
}

}  // namespace

std::optional<double> parse_degrees(std::string_view text, double limit) {
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v, std::chars_format::fixed);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v) ||
      v < -limit || v > limit) {
    return std::nullopt;
  }
  return v;
}

std::uint64_t fibre_bound_km(std::uint64_t rtt_us) { return bound(rtt_us, 200'000); }
// 299.792458 km/ms rounded up: the bound only grows.
std::uint64_t vacuum_bound_km(std::uint64_t rtt_us) { return bound(rtt_us, 299'793); }

double great_circle_km(geo_point a, geo_point b) {
  constexpr double radius_km = 6371.0;
  constexpr double rad = std::numbers::pi / 180.0;
  const double dlat = (b.latitude - a.latitude) * rad;
  const double dlon = (b.longitude - a.longitude) * rad;
  const double h = std::sin(dlat / 2) * std::sin(dlat / 2) + std::cos(a.latitude * rad) *
                                                                 std::cos(b.latitude * rad) *
                                                                 std::sin(dlon / 2) * std::sin(dlon / 2);
  return 2 * radius_km * std::asin(std::min(1.0, std::sqrt(h)));
}

std::optional<geo_place> country_extent(std::string_view iso_code) {
  for (const country_disc& d : discs) {
    if (d.code == iso_code) {
      return geo_place{{d.latitude, d.longitude}, d.radius_km};
    }
  }
  return std::nullopt;
}

double nearest_km(const geo_place& a, const geo_place& b) {
  return std::max(0.0, great_circle_km(a.centre, b.centre) - a.radius_km - b.radius_km);
}

std::string point_outside_country(geo_point p, std::string_view iso_code) {
  const auto disc = country_extent(iso_code);
  if (!disc) {
    return {};
  }
  const double d = great_circle_km(p, disc->centre);
  if (d <= disc->radius_km) {
    return {};
  }
  return fmt::format(
      "({}, {}) is {:.0f} km from the centre of {}, which lies within {:.0f} km of it "
      "(latitude and longitude swapped?)",
      p.latitude, p.longitude, d, iso_code, disc->radius_km);
}

const char* to_string(distance_verdict v) {
  switch (v) {
    case distance_verdict::within:
      return "within";
    case distance_verdict::beyond_max:
      return "beyond-max";
    case distance_verdict::contradicted:
      return "contradicted";
  }
  return "contradicted";
}

distance_judgement judge_distance(std::uint64_t rtt_us, const std::optional<geo_place>& gateway,
                                  const std::optional<geo_place>& declared, std::uint64_t max_distance_km) {
  distance_judgement j;
  j.bound_km = fibre_bound_km(rtt_us);
  j.vacuum_bound_km = vacuum_bound_km(rtt_us);
  const double rtt_ms = static_cast<double>(rtt_us) / 1000.0;
  if (gateway && declared) {
    j.declared_nearest_km = nearest_km(*gateway, *declared);
    if (static_cast<double>(j.vacuum_bound_km) < 0.99 * *j.declared_nearest_km) {
      j.verdict = distance_verdict::contradicted;
      j.reason = fmt::format(
          "a {:.3f} ms round trip puts the TLS endpoint within {} km of the gateway even at "
          "the speed of light in vacuum, but its declared location is at least {:.0f} km away",
          rtt_ms, j.vacuum_bound_km, *j.declared_nearest_km);
      return j;
    }
  }
  if (max_distance_km != 0 && j.bound_km > max_distance_km) {
    j.verdict = distance_verdict::beyond_max;
    j.reason = fmt::format(
        "a {:.3f} ms round trip bounds the TLS endpoint within {} km of the gateway, more than "
        "max_distance_km {}: not proved within range",
        rtt_ms, j.bound_km, max_distance_km);
  }
  return j;
}

}  // namespace sovgw::policy
