#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sovgw::crypto {

// Lower-case hexadecimal encoding of arbitrary bytes.
std::string to_hex(std::span<const std::uint8_t> bytes);

// Decodes hexadecimal (either case); nullopt on odd length or a non-hex character.
std::optional<std::vector<std::uint8_t>> from_hex(std::string_view hex);

}  // namespace sovgw::crypto
