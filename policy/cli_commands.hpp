#pragma once

#include <cstdio>
#include <span>
#include <string_view>

// The logic of `sovgw policy …` and `sovgw geo …` (cli/policy_cmd.cpp only forwards). Each takes the
// arguments after the command family name and returns the exit code: 0 success, 1 a check, test or
// diff found a failure or a difference, 2 bad usage or bad input. Output goes to `out`, errors to `err`.
namespace sovgw::policy {

[[nodiscard]] int run_policy_command(std::span<const std::string_view> args, std::FILE* out, std::FILE* err);
[[nodiscard]] int run_geo_command(std::span<const std::string_view> args, std::FILE* out, std::FILE* err);

}  // namespace sovgw::policy
