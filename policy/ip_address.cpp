#include "policy/ip_address.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace sovgw::policy {
namespace {

u128 host_mask(bool v4, unsigned prefix) {
  const unsigned bits = v4 ? 32 : 128;
  if (prefix >= bits) {
    return 0;
  }
  const unsigned host_bits = bits - prefix;
  return host_bits == 128 ? ~u128{0} : ((u128{1} << host_bits) - 1);
}

}  // namespace

std::optional<ip_address> parse_ip(std::string_view text) {
  char buf[64];
  if (text.empty() || text.size() >= sizeof(buf)) {
    return std::nullopt;
  }
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  unsigned char bytes[16];
  if (inet_pton(AF_INET, buf, bytes) == 1) {
    return ip_address{(u128{bytes[0]} << 24) | (u128{bytes[1]} << 16) | (u128{bytes[2]} << 8) | bytes[3],
                      true};
  }
  if (inet_pton(AF_INET6, buf, bytes) != 1) {
    return std::nullopt;
  }
  u128 value = 0;
  for (unsigned char b : bytes) {
    value = (value << 8) | b;
  }
  if ((value >> 32) == 0xffff) {
    return ip_address{value & 0xffffffffu, true};
  }
  return ip_address{value, false};
}

std::string format_ip(const ip_address& ip) {
  char out[INET6_ADDRSTRLEN];
  unsigned char bytes[16];
  if (ip.v4) {
    for (int i = 0; i < 4; ++i) {
      bytes[i] = static_cast<unsigned char>(ip.value >> (24 - 8 * i));
    }
    inet_ntop(AF_INET, bytes, out, sizeof(out));
  } else {
    for (int i = 0; i < 16; ++i) {
      bytes[i] = static_cast<unsigned char>(ip.value >> (120 - 8 * i));
    }
    inet_ntop(AF_INET6, bytes, out, sizeof(out));
  }
  return out;
}

u128 cidr_block::last() const noexcept { return base.value | host_mask(base.v4, prefix); }

std::optional<cidr_block> parse_cidr(std::string_view text, std::string& error) {
  const auto slash = text.find('/');
  const auto address = parse_ip(text.substr(0, slash));
  if (!address) {
    error = "'" + std::string(text.substr(0, slash)) + "' is not an IP address";
    return std::nullopt;
  }
  const bool mapped_v4 = address->v4 && text.substr(0, slash).find(':') != std::string_view::npos;
  const unsigned bits = address->v4 ? 32 : 128;
  unsigned prefix = bits;
  if (slash != std::string_view::npos) {
    const auto digits = text.substr(slash + 1);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size()) {
      error = "'" + std::string(digits) + "' is not a prefix length";
      return std::nullopt;
    }
    if (mapped_v4) {
      if (prefix < 96 || prefix > 128) {
        error = "prefix length " + std::to_string(prefix) + " out of range for an IPv4-mapped address";
        return std::nullopt;
      }
      prefix -= 96;
    }
    if (prefix > bits) {
      error = "prefix length " + std::to_string(prefix) + " out of range (max " + std::to_string(bits) + ")";
      return std::nullopt;
    }
  }
  if ((address->value & host_mask(address->v4, prefix)) != 0) {
    error = "'" + std::string(text) + "' has host bits set";
    return std::nullopt;
  }
  return cidr_block{*address, prefix};
}

std::string format_cidr(const cidr_block& block) {
  return format_ip(block.base) + "/" + std::to_string(block.prefix);
}

}  // namespace sovgw::policy
