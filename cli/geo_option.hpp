#pragma once

#include <optional>
#include <string>

#include "cli/options.hpp"
#include "policy/geo_db.hpp"

namespace sovgw::cli {

// The geo database named by --mmdb FILE, or --geoip FILE / --geoip6 FILE (Tor's format; Debian's
// tor-geoipdb files by default, or the geo_database of the gateway config the command reads: see
// use_config_database), loaded on first use, or at once when one is named: a file the
// command line names is checked even if no input needs it. A database that cannot be loaded throws
// policy::geo_error (exit 3).
class geo_option {
 public:
  explicit geo_option(const options& o);
  const policy::geo_db& get();
  // The database a gateway config names (its geo_database: FILE, opened as written, as the gateway
  // opens it): used instead of the default when the command line names none. Call before get().
  void use_config_database(const std::string& file, const std::string& config_file);
  // Which database get() loads and why, for a trace: "mmdb FILE (geo_database of CONFIG)".
  [[nodiscard]] std::string description();

 private:
  [[nodiscard]] bool named_on_command_line() const;

  const options& options_;
  std::string config_database_;
  std::string config_file_;
  std::optional<policy::geo_db> db_;
};

}  // namespace sovgw::cli
