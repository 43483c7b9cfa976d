#pragma once

#include "common/printable.hpp"

namespace sovgw::cli {

using sovgw::hidden_from_terminals;
using sovgw::printable;

}  // namespace sovgw::cli
