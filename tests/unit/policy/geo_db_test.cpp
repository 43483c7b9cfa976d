#include "policy/geo_db.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <initializer_list>

#include "policy/countries.hpp"
#include "policy/ip_address.hpp"
#include "tests/unit/policy/mmdb_writer.hpp"

using namespace sovgw::policy;

namespace {

std::string lookup(const geo_db& db, const char* ip) {
  const auto parsed = parse_ip(ip);
  REQUIRE(parsed);
  return country_name(db.lookup(*parsed));
}

const geo_db& tor_db() {
  static const geo_db db = geo_db::load_default();
  return db;
}

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() /
         ("sovgw-unit-policy-" + std::to_string(::getpid()) + "-" + name);
}

}  // namespace

TEST_CASE("country sets: EU has the 27 member states, EEA adds IS, LI, NO") {
  CHECK(eu_countries().count() == 27);
  CHECK(eea_countries().count() == 30);
  CHECK(eu_countries().test(*pack_country("DE")));
  CHECK_FALSE(eu_countries().test(*pack_country("GB")));
  CHECK_FALSE(eu_countries().test(*pack_country("NO")));
  CHECK(eea_countries().test(*pack_country("NO")));
  CHECK(is_assigned_country(*pack_country("XK")));
  CHECK_FALSE(is_assigned_country(*pack_country("XX")));
  CHECK_FALSE(pack_country("de"));
  CHECK_FALSE(pack_country("DEU"));
  CHECK(country_name(*pack_country("private")) == "private");
}

TEST_CASE("IP and CIDR parsing") {
  CHECK(format_ip(*parse_ip("192.0.2.1")) == "192.0.2.1");
  CHECK(parse_ip("::ffff:192.0.2.1")->v4);
  CHECK_FALSE(parse_ip("2001:db8::1")->v4);
  CHECK_FALSE(parse_ip("1.2.3"));
  CHECK_FALSE(parse_ip(""));
  std::string error;
  CHECK(parse_cidr("10.0.0.0/8", error)->contains(*parse_ip("10.255.0.1")));
  CHECK_FALSE(parse_cidr("10.0.0.1/8", error));
  CHECK(error.find("host bits") != std::string::npos);
  CHECK_FALSE(parse_cidr("10.0.0.0/33", error));
  CHECK_FALSE(parse_cidr("10.0.0.0/x", error));
  CHECK(parse_cidr("::/0", error)->contains(*parse_ip("2a00::1")));
  CHECK(parse_cidr("192.0.2.7", error)->prefix == 32);
}

TEST_CASE("tor-geoipdb: real data, private ranges explicit, unknown never guessed") {
  const geo_db& db = tor_db();
  CHECK(db.v4_ranges() > 100000);
  CHECK(db.v6_ranges() > 50000);
  CHECK(lookup(db, "8.8.8.8") == "US");
  CHECK(lookup(db, "85.214.132.117") == "DE");
  CHECK(lookup(db, "5.255.255.5") == "RU");
  CHECK(lookup(db, "2a02:6b8::2:242") == "RU");
  CHECK(lookup(db, "::ffff:85.214.132.117") == "DE");
  for (const char* ip : {"10.1.2.3", "172.16.0.1", "192.168.255.255", "127.0.0.1", "100.64.0.1",
                         "169.254.1.1", "0.0.0.0", "255.255.255.255", "224.0.0.1", "192.0.2.1", "::1",
                         "::", "fe80::1", "fd00::1", "2001:db8::1", "ff02::1"}) {
    CAPTURE(ip);
    CHECK(lookup(db, ip) == "private");
  }
  // Just outside the private blocks: back to data.
  CHECK(lookup(db, "11.0.0.1") != "private");
  CHECK(lookup(db, "172.32.0.1") != "private");
}

TEST_CASE("translated and tunnelled IPv6 addresses resolve to the IPv4 address they carry") {
  struct row {
    const char* ip;
    const char* country;
  };
  // 5.255.255.5 is RU, 85.214.132.117 DE, 8.8.8.8 US in the tor data (checked above).
  for (const row& r : std::initializer_list<row>{
           {"::ffff:5.255.255.5", "RU"},                     // IPv4-mapped
           {"::ffff:0:5.255.255.5", "RU"},                   // IPv4-translated (RFC 2765)
           {"::5.255.255.5", "RU"},                          // IPv4-compatible
           {"64:ff9b::5.255.255.5", "RU"},                   // NAT64, well-known prefix
           {"64:ff9b::8.8.8.8", "US"},                       //
           {"2002:5ff:ff05::1", "RU"},                       // 6to4: 5.255.255.5 in bits 16-47
           {"2002:55d6:8475:1:2:3:4:5", "DE"},               // 6to4: 85.214.132.117
           {"2001:0:4136:e378:8000:63bf:fa00:fa", "RU"},     // Teredo: client ~fa00:00fa = 5.255.255.5
           {"2001:0:4136:e378:8000:63bf:aa29:7b8a", "DE"},   // Teredo: client 85.214.132.117
           {"64:ff9b:1:abcd:12:3456:5.255.255.5", "RU"},     // NAT64 local use, /96 layout
           {"64:ff9b:1:5ff:ff:500::", "unknown"},            // /48 layout: /56, /64, /96 read it too
           {"64:ff9b:1:abcd:ff00::5.255.255.5", "unknown"},  // bits 64-71 set: no RFC 6052 layout
           {"64:ff9b::10.1.2.3", "private"},                 // a private IPv4 stays private
           {"2002:c0a8:101::1", "private"},                  // 6to4 of 192.168.1.1
           {"::ffff:127.0.0.1", "private"},                  //
           {"::1", "private"},                               // loopback (and :: unspecified)
           {"::", "private"},                                //
           {"fd12:3456::1", "private"},                      // ULA
           {"fe80::1", "private"},                           // link-local
           {"2001:db8::1", "private"},                       // documentation
           {"2001:2::1", "private"},                         // benchmarking, inside 2001::/23
           {"2001:4:112::1", "US"},                          // AS112: globally reachable, in the data
           {"2001:3::1", "unknown"},                         // AMT: globally reachable, no data
           {"192.0.0.9", "unknown"},                         // PCP anycast: globally reachable
           {"192.0.0.8", "private"},                         //
           {"192.88.99.1", "unknown"},                       // deprecated 6to4 relay anycast
       }) {
    CAPTURE(r.ip);
    CHECK(lookup(tor_db(), r.ip) == r.country);
  }
  // Not normalised by parse_ip: a mapped address built as IPv6 is looked up as IPv4 too.
  CHECK(country_name(tor_db().lookup(ip_address{(u128{0xffff} << 32) | 0x55d68475u, false})) == "DE");
}

TEST_CASE("embedded IPv4: the forms and the RFC 6052 readings of 64:ff9b:1::/48") {
  const auto embedded = [](const char* text) { return find_embedded_ipv4(*parse_ip(text)); };
  CHECK(embedded("2a00::1").form == ipv4_embedding::none);
  CHECK(embedded("85.214.132.117").form == ipv4_embedding::none);
  CHECK(embedded("2002:5ff:ff05::").form == ipv4_embedding::six_to_four);
  CHECK(embedded("2001:0:4136:e378:8000:63bf:fa00:fafa").form == ipv4_embedding::teredo);
  CHECK(embedded("2001:1::1").form == ipv4_embedding::none);  // 2001::/32 only
  CHECK(embedded("64:ff9b::1").form == ipv4_embedding::nat64);
  const auto translated = embedded("::ffff:0:5.255.255.5");  // RFC 2765, not ::ffff:5.255.255.5
  CHECK(translated.form == ipv4_embedding::translated);
  CHECK(translated.candidates[0] == 0x05ffff05u);
  CHECK(embedded("::fffe:0:5.255.255.5").form == ipv4_embedding::none);
  CHECK(embedded("64:ff9b:0:0:1::1").form == ipv4_embedding::none);
  const auto local = embedded("64:ff9b:1:5ff:ff:500::");  // 5.255.255.5 in the /48 layout
  CHECK(local.form == ipv4_embedding::nat64_local);
  REQUIRE(local.count == 4);
  CHECK(local.candidates[0] == 0x05ffff05u);             // /48
  CHECK(local.candidates[1] == 0xffff0500u);             // /56
  CHECK(local.candidates[2] == 0xff050000u);             // /64
  CHECK(local.candidates[3] == 0u);                      // /96
  const auto l56 = embedded("64:ff9b:1:5:ff:ff05:1:0");  // /56 layout of 5.255.255.5, suffix not zero
  CHECK(l56.count == 1);                                 // only the /96 reading fits
  CHECK(l56.candidates[0] == 0x00010000u);
}

TEST_CASE("tor format: malformed files are errors with file:line") {
  const auto v4 = temp_path("bad4");
  const auto v6 = temp_path("bad6");
  std::ofstream(v4) << "# comment\n16777216,16777471,AU\nnot-a-line\n";
  std::ofstream(v6) << "2a01:4f8::,2a01:4f8:ffff:ffff:ffff:ffff:ffff:ffff,JP\n2001::,2001:3:ffff:ffff:ffff:"
                       "ffff:ffff:ffff,??\n";
  try {
    (void)geo_db::load_tor(v4, v6);
    FAIL("expected geo_error");
  } catch (const geo_error& e) {
    CHECK(std::string(e.what()) == v4.string() + ":3: malformed IPv4 range line");
  }
  std::ofstream(v4) << "16777216,16777471,AU\n16777300,16777400,CN\n";
  CHECK_THROWS_AS((void)geo_db::load_tor(v4, v6), geo_error);
  std::ofstream(v4) << "16777216,16777471,AU\n";
  const geo_db db = geo_db::load_tor(v4, v6);
  CHECK(lookup(db, "1.0.0.1") == "AU");
  CHECK(lookup(db, "1.0.1.1") == "unknown");
  CHECK(lookup(db, "2a01:4f8::5") == "JP");
  CHECK(lookup(db, "2a01:4f9::5") == "unknown");
  CHECK(lookup(db, "2001:2::5") == "private");  // benchmarking, inside 2001::/23
  CHECK(lookup(db, "2001:3::5") == "unknown");  // AMT (globally reachable) is not private; ?? in the file
  CHECK_THROWS_AS((void)geo_db::load_tor("/nonexistent/geoip", v6), geo_error);
  std::filesystem::remove(v4);
  std::filesystem::remove(v6);
}

TEST_CASE("mmdb: IPv6 database with IPv4 under ::/96") {
  const auto file = temp_path("v6.mmdb");
  test::write_mmdb(file,
                   {{"81.0.0.0/8", "FR"},
                    {"8.8.8.0/24", "US"},
                    {"2a00::/16", "DE"},
                    {"2600::/12", "US"},
                    {"10.0.0.0/8", "ZZ"}},
                   6);
  const geo_db db = geo_db::load_mmdb(file);
  CHECK(lookup(db, "81.2.3.4") == "FR");
  CHECK(lookup(db, "8.8.8.8") == "US");
  CHECK(lookup(db, "8.8.9.8") == "unknown");
  CHECK(lookup(db, "2a00:1450::1") == "DE");
  CHECK(lookup(db, "2601::1") == "US");
  CHECK(lookup(db, "2a01::1") == "unknown");
  CHECK(lookup(db, "10.1.1.1") == "private");  // reserved ranges win over the data
  std::filesystem::remove(file);
}

TEST_CASE("mmdb: IPv4-only database, and a corrupt file") {
  const auto file = temp_path("v4.mmdb");
  test::write_mmdb(file, {{"81.0.0.0/8", "FR"}, {"128.0.0.0/1", "JP"}, {"9.0.0.0/8", "de"}}, 4);
  const geo_db db = geo_db::load_mmdb(file);
  CHECK(lookup(db, "81.2.3.4") == "FR");
  CHECK(lookup(db, "9.9.9.9") == "DE");  // a lower-case code is the same country, not unknown
  CHECK(lookup(db, "200.1.1.1") == "JP");
  CHECK(lookup(db, "2a00::1") == "unknown");
  std::ofstream(file) << "this is not a MaxMind DB";
  CHECK_THROWS_AS((void)geo_db::load_mmdb(file), geo_error);
  std::filesystem::remove(file);
}

TEST_CASE("geo lookups agree with a linear scan of the tor file") {
  // Cross-check the indexed table against the raw file for a sample of ranges.
  std::ifstream in("/usr/share/tor/geoip");
  std::string line;
  int checked = 0;
  for (int n = 0; std::getline(in, line) && checked < 2000; ++n) {
    if (line.empty() || line[0] == '#' || n % 150 != 0) {
      continue;
    }
    const auto c1 = line.find(',');
    const auto c2 = line.find(',', c1 + 1);
    const std::uint32_t first = std::stoul(line.substr(0, c1));
    const std::uint32_t last = std::stoul(line.substr(c1 + 1, c2 - c1 - 1));
    const std::string cc = line.substr(c2 + 1);
    for (const std::uint32_t v : {first, last, first + (last - first) / 2}) {
      const auto got = tor_db().lookup(ip_address{v, true});
      if (got == country_private) {
        continue;
      }
      CAPTURE(line);
      CHECK(country_name(got) == (cc == "??" ? "unknown" : cc));
    }
    ++checked;
  }
  CHECK(checked > 1000);
}
