#include "audit/cli_commands.hpp"
#include "cli/commands.hpp"

namespace sovgw::cli {

int run_audit(args_t args) { return audit::run_audit_command(args); }

}  // namespace sovgw::cli
