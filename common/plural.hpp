#pragma once

#include <cstdint>
#include <string_view>

namespace sovgw {

// The noun for a count, as a sentence says it: "1 record", "3 records" (never "record(s)").
[[nodiscard]] constexpr std::string_view plural(std::uint64_t n, std::string_view one,
                                                std::string_view many) {
  return n == 1 ? one : many;
}

}  // namespace sovgw
