#pragma once

#include "policy/ip_address.hpp"

// The special-purpose address space (docs/policy.md, Geo data) as the gateway judges a client by
// it: the blocks that are never globally reachable are client.country `private` in every geo
// database, and no other address ever is. Implemented beside geo_db, which overlays the same
// blocks on its data. Pure, thread-safe.
namespace sovgw::policy {

// Whether the gateway always takes `ip` for client.country `private`, whatever its geo data: a
// special-purpose address, or an IPv6 address carrying one (6to4, NAT64, Teredo, ...: located as
// the IPv4 address it carries). Every other address is never `private`.
[[nodiscard]] bool is_special_purpose(const ip_address& ip);

// Whether no address a rule's client.ip `block` matches is ever `private`: the block holds no
// special-purpose address and (an IPv6 block) no address that carries an IPv4 one, which may be
// special-purpose. An IPv4 block also matches the IPv6 addresses that carry its addresses, and
// those are located as the address they carry: never `private` either.
[[nodiscard]] bool never_private(const cidr_block& block);

}  // namespace sovgw::policy
