#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/merkle.hpp"

// C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint) note text: origin, tree size, base64
// root hash, one per line. Extension lines are accepted when parsing and never produced.
namespace sovgw::crypto {

struct checkpoint {
  std::string origin;
  std::uint64_t size = 0;
  merkle::hash root{};

  [[nodiscard]] std::string to_text() const;
  // Strict: non-empty origin, decimal size without leading zeroes, 32-byte base64 root.
  [[nodiscard]] static std::optional<checkpoint> parse(std::string_view text);

  friend bool operator==(const checkpoint&, const checkpoint&) = default;
};

}  // namespace sovgw::crypto
