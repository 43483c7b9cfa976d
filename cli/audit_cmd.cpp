#include <cstdio>

#include "cli/commands.hpp"

namespace sovgw::cli {

// Replaced by the audit log (issue 4).
int run_audit(args_t) {
  std::fputs("sovgw audit: not available in this build yet (issue 4)\n", stderr);
  return 2;
}

}  // namespace sovgw::cli
