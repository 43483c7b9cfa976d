#include <cstdio>

#include "cli/commands.hpp"

namespace sovgw::cli {

// Built with -DSOVGW_BUILD_GATEWAY=OFF (library-only developer builds).
int run_serve(args_t) {
  std::fputs("sovgw serve: this build was configured without the gateway\n", stderr);
  return exit_usage;
}

int run_config(args_t) {
  std::fputs("sovgw config: this build was configured without the gateway\n", stderr);
  return exit_usage;
}

}  // namespace sovgw::cli
