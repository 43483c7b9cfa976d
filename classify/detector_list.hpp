#pragma once

// The detectors, in one table. The classifier's `detector` enum and the names a policy may use
// (policy::known_detectors()) are both generated from it, so they cannot drift. Bit i of a
// detector set (std::uint32_t) is the i-th entry; add new detectors at the end.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#define SOVGW_DETECTORS(X) \
  X(email)                 \
  X(phone)                 \
  X(iban)                  \
  X(payment_card)          \
  X(national_id)           \
  X(ip_address)            \
  X(person_name)           \
  X(health_code)           \
  X(postal_address)        \
  X(date_of_birth)         \
  X(opaque_content)        \
  X(remote_tools)

namespace sovgw::classify {

enum class detector : unsigned {
#define SOVGW_DETECTOR_ENUMERATOR(name) name,
  SOVGW_DETECTORS(SOVGW_DETECTOR_ENUMERATOR)
#undef SOVGW_DETECTOR_ENUMERATOR
};

inline constexpr std::array detector_names = {
#define SOVGW_DETECTOR_NAME(name) std::string_view(#name),
    SOVGW_DETECTORS(SOVGW_DETECTOR_NAME)
#undef SOVGW_DETECTOR_NAME
};
inline constexpr std::size_t detector_count = detector_names.size();
static_assert(detector_count <= 32, "detector sets are 32-bit masks");

constexpr std::uint32_t bit(detector d) noexcept { return 1u << static_cast<unsigned>(d); }
constexpr std::string_view detector_name(detector d) noexcept {
  return detector_names[static_cast<std::size_t>(d)];
}

}  // namespace sovgw::classify
