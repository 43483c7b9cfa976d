#pragma once

#include <span>
#include <string_view>

// Each `sovgw` subcommand family lives in its own file and receives the arguments after its name
// (for `sovgw policy check x.yaml`, run_policy gets {"check", "x.yaml"}). Each returns the process
// exit code: 0 success, 1 a check/verification failed, 2 bad usage or bad input.
namespace sovgw::cli {

using args_t = std::span<const std::string_view>;

int run_serve(args_t args);
int run_config(args_t args);
int run_policy(args_t args);
int run_geo(args_t args);
int run_audit(args_t args);
int run_keys(args_t args);

}  // namespace sovgw::cli
