#include "policy/geo_distance.hpp"

#include <doctest/doctest.h>

using namespace sovgw::policy;

namespace {
const geo_point paris{48.8566, 2.3522};
const geo_point frankfurt{50.1109, 8.6821};
const geo_point new_york{40.7128, -74.0060};
}  // namespace

TEST_CASE("a round trip bounds the distance: rtt/2 x 200 km/ms in fibre, rounded up") {
  CHECK(fibre_bound_km(0) == 0);
  CHECK(fibre_bound_km(1) == 1);       // 1 µs: 0.1 km, rounded up
  CHECK(fibre_bound_km(1000) == 100);  // 1 ms: 0.5 ms each way x 200 km/ms
  CHECK(fibre_bound_km(1001) == 101);
  CHECK(fibre_bound_km(70'000) == 7000);
  CHECK(vacuum_bound_km(1000) == 150);  // 149.9 km, rounded up
  CHECK(vacuum_bound_km(70'000) == 10'493);
  CHECK(vacuum_bound_km(1'000'000) >= fibre_bound_km(1'000'000));
}

TEST_CASE("great-circle distances") {
  CHECK(great_circle_km(paris, paris) == doctest::Approx(0));
  CHECK(great_circle_km(paris, frankfurt) == doctest::Approx(479).epsilon(0.01));
  CHECK(great_circle_km(paris, new_york) == doctest::Approx(5837).epsilon(0.01));
  CHECK(great_circle_km(geo_point{0, 179.5}, geo_point{0, -179.5}) == doctest::Approx(111.2).epsilon(0.01));
}

TEST_CASE("country discs hold their capitals and far islands, and places are as near as their discs allow") {
  for (const auto& [code, p] : {std::pair{"FR", paris}, std::pair{"DE", frankfurt},
                                std::pair{"ES", geo_point{27.64, -18.16}},    // El Hierro
                                std::pair{"PT", geo_point{39.45, -31.27}},    // Flores, Azores
                                std::pair{"FR", geo_point{41.37, 9.18}},      // Corsica
                                std::pair{"IT", geo_point{35.50, 12.60}}}) {  // Lampedusa
    CHECK_MESSAGE(point_outside_country(p, code).empty(), code);
  }
  CHECK_FALSE(point_outside_country(geo_point{2.3522, 48.8566}, "FR").empty());  // swapped
  CHECK(point_outside_country(new_york, "US").empty());                          // no disc: not judged
  CHECK_FALSE(country_extent("US"));
  const geo_place p{paris, 0};
  CHECK(nearest_km(p, geo_place{frankfurt, 0}) == doctest::Approx(479).epsilon(0.01));
  CHECK(nearest_km(p, *country_extent("FR")) == 0);
  CHECK(nearest_km(geo_place{new_york, 0}, *country_extent("FR")) > 4000);
}

TEST_CASE("parse_degrees") {
  CHECK(parse_degrees("48.8566", 90) == doctest::Approx(48.8566));
  CHECK(parse_degrees("-3.7", 180) == doctest::Approx(-3.7));
  CHECK(parse_degrees("180", 180) == doctest::Approx(180));
  for (const char* bad : {"", "91", "-90.5x", "1e2", "nan", "inf", "0x10", " 1", "+1", "N48"}) {
    CHECK_FALSE_MESSAGE(parse_degrees(bad, 90), bad);
  }
}

TEST_CASE("judging a round trip: contradiction needs the speed of light in vacuum, the maximum uses fibre") {
  const std::optional<geo_place> gw = geo_place{paris, 0};
  const std::optional<geo_place> in_frankfurt = geo_place{frankfurt, 0};
  // 479 km to Frankfurt: a round trip under 2 x 479 / 299.79 ms = 3.2 ms cannot reach it.
  const auto too_fast = judge_distance(2000, gw, in_frankfurt, 0);
  CHECK(too_fast.verdict == distance_verdict::contradicted);
  CHECK(too_fast.bound_km == 200);
  CHECK(too_fast.reason.find("declared location is at least 4") != std::string::npos);
  CHECK(judge_distance(3300, gw, in_frankfurt, 0).verdict == distance_verdict::within);  // 495 km in vacuum
  CHECK(judge_distance(2000, gw, std::nullopt, 0).verdict == distance_verdict::within);  // nothing declared
  CHECK(judge_distance(2000, std::nullopt, in_frankfurt, 0).verdict == distance_verdict::within);
  // max_distance_km: the fibre bound must be within it.
  CHECK(judge_distance(10'000, gw, in_frankfurt, 1000).verdict == distance_verdict::within);  // 1000 km
  const auto far = judge_distance(10'001, gw, in_frankfurt, 1000);
  CHECK(far.verdict == distance_verdict::beyond_max);
  CHECK(far.reason.find("more than max_distance_km 1000") != std::string::npos);
  // A slow round trip never contradicts: it is only an upper bound.
  CHECK(judge_distance(500'000, gw, in_frankfurt, 0).verdict == distance_verdict::within);
}
