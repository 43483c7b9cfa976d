#include "gateway/client_address.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <vector>

#include "common/printable.hpp"

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
// A node's port (RFC 7239 node-port): 1 to 5 digits up to 65535, or an obfuscated port, "_"
// followed by letters, digits, ".", "_" or "-".
bool node_port(std::string_view p) {
  if (p.size() >= 2 && p.front() == '_') {
    return std::all_of(p.begin() + 1, p.end(), [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
             c == '_' || c == '-';
    });
  }
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
  // from_chars takes neither a sign nor spaces: only the digits
  return !p.empty() && p.size() <= 5 && ec == std::errc() && end == p.data() + p.size() && port <= 65535;
}

std::optional<std::string> entry_address(std::string_view e) {
  // Anything but an address and an optional port is refused, as `sovgw geo lookup` refuses it.
  if (!e.empty() && e.front() == '[') {
    const auto close = e.find(']');
    if (close == std::string_view::npos) {
      return std::nullopt;
    }
    const std::string_view after = e.substr(close + 1);
    if (!after.empty() && (after.front() != ':' || !node_port(after.substr(1)))) {
      return std::nullopt;
    }
    e = e.substr(1, close - 1);
  } else if (e.find(':') != std::string_view::npos && e.find(':') == e.rfind(':')) {
    if (!node_port(e.substr(e.find(':') + 1))) {
      return std::nullopt;
    }
    e = e.substr(0, e.find(':'));  // IPv4 with a port
  }
  const std::optional<policy::ip_address> a = policy::parse_ip(e);
  if (!a) {
    return std::nullopt;
  }
  return std::string(e);
}

bool forwarded_token_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// The `for=` value of each element of the Forwarded fields (RFC 7239), in order, unquoted. An
// element without one (`proto=https;host=...`, what some proxies write) says nothing of the
// client and is passed over; one with two gives an empty value (refused). The field is read
// strictly, as 1#forwarded-element of token=value pairs, a value a token (':', '[' and ']' taken
// too: proxies write addresses with ports unquoted) or a closed quoted-string, and anything else
// (an unclosed quote, text after a quoted string, a quote or backslash in a token) refuses the
// field: false, with `bad` the field's value. Read loosely, a client's own unclosed quote in any
// parameter (`Forwarded: for=84.16.0.1;x="`) swallowed the element a trusted proxy appended after
// it, and the client chose its address (probe round 41).
bool forwarded_for_values(const http::message_head& head, std::vector<std::string>& out,
                          std::string_view& bad) {
  const auto ows = [](std::string_view v, std::size_t& i) {
    while (i < v.size() && (v[i] == ' ' || v[i] == '\t')) {
      ++i;
    }
  };
  for (const http::field& f : head.fields) {
    if (f.id != http::field_id::forwarded) {
      continue;
    }
    const std::string_view v = f.value;
    bad = v;
    std::size_t i = 0;
    while (true) {  // one element per iteration
      std::string value;
      bool have = false;
      while (true) {  // one pair per iteration, separated by ';'
        ows(v, i);
        if (i < v.size() && v[i] != ';' && v[i] != ',') {
          const std::size_t name_begin = i;
          while (i < v.size() && forwarded_token_char(v[i])) {
            ++i;
          }
          const std::string_view name = v.substr(name_begin, i - name_begin);
          if (name.empty() || i >= v.size() || v[i] != '=') {
            return false;  // no name, or a name without '='
          }
          ++i;
          std::string pair_value;
          if (i < v.size() && v[i] == '"') {
            bool closed = false;
            for (++i; i < v.size(); ++i) {
              if (v[i] == '"') {
                closed = true;
                ++i;
                break;
              }
              if (v[i] == '\\') {
                if (++i >= v.size()) {
                  break;
                }
              }
              pair_value += v[i];
            }
            if (!closed) {
              return false;
            }
          } else {
            const std::size_t begin = i;
            while (i < v.size() &&
                   (forwarded_token_char(v[i]) || v[i] == ':' || v[i] == '[' || v[i] == ']')) {
              ++i;
            }
            pair_value = v.substr(begin, i - begin);
          }
          if (http::iequals(name, "for")) {
            // Twice in one element (RFC 7239 forbids it): one reader takes the first, another the
            // last; an empty value is no address, so the request is refused.
            value = have ? std::string() : std::move(pair_value);
            have = true;
          }
          ows(v, i);
        }
        if (i < v.size() && v[i] == ';') {
          ++i;
          continue;
        }
        if (i < v.size() && v[i] != ',') {
          return false;  // text after a value: a quote, a space inside a token, another '='
        }
        break;
      }
      if (have) {
        out.push_back(std::move(value));
      }
      if (i >= v.size()) {
        break;
      }
      ++i;  // past the ','
    }
  }
  return true;
}

// Walks `hops` from the right: the right-most entry that is not a trusted proxy, or the left-most
// when all are. nullopt if an entry on the way is not an address (`bad`: that entry); `found`
// false if there are none.
std::optional<std::string> rightmost_untrusted(const std::vector<std::string_view>& hops,
                                               std::span<const policy::cidr_block> trusted, bool& found,
                                               std::string_view& bad) {
  found = false;
  std::string ip;
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    std::optional<std::string> entry = entry_address(*it);
    if (!entry) {
      bad = *it;
      return std::nullopt;
    }
    found = true;
    ip = std::move(*entry);
    if (!is_trusted(ip, trusted)) {
      break;
    }
  }
  return ip;
}

}  // namespace

std::string_view country_source_name(address_source s) noexcept {
  switch (s) {
    case address_source::socket:
      return "geoip:socket";
    case address_source::proxy_protocol:
      return "proxy-protocol";
    case address_source::proxy_local:
      return "proxy-protocol-local";
    case address_source::trusted_xff:
      return "trusted-xff";
    case address_source::trusted_forwarded:
      return "trusted-forwarded";
  }
  return "geoip:socket";
}

std::optional<client_address> establish_client_address(std::string_view peer_ip,
                                                       std::string_view proxy_source_ip,
                                                       const http::message_head& head,
                                                       std::span<const policy::cidr_block> trusted,
                                                       std::string* why) {
  client_address out{std::string(peer_ip), address_source::socket};
  if (proxy_source_ip == proxy_local_source && is_trusted(peer_ip, trusted)) {
    return client_address{std::string(peer_ip), address_source::proxy_local};  // no XFF: the client's own
  }
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
  bool from_xff = false;
  std::string_view bad;
  std::optional<std::string> xff = rightmost_untrusted(hops, trusted, from_xff, bad);
  if (!xff) {
    if (why != nullptr) {
      *why = fmt::format(
          "X-Forwarded-For from the trusted proxy {} holds '{}' where the client's address "
          "should be (an IP address, with a port or not)",
          out.ip, printable(bad));
    }
    return std::nullopt;
  }
  // The same from Forwarded (RFC 7239), which a proxy may write instead or as well. Where both are
  // there, they must name the same client: a proxy writes one of them and passes the other through
  // from the client, so believing either alone would let a client choose its address.
  std::vector<std::string> values;
  if (!forwarded_for_values(head, values, bad)) {
    if (why != nullptr) {
      *why = fmt::format(
          "Forwarded from the trusted proxy {} is not well-formed (RFC 7239: pairs name=value, a value a "
          "token or a closed quoted string, separated by ';' and ','): '{}'",
          out.ip, printable(bad));
    }
    return std::nullopt;
  }
  hops.assign(values.begin(), values.end());
  bool from_forwarded = false;
  std::optional<std::string> fwd = rightmost_untrusted(hops, trusted, from_forwarded, bad);
  if (!fwd) {
    if (why != nullptr) {
      *why = fmt::format(
          "Forwarded from the trusted proxy {} holds for='{}' where the client's address should "
          "be (an IP address, with a port or not; not 'unknown' nor an obfuscated name)",
          out.ip, printable(bad));
    }
    return std::nullopt;
  }
  // The same address may be written two ways ("5.255.255.5", "::ffff:5.255.255.5").
  if (from_xff && from_forwarded && policy::parse_ip(*xff) != policy::parse_ip(*fwd)) {
    if (why != nullptr) {
      *why = fmt::format(
          "the trusted proxy {} names the client {} in X-Forwarded-For and {} in Forwarded: a "
          "proxy writes one and passes the client's own other through, so neither can be "
          "believed; have the proxy write one and remove the other",
          out.ip, *xff, *fwd);
    }
    return std::nullopt;
  }
  if (from_xff) {
    out = {std::move(*xff), address_source::trusted_xff};
  } else if (from_forwarded) {
    out = {std::move(*fwd), address_source::trusted_forwarded};
  }
  return out;
}

}  // namespace sovgw::gateway
