#include <fmt/format.h>

#include <vector>

#include "cli/commands.hpp"
#include "cli/geo_option.hpp"
#include "policy/countries.hpp"
#include "policy/ip_address.hpp"

namespace sovgw::cli {
namespace {

constexpr const char* geo_usage = R"(usage:
  sovgw geo lookup IP... [--mmdb FILE] [--geoip FILE --geoip6 FILE]
      print the country of each address (default data: /usr/share/tor/geoip and geoip6);
      reserved and private ranges print `private`, addresses without data `unknown`

exit codes: 0 ok; 2 bad usage (an argument that is not an IP address); 3 the geo database cannot
be loaded
)";

int cmd_lookup(const options& o) {
  std::vector<policy::ip_address> ips;
  for (const auto& text : o.positional()) {
    const auto ip = policy::parse_ip(text);
    if (!ip) {
      fmt::print(stderr, "sovgw geo lookup: '{}' is not an IP address\n", text);
      return exit_usage;
    }
    ips.push_back(*ip);
  }
  geo_option geo(o);
  const policy::geo_db& db = geo.get();
  for (std::size_t i = 0; i < ips.size(); ++i) {
    fmt::print("{} {}\n", o.positional()[i], policy::country_name(db.lookup(ips[i])));
  }
  return exit_ok;
}

const subcommand geo_subcommands[] = {
    {"lookup",
     geo_usage,
     {.valued = {"mmdb", "geoip", "geoip6"},
      .min_positional = 1,
      .max_positional = SIZE_MAX,
      .arguments = "at least one IP address"},
     cmd_lookup},
};

}  // namespace

geo_option::geo_option(const options& o) : options_(o) {
  if (named_on_command_line()) {
    get();
  }
}

bool geo_option::named_on_command_line() const {
  return options_.has("mmdb") || options_.has("geoip") || options_.has("geoip6");
}

void geo_option::use_config_database(const std::string& file, const std::string& config_file) {
  if (!named_on_command_line() && !file.empty()) {
    config_database_ = file;
    config_file_ = config_file;
  }
}

std::string geo_option::description() {
  const policy::geo_db& db = get();
  if (!config_database_.empty()) {
    return fmt::format("{} (the geo_database of {})", db.source(), config_file_);
  }
  return fmt::format("{}{}", db.source(), named_on_command_line() ? "" : " (the default)");
}

const policy::geo_db& geo_option::get() {
  if (!db_) {
    if (const auto mmdb = options_.get("mmdb")) {
      db_ = policy::geo_db::load_mmdb(*mmdb);
    } else if (!config_database_.empty()) {
      try {
        db_ = policy::geo_db::load_mmdb(config_database_);
      } catch (const policy::geo_error& e) {
        throw policy::geo_error(fmt::format("{}: geo_database: {}", config_file_, e.what()));
      }
    } else {
      db_ = policy::geo_db::load_tor(options_.get("geoip").value_or(SOVGW_DEFAULT_GEOIP),
                                     options_.get("geoip6").value_or(SOVGW_DEFAULT_GEOIP6));
    }
  }
  return *db_;
}

int run_geo(args_t args) { return run_family("geo", geo_usage, args, geo_subcommands); }

}  // namespace sovgw::cli
