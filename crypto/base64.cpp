#include "crypto/base64.hpp"

#include <sodium.h>

#include "crypto/secret_bytes.hpp"

namespace sovgw::crypto {

std::string to_base64(std::span<const std::uint8_t> bytes) {
  ensure_sodium();
  if (bytes.empty()) {
    return {};
  }
  const std::size_t len = sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  std::string out(len, '\0');
  sodium_bin2base64(out.data(), len, bytes.data(), bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(len - 1);
  return out;
}

std::optional<std::vector<std::uint8_t>> from_base64(std::string_view text) {
  ensure_sodium();
  if (text.size() % 4 != 0) {
    return std::nullopt;
  }
  if (text.empty()) {
    return std::vector<std::uint8_t>();
  }
  std::vector<std::uint8_t> out(text.size() / 4 * 3);
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != text.data() + text.size()) {
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

}  // namespace sovgw::crypto
