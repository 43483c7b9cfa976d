#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

// IP addresses and CIDR blocks as plain integers (no sockets involved). Pure, thread-safe.
namespace sovgw::policy {

using u128 = unsigned __int128;

// An IPv4 address (value < 2^32, v4 = true) or an IPv6 address. IPv4-mapped IPv6 addresses
// (::ffff:a.b.c.d) are normalised to IPv4 by parse_ip.
struct ip_address {
  u128 value = 0;
  bool v4 = true;

  friend bool operator==(const ip_address&, const ip_address&) = default;
};

[[nodiscard]] std::optional<ip_address> parse_ip(std::string_view text);
[[nodiscard]] std::string format_ip(const ip_address& ip);

// A CIDR block; first()/last() are the lowest and highest address in the block.
struct cidr_block {
  ip_address base;
  unsigned prefix = 0;

  [[nodiscard]] u128 first() const noexcept { return base.value; }
  [[nodiscard]] u128 last() const noexcept;
  [[nodiscard]] bool contains(const ip_address& ip) const noexcept {
    return ip.v4 == base.v4 && ip.value >= first() && ip.value <= last();
  }
  [[nodiscard]] bool contains(const cidr_block& other) const noexcept {
    return other.base.v4 == base.v4 && other.first() >= first() && other.last() <= last();
  }
};

// "10.0.0.0/8", "2001:db8::/32" or a bare address (a /32 or /128). On failure returns nullopt and
// sets `error` to a one-line reason (bad address, prefix out of range, host bits set).
[[nodiscard]] std::optional<cidr_block> parse_cidr(std::string_view text, std::string& error);
[[nodiscard]] std::string format_cidr(const cidr_block& block);

}  // namespace sovgw::policy
