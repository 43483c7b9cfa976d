// The detector names policies may use (policy_source.hpp), generated from the classifier's detector
// table (classify/detector_list.hpp) so that the names and the detectors cannot drift.
#include "classify/detector_list.hpp"
#include "policy/policy_source.hpp"

namespace sovgw::policy {

const std::vector<std::string_view>& known_detectors() noexcept {
  static const std::vector<std::string_view> names(classify::detector_names.begin(),
                                                   classify::detector_names.end());
  return names;
}

std::optional<unsigned> detector_index(std::string_view name) noexcept {
  const auto& names = known_detectors();
  for (unsigned i = 0; i < names.size(); ++i) {
    if (names[i] == name) {
      return i;
    }
  }
  return std::nullopt;
}

std::vector<std::string_view> detector_names(std::uint32_t bits) {
  std::vector<std::string_view> out;
  for (unsigned i = 0; i < known_detectors().size(); ++i) {
    if ((bits & (1u << i)) != 0) {
      out.push_back(known_detectors()[i]);
    }
  }
  return out;
}

}  // namespace sovgw::policy
