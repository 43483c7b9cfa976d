#include <cstdio>

#include "cli/commands.hpp"

namespace sovgw::cli {

// Replaced by the policy core (issue 3).
int run_policy(args_t) {
  std::fputs("sovgw policy: not available in this build yet (issue 3)\n", stderr);
  return 2;
}

int run_geo(args_t) {
  std::fputs("sovgw geo: not available in this build yet (issue 3)\n", stderr);
  return 2;
}

}  // namespace sovgw::cli
