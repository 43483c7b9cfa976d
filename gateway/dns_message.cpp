#include "gateway/dns_message.hpp"

#include <arpa/inet.h>

#include <algorithm>

namespace sovgw::dns {

namespace {

constexpr std::size_t header_size = 12;
constexpr std::size_t max_name_bytes = 255;
constexpr std::size_t max_label_bytes = 63;
constexpr int max_chain = 16;  // CNAMEs followed before the chain counts as a loop
constexpr std::uint16_t class_in = 1;

std::uint16_t u16(std::span<const std::uint8_t> m, std::size_t at) {
  return static_cast<std::uint16_t>((m[at] << 8) | m[at + 1]);
}

std::uint32_t u32(std::span<const std::uint8_t> m, std::size_t at) {
  return (std::uint32_t{u16(m, at)} << 16) | u16(m, at + 2);
}

char lower(std::uint8_t c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c); }

// Reads the (possibly compressed) name at `at` into its lower-cased wire form; `end` is where the
// name's bytes end at `at` (after the first pointer, if any). A pointer must point before itself,
// so reading ends.
bool read_name(std::span<const std::uint8_t> m, std::size_t at, std::string& out, std::size_t& end) {
  out.clear();
  bool jumped = false;
  while (at < m.size()) {
    const std::uint8_t len = m[at];
    if ((len & 0xC0) == 0xC0) {
      if (at + 1 >= m.size()) {
        return false;
      }
      const std::size_t target = static_cast<std::size_t>(((len & 0x3F) << 8) | m[at + 1]);
      if (target >= at) {
        return false;
      }
      if (!jumped) {
        end = at + 2;
        jumped = true;
      }
      at = target;
      continue;
    }
    // The name so far, this label and the root label must fit.
    if ((len & 0xC0) != 0 || at + 1 + len > m.size() ||
        (len != 0 && out.size() + 1 + len + 1 > max_name_bytes)) {
      return false;
    }
    out += static_cast<char>(len);
    if (len == 0) {
      if (!jumped) {
        end = at + 1;
      }
      return true;
    }
    for (std::size_t i = at + 1; i <= at + len; ++i) {
      out += lower(m[i]);
    }
    at += 1 + len;
  }
  return false;
}

struct record {
  std::string owner;
  std::uint16_t type = 0;
  std::uint32_t ttl = 0;
  std::size_t rdata = 0;  // offset
  std::uint16_t rdlength = 0;
  std::string cname;  // wire form, for a CNAME
};

// Reads the answer section's records of class IN; false for a malformed one.
bool read_records(std::span<const std::uint8_t> m, std::size_t at, std::uint16_t count,
                  std::vector<record>& out) {
  for (std::uint16_t i = 0; i < count; ++i) {
    record r;
    if (!read_name(m, at, r.owner, at) || at + 10 > m.size()) {
      return false;
    }
    r.type = u16(m, at);
    const std::uint16_t klass = u16(m, at + 2);
    const std::uint32_t ttl = u32(m, at + 4);
    r.ttl = ttl > 0x7FFFFFFFu ? 0 : ttl;
    r.rdlength = u16(m, at + 8);
    r.rdata = at + 10;
    at = r.rdata + r.rdlength;
    if (at > m.size()) {
      return false;
    }
    if (klass != class_in) {
      continue;
    }
    if (r.type == static_cast<std::uint16_t>(record_type::cname)) {
      std::size_t name_end = 0;
      if (!read_name(m.first(at), r.rdata, r.cname, name_end) || name_end != at) {
        return false;
      }
    }
    out.push_back(std::move(r));
  }
  return true;
}

parse_error rcode_error(std::uint16_t flags) {
  switch (flags & 0x000F) {
    case 0:
      return parse_error::none;
    case 2:
      return parse_error::server_failure;
    case 3:
      return parse_error::name_error;
    default:
      return parse_error::refused;
  }
}

// Follows `name`'s CNAME chain to the records of `type`.
answer follow_chain(std::span<const std::uint8_t> m, const std::vector<record>& records, std::string name,
                    record_type type) {
  answer out;
  const auto wanted = static_cast<std::uint16_t>(type);
  const std::uint16_t size = type == record_type::a ? 4 : 16;
  const auto keep_ttl = [&out](std::uint32_t ttl) { out.ttl_s = std::min(out.ttl_s.value_or(ttl), ttl); };
  for (int hop = 0; hop <= max_chain; ++hop) {
    const record* cname = nullptr;
    for (const record& r : records) {
      if (r.owner != name) {
        continue;
      }
      if (r.type == wanted) {
        if (r.rdlength != size) {
          return answer{parse_error::malformed, {}, std::nullopt};
        }
        address a;
        a.family = type == record_type::a ? 4 : 6;
        std::copy_n(m.begin() + static_cast<std::ptrdiff_t>(r.rdata), size, a.bytes.begin());
        out.addresses.push_back(a);
        keep_ttl(r.ttl);
      } else if (r.type == static_cast<std::uint16_t>(record_type::cname) && cname == nullptr) {
        cname = &r;
      }
    }
    if (!out.addresses.empty() || cname == nullptr) {
      return out;
    }
    keep_ttl(cname->ttl);
    name = cname->cname;
  }
  return answer{parse_error::malformed, {}, std::nullopt};  // a loop, or a chain too long to follow
}

}  // namespace

std::string_view describe(parse_error e) {
  switch (e) {
    case parse_error::none:
      return "an answer";
    case parse_error::too_short:
      return "a DNS message cut short";
    case parse_error::not_the_answer:
      return "a DNS message that does not answer the query";
    case parse_error::truncated:
      return "a truncated DNS answer";
    case parse_error::name_error:
      return "no such name (NXDOMAIN)";
    case parse_error::server_failure:
      return "the name server failed (SERVFAIL)";
    case parse_error::refused:
      return "the name server refused the query";
    case parse_error::malformed:
      return "a malformed DNS answer";
  }
  return "a DNS error";
}

std::string address::to_string() const {
  std::array<char, INET6_ADDRSTRLEN> text{};
  return inet_ntop(family == 4 ? AF_INET : AF_INET6, bytes.data(), text.data(), text.size());
}

std::string wire_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') {
    name.remove_suffix(1);
  }
  if (name.empty() || name.size() + 2 > max_name_bytes) {
    return {};
  }
  std::string out;
  while (true) {
    const std::size_t dot = name.find('.');
    const std::string_view label = name.substr(0, dot);
    if (label.empty() || label.size() > max_label_bytes) {
      return {};
    }
    out += static_cast<char>(label.size());
    for (char c : label) {
      out += lower(static_cast<std::uint8_t>(c));
    }
    if (dot == std::string_view::npos) {
      break;
    }
    name.remove_prefix(dot + 1);
  }
  out += '\0';
  return out;
}

std::vector<std::uint8_t> build_query(std::uint16_t id, std::string_view name, record_type type) {
  const std::string qname = wire_name(name);
  if (qname.empty()) {
    return {};
  }
  const auto t = static_cast<std::uint16_t>(type);
  std::vector<std::uint8_t> out = {
      static_cast<std::uint8_t>(id >> 8), static_cast<std::uint8_t>(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  out.insert(out.end(), qname.begin(), qname.end());
  out.insert(out.end(), {static_cast<std::uint8_t>(t >> 8), static_cast<std::uint8_t>(t), 0, class_in});
  return out;
}

answer parse_answer(std::span<const std::uint8_t> m, std::uint16_t id, std::string_view name,
                    record_type type) {
  if (m.size() < header_size) {
    return answer{parse_error::too_short, {}, std::nullopt};
  }
  const std::uint16_t flags = u16(m, 2);
  const bool is_response = (flags & 0x8000) != 0;
  const unsigned opcode = (flags >> 11) & 0x0F;
  if (u16(m, 0) != id || !is_response || opcode != 0 || u16(m, 4) != 1) {
    return answer{parse_error::not_the_answer, {}, std::nullopt};
  }
  std::string qname;
  std::size_t at = 0;
  if (!read_name(m, header_size, qname, at) || at + 4 > m.size() || qname != wire_name(name) ||
      u16(m, at) != static_cast<std::uint16_t>(type) || u16(m, at + 2) != class_in) {
    return answer{parse_error::not_the_answer, {}, std::nullopt};
  }
  if ((flags & 0x0200) != 0) {
    return answer{parse_error::truncated, {}, std::nullopt};
  }
  if (const parse_error e = rcode_error(flags); e != parse_error::none) {
    return answer{e, {}, std::nullopt};
  }
  std::vector<record> records;
  if (!read_records(m, at + 4, u16(m, 6), records)) {
    return answer{parse_error::malformed, {}, std::nullopt};
  }
  return follow_chain(m, records, std::move(qname), type);
}

}  // namespace sovgw::dns
