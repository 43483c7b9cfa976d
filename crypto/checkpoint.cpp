#include "crypto/checkpoint.hpp"

#include <charconv>

#include "crypto/base64.hpp"

namespace sovgw::crypto {

std::string checkpoint::to_text() const {
  return origin + "\n" + std::to_string(size) + "\n" + to_base64(root) + "\n";
}

std::optional<checkpoint> checkpoint::parse(std::string_view text) {
  if (text.empty() || text.back() != '\n') {
    return std::nullopt;
  }
  std::string_view lines[3];
  for (auto& line : lines) {
    const auto nl = text.find('\n');
    if (nl == std::string_view::npos || nl == 0) {
      return std::nullopt;
    }
    line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
  }
  while (!text.empty()) {
    const auto nl = text.find('\n');
    if (nl == 0) {
      return std::nullopt;
    }
    text.remove_prefix(nl + 1);
  }
  checkpoint cp;
  cp.origin = std::string(lines[0]);
  const auto size_text = lines[1];
  if ((size_text.size() > 1 && size_text[0] == '0') || size_text.size() > 20) {
    return std::nullopt;
  }
  const auto [end, ec] = std::from_chars(size_text.data(), size_text.data() + size_text.size(), cp.size);
  if (ec != std::errc() || end != size_text.data() + size_text.size()) {
    return std::nullopt;
  }
  auto root = from_base64(lines[2]);
  if (!root || root->size() != cp.root.size()) {
    return std::nullopt;
  }
  std::copy(root->begin(), root->end(), cp.root.begin());
  return cp;
}

}  // namespace sovgw::crypto
