#include <cstdio>

#include "cli/commands.hpp"

namespace sovgw::cli {

// Replaced by the audit log's key management (issue 4).
int run_keys(args_t) {
  std::fputs("sovgw keys: not available in this build yet (issue 4)\n", stderr);
  return 2;
}

}  // namespace sovgw::cli
