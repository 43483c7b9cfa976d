#include "gateway/client_address.hpp"

#include <vector>

namespace sovgw::gateway {

namespace {

bool is_trusted(std::string_view ip, std::span<const policy::cidr_block> trusted) {
  const std::optional<policy::ip_address> a = policy::parse_ip(ip);
  if (!a) {
    return false;
  }
  for (const policy::cidr_block& b : trusted) {
    if (b.contains(*a)) {
      return true;
    }
  }
  return false;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// An X-Forwarded-For entry as an address: "192.0.2.1", "192.0.2.1:443", "2001:db8::1",
// "[2001:db8::1]" or "[2001:db8::1]:443". nullopt for anything else ("unknown", obfuscated ids).
std::optional<std::string> entry_address(std::string_view e) {
  if (!e.empty() && e.front() == '[') {
    const auto close = e.find(']');
    if (close == std::string_view::npos) {
      return std::nullopt;
    }
    e = e.substr(1, close - 1);
  } else if (e.find(':') != std::string_view::npos && e.find(':') == e.rfind(':')) {
    e = e.substr(0, e.find(':'));  // IPv4 with a port
  }
  const std::optional<policy::ip_address> a = policy::parse_ip(e);
  if (!a) {
    return std::nullopt;
  }
  return std::string(e);
}

}  // namespace

std::string_view country_source_name(address_source s) noexcept {
  switch (s) {
    case address_source::socket:
      return "geoip:socket";
    case address_source::proxy_protocol:
      return "proxy-protocol";
    case address_source::trusted_xff:
      return "trusted-xff";
  }
  return "geoip:socket";
}

std::optional<client_address> establish_client_address(std::string_view peer_ip,
                                                       std::string_view proxy_source_ip,
                                                       const http::message_head& head,
                                                       std::span<const policy::cidr_block> trusted) {
  client_address out{std::string(peer_ip), address_source::socket};
  if (!proxy_source_ip.empty() && is_trusted(peer_ip, trusted)) {
    out = {std::string(proxy_source_ip), address_source::proxy_protocol};
  }
  if (!is_trusted(out.ip, trusted)) {
    return out;
  }
  // Every X-Forwarded-For field in order, as one list; walked from the right.
  std::vector<std::string_view> hops;
  for (const http::field& f : head.fields) {
    if (f.id != http::field_id::x_forwarded_for) {
      continue;
    }
    std::string_view rest = f.value;
    while (true) {
      const auto comma = rest.find(',');
      hops.push_back(trim(rest.substr(0, comma)));
      if (comma == std::string_view::npos) {
        break;
      }
      rest = rest.substr(comma + 1);
    }
  }
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    std::optional<std::string> ip = entry_address(*it);
    if (!ip) {
      return std::nullopt;
    }
    out = {std::move(*ip), address_source::trusted_xff};
    if (!is_trusted(out.ip, trusted)) {
      break;
    }
  }
  return out;
}

}  // namespace sovgw::gateway
