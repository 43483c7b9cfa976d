#include "gateway/proxy_protocol.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace sovgw::http {

namespace {

constexpr unsigned char signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                         0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr unsigned char tcp_over_ipv4 = 0x11;
constexpr unsigned char tcp_over_ipv6 = 0x21;

unsigned char byte_at(std::string_view s, std::size_t i) { return static_cast<unsigned char>(s[i]); }

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
  if (family == tcp_over_ipv4) {
    if (body.size() < 12) {
      return proxy_error::short_addresses;
    }
    inet_ntop(AF_INET, body.data(), text, sizeof text);
    port_at = 8;
  } else if (family == tcp_over_ipv6) {
    if (body.size() < 36) {
      return proxy_error::short_addresses;
    }
    inet_ntop(AF_INET6, body.data(), text, sizeof text);
    port_at = 32;
  } else {
    return proxy_error::bad_family;
  }
  out.source_address = text;
  out.source_port = static_cast<std::uint16_t>((byte_at(body, port_at) << 8) | byte_at(body, port_at + 1));
  return proxy_error::none;
}

}  // namespace sovgw::http
