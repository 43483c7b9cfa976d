#pragma once

// Who the client is, network-wise: the socket's peer, unless that peer is a trusted front proxy
// (config.trusted_proxies), whose word is then taken — its PROXY protocol v2 header, then the
// right-most X-Forwarded-For entry (or RFC 7239 Forwarded `for=`) that is not itself a trusted
// proxy; where both fields are there they must agree. A client can never choose its own address:
// entries left of an untrusted hop are the client's claims and are ignored.
// Pure code.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "gateway/http_parser.hpp"
#include "policy/ip_address.hpp"

namespace sovgw::gateway {

// proxy_local: a trusted L4 proxy's PROXY v2 LOCAL header, which carries no client (HAProxy sends
// it for its own health checks, and for client connections whose front is a UNIX socket): the
// client is nobody known, so its country is `unknown`, never the proxy's own (`private`) nor what
// the client wrote in X-Forwarded-For (over an L4 proxy, the client's own claim).
enum class address_source : std::uint8_t {
  socket,
  proxy_protocol,
  proxy_local,
  trusted_xff,
  trusted_forwarded
};

// The proxy_source_ip of a connection that began with a PROXY v2 LOCAL header.
inline constexpr std::string_view proxy_local_source = "local";

// How the audit record and the access log name the source of the client country.
[[nodiscard]] std::string_view country_source_name(address_source s) noexcept;
// The source name when the country is a verified client certificate's subject C
// (client_country.from_certificate).
inline constexpr std::string_view mtls_country_source = "mtls";

struct client_address {
  std::string ip;
  address_source source = address_source::socket;
};

// `proxy_source_ip`: the source address of a PROXY v2 header the trusted peer sent (empty: none;
// proxy_local_source: a LOCAL header).
// nullopt when a trusted proxy's X-Forwarded-For or Forwarded holds an entry that is not an IP
// address where the client's address should be ("unknown", an obfuscated identifier), or when
// the two name different clients (refused, never guessed): then `why`, if given, says which field
// and entry.
[[nodiscard]] std::optional<client_address> establish_client_address(
    std::string_view peer_ip, std::string_view proxy_source_ip, const http::message_head& head,
    std::span<const policy::cidr_block> trusted, std::string* why = nullptr);

}  // namespace sovgw::gateway
