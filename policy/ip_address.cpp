#include "policy/ip_address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace sovgw::policy {
namespace {

u128 host_mask(bool v4, unsigned prefix) {
  const unsigned bits = v4 ? 32 : 128;
  if (prefix >= bits) {
    return 0;
  }
  const unsigned host_bits = bits - prefix;
  return host_bits == 128 ? ~u128{0} : ((u128{1} << host_bits) - 1);
}

// `len` bits of a 128-bit address starting at bit `start` (bit 0 is the most significant).
u128 bits_at(u128 value, unsigned start, unsigned len) noexcept {
  const u128 field = value >> (128 - start - len);
  return len == 128 ? field : field & ((u128{1} << len) - 1);
}

// RFC 6052 section 2.2: the IPv4 address follows a prefix of `prefix` bits, skipping bits 64-71
// (which are zero), and the suffix after it is zero.
std::optional<std::uint32_t> rfc6052_reading(u128 value, unsigned prefix) noexcept {
  if (bits_at(value, 64, 8) != 0) {
    return std::nullopt;
  }
  u128 v4 = 0;
  unsigned taken = 0;
  unsigned bit = prefix;
  while (taken < 32) {
    if (bit == 64) {
      bit = 72;
    }
    const unsigned run = std::min(32 - taken, bit < 64 ? 64 - bit : 128 - bit);
    v4 = (v4 << run) | bits_at(value, bit, run);
    taken += run;
    bit += run;
  }
  if (bit < 128 && bits_at(value, bit, 128 - bit) != 0) {
    return std::nullopt;
  }
  return static_cast<std::uint32_t>(v4);
}

}  // namespace

bool cidr_block::contains_embedded(const ip_address& ip) const noexcept {
  if (ip.v4 || !base.v4) {
    return false;
  }
  const embedded_ipv4 e = find_embedded_ipv4(ip);
  for (unsigned i = 0; i < e.count; ++i) {
    if (contains(ip_address{e.candidates[i], true})) {
      return true;
    }
  }
  return false;
}

embedded_ipv4 find_embedded_ipv4(const ip_address& ip) noexcept {
  embedded_ipv4 out;
  if (ip.v4) {
    return out;
  }
  const u128 v = ip.value;
  const auto low32 = static_cast<std::uint32_t>(v);
  const auto one = [&](ipv4_embedding form, std::uint32_t v4) {
    out.form = form;
    out.candidates[0] = v4;
    out.count = 1;
    return out;
  };
  if ((v >> 32) == 0xffff) {
    return one(ipv4_embedding::mapped, low32);
  }
  if ((v >> 32) == 0xffff0000) {
    return one(ipv4_embedding::translated, low32);
  }
  if ((v >> 32) == 0) {
    return one(ipv4_embedding::compatible, low32);
  }
  if ((v >> 32) == (u128{0x0064ff9b} << 64)) {
    return one(ipv4_embedding::nat64, low32);
  }
  if ((v >> 112) == 0x2002) {
    return one(ipv4_embedding::six_to_four, static_cast<std::uint32_t>(bits_at(v, 16, 32)));
  }
  if ((v >> 96) == 0x20010000) {
    return one(ipv4_embedding::teredo, ~low32);
  }
  if ((v >> 80) == 0x0064ff9b0001) {
    out.form = ipv4_embedding::nat64_local;
    for (const unsigned prefix : {48u, 56u, 64u, 96u}) {
      if (const auto v4 = rfc6052_reading(v, prefix)) {
        out.candidates[out.count++] = *v4;
      }
    }
  }
  return out;
}

std::optional<ip_address> parse_ip(std::string_view text) {
  char buf[64];
  if (text.empty() || text.size() >= sizeof(buf)) {
    return std::nullopt;
  }
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  unsigned char bytes[16];
  if (inet_pton(AF_INET, buf, bytes) == 1) {
    return ip_address{(u128{bytes[0]} << 24) | (u128{bytes[1]} << 16) | (u128{bytes[2]} << 8) | bytes[3],
                      true};
  }
  if (inet_pton(AF_INET6, buf, bytes) != 1) {
    return std::nullopt;
  }
  u128 value = 0;
  for (unsigned char b : bytes) {
    value = (value << 8) | b;
  }
  if ((value >> 32) == 0xffff) {
    return ip_address{value & 0xffffffffu, true};
  }
  return ip_address{value, false};
}

std::string format_ip(const ip_address& ip) {
  char out[INET6_ADDRSTRLEN];
  unsigned char bytes[16];
  if (ip.v4) {
    for (int i = 0; i < 4; ++i) {
      bytes[i] = static_cast<unsigned char>(ip.value >> (24 - 8 * i));
    }
    inet_ntop(AF_INET, bytes, out, sizeof(out));
  } else {
    for (int i = 0; i < 16; ++i) {
      bytes[i] = static_cast<unsigned char>(ip.value >> (120 - 8 * i));
    }
    inet_ntop(AF_INET6, bytes, out, sizeof(out));
  }
  return out;
}

u128 cidr_block::last() const noexcept { return base.value | host_mask(base.v4, prefix); }

std::optional<cidr_block> parse_cidr(std::string_view text, std::string& error) {
  const auto slash = text.find('/');
  const auto address = parse_ip(text.substr(0, slash));
  if (!address) {
    error = "'" + std::string(text.substr(0, slash)) + "' is not an IP address";
    return std::nullopt;
  }
  const bool mapped_v4 = address->v4 && text.substr(0, slash).find(':') != std::string_view::npos;
  const unsigned bits = address->v4 ? 32 : 128;
  unsigned prefix = bits;
  if (slash != std::string_view::npos) {
    const auto digits = text.substr(slash + 1);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size()) {
      error = "'" + std::string(digits) + "' is not a prefix length";
      return std::nullopt;
    }
    if (mapped_v4) {
      if (prefix < 96 || prefix > 128) {
        error = "prefix length " + std::to_string(prefix) + " out of range for an IPv4-mapped address";
        return std::nullopt;
      }
      prefix -= 96;
    }
    if (prefix > bits) {
      error = "prefix length " + std::to_string(prefix) + " out of range (max " + std::to_string(bits) + ")";
      return std::nullopt;
    }
  }
  if ((address->value & host_mask(address->v4, prefix)) != 0) {
    error = "'" + std::string(text) + "' has host bits set";
    return std::nullopt;
  }
  return cidr_block{*address, prefix};
}

std::string format_cidr(const cidr_block& block) {
  return format_ip(block.base) + "/" + std::to_string(block.prefix);
}

}  // namespace sovgw::policy
