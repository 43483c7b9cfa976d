#pragma once

// Physical evidence of where a TLS endpoint is (docs/evidence.md): a round trip measured by the
// gateway bounds how far the answering party can be, since no signal outruns light. Pure code.
//
//   fibre bound     rtt/2 x 200 km/ms (light in optical fibre): the figure recorded, shown in the
//                   metrics and compared with a cluster's max_distance_km
//   vacuum bound    rtt/2 x 299.79 km/ms (light in vacuum, e.g. a microwave link): the bound no path
//                   can beat; a declared location is only called contradicted beyond this one
//
// A bound is an upper limit only: a slow path, a busy server or queueing make it larger, never
// smaller. It can prove an endpoint is near, never that it is far.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sovgw::policy {

struct geo_point {
  double latitude = 0;   // degrees, -90..90
  double longitude = 0;  // degrees, -180..180
};

// "48.8566", "-3.7": a decimal number of degrees within [-limit, limit] (90 for a latitude, 180 for
// a longitude); nullopt otherwise (no exponent, no hex, no inf/nan).
[[nodiscard]] std::optional<double> parse_degrees(std::string_view text, double limit);

inline constexpr double fibre_km_per_ms = 200.0;
inline constexpr double vacuum_km_per_ms = 299.792458;

// ceil(rtt/2 x speed): rounded up, so that the bound stays an upper bound.
[[nodiscard]] std::uint64_t fibre_bound_km(std::uint64_t rtt_us);
[[nodiscard]] std::uint64_t vacuum_bound_km(std::uint64_t rtt_us);

// Great-circle distance on a sphere of the Earth's mean radius (6371.0 km). Differs from the
// ellipsoidal distance by at most ~0.5%; callers proving a contradiction allow a margin for it.
[[nodiscard]] double great_circle_km(geo_point a, geo_point b);

// Where something is declared to be: a point (radius 0) or a country, as a disc that holds all of
// its territory (country_extent). The nearest two such places can be is then at least
// max(0, distance between centres - both radii).
struct geo_place {
  geo_point centre;
  double radius_km = 0;
};

// A disc holding every point of the country (its territory under that ISO 3166-1 code, islands
// included): a hand-made table for the EU/EEA countries, Switzerland and the UK, from the
// countries' well-known extreme points, each radius rounded up generously (geo_distance.cpp).
// nullopt for a country not in the table: no contradiction is claimed from its country alone.
[[nodiscard]] std::optional<geo_place> country_extent(std::string_view iso_code);

// The nearest two places can be to each other (km, >= 0).
[[nodiscard]] double nearest_km(const geo_place& a, const geo_place& b);

// A declared point outside its declared country's disc is a configuration mistake (swapped latitude
// and longitude, a wrong sign): the reason, or "" when the point may lie in the country (or the
// country is not in the table).
[[nodiscard]] std::string point_outside_country(geo_point p, std::string_view iso_code);

// What a measured round trip says of an endpoint declared at `declared`, from a gateway at
// `gateway`, against a cluster's max_distance_km (0: none).
enum class distance_verdict : std::uint8_t {
  within,        // nothing contradicts the declaration, and the fibre bound is within the maximum
  beyond_max,    // the fibre bound exceeds max_distance_km: the endpoint is not proved within it
  contradicted,  // even the vacuum bound is closer than the declared place can be: not where declared
};
[[nodiscard]] const char* to_string(distance_verdict v);

struct distance_judgement {
  distance_verdict verdict = distance_verdict::within;
  std::uint64_t bound_km = 0;                 // fibre
  std::uint64_t vacuum_bound_km = 0;          // vacuum
  std::optional<double> declared_nearest_km;  // how near the declared place can be (nullopt: unknown)
  std::string reason;                         // for beyond_max and contradicted
};

// `gateway`, `declared`: the two places (either nullopt: no contradiction is judged). A contradiction
// needs the vacuum bound below 99% of the nearest declared distance (the sphere's error).
[[nodiscard]] distance_judgement judge_distance(std::uint64_t rtt_us, const std::optional<geo_place>& gateway,
                                                const std::optional<geo_place>& declared,
                                                std::uint64_t max_distance_km);

}  // namespace sovgw::policy
