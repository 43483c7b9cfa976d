#pragma once

// What the JSON body's SAX handlers (json_body.cpp, json_redact.cpp) share. Internal to classify/.
#include <cstddef>

namespace sovgw::classify::detail {

// Boost.JSON's per-handler limits: none (the gateway's limits.max_body_bytes bounds the body).
struct no_size_limits {
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);
};

}  // namespace sovgw::classify::detail
