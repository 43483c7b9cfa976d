#pragma once

#include "cli/options.hpp"

// Each `sovgw` subcommand family lives in its own file and receives the arguments after its name
// (for `sovgw policy check x.yaml`, run_policy gets {"check", "x.yaml"}). Each returns the process
// exit code (cli/options.hpp): 0 ok, 1 a check/verification failed, 2 usage, 3 I/O or environment.
namespace sovgw::cli {

int run_serve(args_t args);
int run_config(args_t args);
int run_policy(args_t args);
int run_geo(args_t args);
int run_audit(args_t args);
int run_keys(args_t args);
int run_receipt(args_t args);
int run_tenants(args_t args);

}  // namespace sovgw::cli
