#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "policy/countries.hpp"
#include "policy/ip_address.hpp"

// IP address -> country. Loaded on the control plane (throws geo_error on bad files), then immutable:
// lookup() is const, noexcept, allocation-free and safe to call from any number of threads.
//
// Both sources are compiled into the same structure: a sorted flat array of range starts per address
// family (a step function over the address space) with a 2^16-entry index on the top 16 bits, so a
// lookup is one table read plus a short binary search. The special-purpose ranges that are not
// globally reachable (RFC 1918, loopback, link-local, CGNAT, documentation, multicast, ULA, ...)
// are overlaid on top of the data and always resolve to country_private; addresses the data does
// not cover resolve to country_unknown. An IPv6 address that carries an IPv4 address (IPv4-mapped
// and -compatible, NAT64, 6to4, Teredo: ip_address.hpp) resolves to that IPv4 address's country
// (unknown when the readings of a 64:ff9b:1::/48 address disagree). Never a guess.
namespace sovgw::policy {

class geo_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class geo_db {
 public:
  // Only the reserved ranges (private); everything else unknown.
  geo_db();

  // The IPFire/Tor range format of Debian's tor-geoipdb (`/usr/share/tor/geoip`, `geoip6`):
  // "FIRST,LAST,CC" lines, IPv4 as integers, IPv6 as addresses; "??" means unknown.
  [[nodiscard]] static geo_db load_tor(const std::filesystem::path& v4_file,
                                       const std::filesystem::path& v6_file);
  // The embedded default: load_tor(/usr/share/tor/geoip, /usr/share/tor/geoip6).
  [[nodiscard]] static geo_db load_default();
  // The two files load_default() reads (IPv4, IPv6).
  [[nodiscard]] static std::vector<std::filesystem::path> default_files();
  // A MaxMind DB country database (GeoLite2/GeoIP2 Country, DB-IP, IPinfo): the search tree is
  // walked once and flattened; the country is read from country.iso_code, else a string `country`
  // or `country_code` field.
  [[nodiscard]] static geo_db load_mmdb(const std::filesystem::path& file);

  [[nodiscard]] country_id lookup(const ip_address& ip) const noexcept;
  // Whether every address of `block` lies in one special-purpose block that is never globally
  // reachable: `private` in every geo database (a policy rule that pairs it with a country code
  // can never match).
  [[nodiscard]] static bool always_private(const cidr_block& block);

  [[nodiscard]] std::size_t v4_ranges() const noexcept { return v4_.starts.size(); }
  [[nodiscard]] std::size_t v6_ranges() const noexcept { return v6_.starts.size(); }
  [[nodiscard]] std::size_t memory_bytes() const noexcept;
  [[nodiscard]] const std::string& source() const noexcept { return source_; }
  // Names it after the files it was read from when it was loaded through another path to them
  // (gateway/geo_store.cpp reads the very files it hashed, through /proc/self/fd).
  void rename_source(std::string source) { source_ = std::move(source); }
  // An MMDB's metadata build_epoch (seconds since 1970); 0 for tor-geoipdb files.
  [[nodiscard]] std::uint64_t build_epoch() const noexcept { return build_epoch_; }

  template <typename key_t>
  struct step_table {
    std::vector<key_t> starts;  // starts[0] == 0; entry i covers [starts[i], starts[i+1])
    std::vector<country_id> countries;
    std::vector<std::uint32_t> index;  // 65537 entries: the entry covering (p << (bits - 16))

    [[nodiscard]] country_id find(key_t key) const noexcept;
  };

 private:
  // The IPv4 address an IPv6 transition form carries (kept out of lookup()'s fast path).
  [[nodiscard]] country_id lookup_embedded(const ip_address& ip) const noexcept;

  step_table<std::uint32_t> v4_;
  step_table<u128> v6_;
  std::string source_;
  std::uint64_t build_epoch_ = 0;
};

}  // namespace sovgw::policy
