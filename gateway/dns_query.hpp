#pragma once

// Resolving an endpoint name with the DNS answer's TTL (docs/configuration.md, `dns_resolvers`):
// A and AAAA queries through glibc's stub resolver (res_nquery, libresolv) to the configured
// name servers, no search domains, no /etc/hosts. getaddrinfo gives the addresses but not how long
// they may be kept; this gives both, so re-resolution can follow the zone's TTL.
//
// Blocking (the resolver's own timeouts: 2 s per try, 2 tries per server): start-up and the control
// thread only. Thread-safe (each call has its own resolver state).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sovgw::gateway {

struct dns_server {
  std::string address;  // IPv4 (glibc's resolver state holds IPv4 name servers)
  std::uint16_t port = 53;
};

struct dns_answer {
  std::vector<std::string> addresses;  // A then AAAA records, in answer order
  std::uint32_t ttl_s = 0;             // the smallest TTL of the answers' records (CNAMEs included)
  std::string error;                   // empty when some address was found
};

// Resolves `host` at `servers` (at least one, at most 3: MAXNS).
[[nodiscard]] dns_answer dns_resolve(const std::string& host, const std::vector<dns_server>& servers);

}  // namespace sovgw::gateway
