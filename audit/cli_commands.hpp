#pragma once

#include <span>
#include <string_view>

// The `sovgw audit ...` and `sovgw keys ...` commands (cli/ forwards to these). Exit codes: 0
// success, 1 a verification failed, 2 bad usage or bad input (messages on stderr).
namespace sovgw::audit {

int run_audit_command(std::span<const std::string_view> args);
int run_keys_command(std::span<const std::string_view> args);

}  // namespace sovgw::audit
