#include "gateway/proxy_protocol.hpp"

#include <arpa/inet.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "common/crc32c.hpp"

namespace sovgw::http {

namespace {

constexpr unsigned char signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                         0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr unsigned char tcp_over_ipv4 = 0x11;
constexpr unsigned char tcp_over_ipv6 = 0x21;

unsigned char byte_at(std::string_view s, std::size_t i) { return static_cast<unsigned char>(s[i]); }

constexpr unsigned char pp2_type_crc32c = 0x03;

// The TLVs after the addresses (`tlvs`, from offset `at` of `header`): each must end inside the
// header and the last at its end; a CRC32C one must match the header with its value zeroed.
proxy_error check_tlvs(std::string_view header, std::size_t at) {
  while (at < header.size()) {
    if (header.size() - at < 3) {
      return proxy_error::bad_tlvs;
    }
    const unsigned char type = byte_at(header, at);
    const std::size_t length =
        (static_cast<std::size_t>(byte_at(header, at + 1)) << 8) | byte_at(header, at + 2);
    if (header.size() - at - 3 < length) {
      return proxy_error::bad_tlvs;
    }
    if (type == pp2_type_crc32c) {
      if (length != 4) {
        return proxy_error::bad_tlvs;
      }
      std::string copy(header);
      std::memset(copy.data() + at + 3, 0, 4);
      const std::uint32_t sent = (static_cast<std::uint32_t>(byte_at(header, at + 3)) << 24) |
                                 (static_cast<std::uint32_t>(byte_at(header, at + 4)) << 16) |
                                 (static_cast<std::uint32_t>(byte_at(header, at + 5)) << 8) |
                                 byte_at(header, at + 6);
      if (sovgw::crc32c(copy) != sent) {
        return proxy_error::bad_checksum;
      }
    }
    at += 3 + length;
  }
  return proxy_error::none;
}

}  // namespace

std::string_view describe(proxy_error e) {
  switch (e) {
    case proxy_error::none:
      return "no error";
    case proxy_error::bad_signature:
      return "the connection from a trusted proxy did not start with a PROXY protocol v2 header";
    case proxy_error::bad_version:
      return "PROXY protocol version is not 2";
    case proxy_error::bad_command:
      return "PROXY protocol command is neither LOCAL nor PROXY";
    case proxy_error::bad_family:
      return "PROXY protocol address family is not TCP over IPv4 or IPv6";
    case proxy_error::short_addresses:
      return "PROXY protocol header too short for its addresses";
    case proxy_error::bad_tlvs:
      return "PROXY protocol TLVs do not fill the header exactly (one runs past its end, or stray bytes "
             "follow)";
    case proxy_error::bad_checksum:
      return "PROXY protocol CRC32C checksum does not match the header";
    case proxy_error::bad_source:
      return "PROXY protocol source address is no host's (unspecified, broadcast or multicast)";
  }
  return "unknown PROXY protocol error";
}

proxy_prefix parse_proxy_v2_prefix(std::string_view first16) {
  if (first16.size() < proxy_v2_fixed_size || std::memcmp(first16.data(), signature, sizeof signature) != 0) {
    return {proxy_error::bad_signature, 0};
  }
  const unsigned char version_command = byte_at(first16, 12);
  if ((version_command >> 4) != 2) {
    return {proxy_error::bad_version, 0};
  }
  if ((version_command & 0x0F) > 1) {
    return {proxy_error::bad_command, 0};
  }
  const std::size_t length = (static_cast<std::size_t>(byte_at(first16, 14)) << 8) | byte_at(first16, 15);
  return {proxy_error::none, proxy_v2_fixed_size + length};
}

proxy_error parse_proxy_v2(std::string_view header, proxy_header& out) {
  const proxy_prefix prefix = parse_proxy_v2_prefix(header);
  if (prefix.error != proxy_error::none) {
    return prefix.error;
  }
  if (header.size() != prefix.total_size) {
    return proxy_error::short_addresses;
  }
  out = proxy_header{};
  if ((byte_at(header, 12) & 0x0F) == 0) {
    out.local = true;  // LOCAL: addresses (if any) are to be ignored
    return proxy_error::none;
  }
  const unsigned char family = byte_at(header, 13);
  const std::string_view body = header.substr(proxy_v2_fixed_size);
  char text[INET6_ADDRSTRLEN] = {};
  std::size_t port_at = 0;
  std::size_t addresses = 0;
  bool no_host = false;  // 0.0.0.0, 255.255.255.255, 224/4; ::, ff00::/8
  if (family == tcp_over_ipv4) {
    addresses = 12;
    if (body.size() < addresses) {
      return proxy_error::short_addresses;
    }
    inet_ntop(AF_INET, body.data(), text, sizeof text);
    port_at = 8;
    const std::uint32_t a = (static_cast<std::uint32_t>(byte_at(body, 0)) << 24) |
                            (static_cast<std::uint32_t>(byte_at(body, 1)) << 16) |
                            (static_cast<std::uint32_t>(byte_at(body, 2)) << 8) | byte_at(body, 3);
    no_host = a == 0 || a == 0xFFFFFFFFu || (a >> 28) == 0xE;
  } else if (family == tcp_over_ipv6) {
    addresses = 36;
    if (body.size() < addresses) {
      return proxy_error::short_addresses;
    }
    inet_ntop(AF_INET6, body.data(), text, sizeof text);
    port_at = 32;
    static constexpr char zeros[16] = {};
    no_host = std::memcmp(body.data(), zeros, 16) == 0 || byte_at(body, 0) == 0xFF;
  } else {
    return proxy_error::bad_family;
  }
  if (const proxy_error e = check_tlvs(header, proxy_v2_fixed_size + addresses); e != proxy_error::none) {
    return e;
  }
  if (no_host) {
    return proxy_error::bad_source;
  }
  out.source_address = text;
  out.source_port = static_cast<std::uint16_t>((byte_at(body, port_at) << 8) | byte_at(body, port_at + 1));
  return proxy_error::none;
}

}  // namespace sovgw::http
