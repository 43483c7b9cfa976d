#pragma once

#include <array>
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

// The IPv6 forms that carry an IPv4 address: a client reaching the gateway through one of these
// translations or tunnels *is* that IPv4 host, and is geolocated as it.
enum class ipv4_embedding : std::uint8_t {
  none,
  mapped,       // ::ffff:0:0/96, the last 32 bits
  translated,   // ::ffff:0:0:0/96 (RFC 2765 IPv4-translated, SIIT), the last 32 bits
  compatible,   // ::/96 (deprecated IPv4-compatible), the last 32 bits
  nat64,        // 64:ff9b::/96 (RFC 6052 well-known prefix), the last 32 bits
  nat64_local,  // 64:ff9b:1::/48 (RFC 8215 local use): see embedded_ipv4::count
  six_to_four,  // 2002::/16 (RFC 3056), bits 16-47
  teredo,       // 2001::/32 (RFC 4380), the client: the last 32 bits inverted
};

struct embedded_ipv4 {
  ipv4_embedding form = ipv4_embedding::none;
  // The IPv4 address (count == 1). In 64:ff9b:1::/48 the network may use any RFC 6052 prefix
  // length the /48 allows (/48, /56, /64, /96), and nothing in the address says which: every
  // length whose layout the address fits (bits 64-71 zero, suffix zero) gives one reading, so
  // count is 0 to 4 there.
  std::array<std::uint32_t, 4> candidates{};
  unsigned count = 0;
};

[[nodiscard]] embedded_ipv4 find_embedded_ipv4(const ip_address& ip) noexcept;

// A CIDR block; first()/last() are the lowest and highest address in the block.
struct cidr_block {
  ip_address base;
  unsigned prefix = 0;

  [[nodiscard]] u128 first() const noexcept { return base.value; }
  [[nodiscard]] u128 last() const noexcept;
  [[nodiscard]] bool contains(const ip_address& ip) const noexcept {
    return ip.v4 == base.v4 && ip.value >= first() && ip.value <= last();
  }
  // Whether an IPv4 block holds the IPv4 address an IPv6 one carries (find_embedded_ipv4: any
  // of its readings), as the policy matches client.ip.
  [[nodiscard]] bool contains_embedded(const ip_address& ip) const noexcept;
  [[nodiscard]] bool contains(const cidr_block& other) const noexcept {
    return other.base.v4 == base.v4 && other.first() >= first() && other.last() <= last();
  }
};

// "10.0.0.0/8", "2001:db8::/32" or a bare address (a /32 or /128). On failure returns nullopt and
// sets `error` to a one-line reason (bad address, prefix out of range, host bits set).
[[nodiscard]] std::optional<cidr_block> parse_cidr(std::string_view text, std::string& error);
[[nodiscard]] std::string format_cidr(const cidr_block& block);

}  // namespace sovgw::policy
