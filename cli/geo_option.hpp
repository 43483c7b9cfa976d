#pragma once

#include <optional>

#include "cli/options.hpp"
#include "policy/geo_db.hpp"

namespace sovgw::cli {

// The geo database named by --mmdb FILE, or --geoip FILE / --geoip6 FILE (Tor's format; Debian's
// tor-geoipdb files by default), loaded on first use, or at once when one is named: a file the
// command line names is checked even if no input needs it. A database that cannot be loaded throws
// policy::geo_error (exit 3).
class geo_option {
 public:
  explicit geo_option(const options& o);
  const policy::geo_db& get();

 private:
  const options& options_;
  std::optional<policy::geo_db> db_;
};

}  // namespace sovgw::cli
