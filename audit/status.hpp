#pragma once

#include "common/status.hpp"

// The audit library reports errors with the shared status / result<T> (common/status.hpp); these
// names keep `audit::status` and friends valid for its callers.
namespace sovgw::audit {

using sovgw::error_code;
using sovgw::result;
using sovgw::status;

}  // namespace sovgw::audit
