#include <cstdio>

#include "cli/commands.hpp"
#include "policy/cli_commands.hpp"

namespace sovgw::cli {

int run_policy(args_t args) { return sovgw::policy::run_policy_command(args, stdout, stderr); }

int run_geo(args_t args) { return sovgw::policy::run_geo_command(args, stdout, stderr); }

}  // namespace sovgw::cli
