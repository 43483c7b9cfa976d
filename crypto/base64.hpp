#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sovgw::crypto {

// Standard base64 (RFC 4648 section 4, with padding), as used by C2SP notes and proofs.
std::string to_base64(std::span<const std::uint8_t> bytes);

// Strict decoding: padding required, no whitespace, no other alphabet; nullopt otherwise.
std::optional<std::vector<std::uint8_t>> from_base64(std::string_view text);

}  // namespace sovgw::crypto
