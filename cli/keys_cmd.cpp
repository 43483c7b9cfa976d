#include "audit/cli_commands.hpp"
#include "cli/commands.hpp"

namespace sovgw::cli {

int run_keys(args_t args) { return audit::run_keys_command(args); }

}  // namespace sovgw::cli
