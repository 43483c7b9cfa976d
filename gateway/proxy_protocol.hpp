#pragma once

// The PROXY protocol version 2 header (HAProxy's,
// https://www.haproxy.org/download/2.6/doc/proxy-protocol.txt) that a trusted front proxy sends before the
// TLS handshake to say who the client is. Pure code: the session reads exactly the bytes this parser asks
// for, so no TLS byte is ever consumed.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sovgw::http {

inline constexpr std::size_t proxy_v2_fixed_size = 16;  // signature, version/command, family, length
inline constexpr std::size_t proxy_v2_max_size = proxy_v2_fixed_size + 65535;

enum class proxy_error : std::uint8_t {
  none,
  bad_signature,  // not a PROXY v2 header (a v1 text header counts as this too)
  bad_version,
  bad_command,
  bad_family,       // not TCP over IPv4 or IPv6 (and not LOCAL)
  short_addresses,  // the length is too small for the addresses of the family
  bad_tlvs,         // the TLVs after the addresses do not fill the header exactly
  bad_checksum,     // a PP2_TYPE_CRC32C TLV that does not match the header
  bad_source,       // a source no host has: unspecified, broadcast or multicast
};

[[nodiscard]] std::string_view describe(proxy_error e);

// From the first proxy_v2_fixed_size bytes: how many bytes the whole header has (fixed part
// included), or an error.
struct proxy_prefix {
  proxy_error error = proxy_error::none;
  std::size_t total_size = 0;
};
[[nodiscard]] proxy_prefix parse_proxy_v2_prefix(std::string_view first16);

struct proxy_header {
  bool local = false;          // LOCAL command (the proxy's own health check): use the socket address
  std::string source_address;  // textual IPv4 or IPv6
  std::uint16_t source_port = 0;
};

// The whole header (exactly total_size bytes). TLVs are read only to check that they fill the
// header exactly and, where one is a CRC32C, that it matches (the specification's MUST); their
// contents are not used.
[[nodiscard]] proxy_error parse_proxy_v2(std::string_view header, proxy_header& out);

}  // namespace sovgw::http
