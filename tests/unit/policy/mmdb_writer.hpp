#pragma once

#include <filesystem>
#include <string>
#include <vector>

// Writes a minimal MaxMind DB country database (24-bit records, {"country":{"iso_code":CC}} data)
// so the .mmdb loader can be tested without shipping a proprietary database.
namespace sovgw::policy::test {

struct mmdb_entry {
  std::string cidr;  // "10.0.0.0/8" or "2a00::/16"; IPv4 goes under ::/96 in an IPv6 database
  std::string country;
};

void write_mmdb(const std::filesystem::path& path, const std::vector<mmdb_entry>& entries, int ip_version);

}  // namespace sovgw::policy::test
