#pragma once

// DNS messages (RFC 1035) for the gateway's stub resolver (gateway/dns_query.hpp): an A or AAAA
// query, and the answer read back as the addresses of the asked name (following its CNAME chain)
// with the smallest TTL of the records used.
//
// Pure code: no sockets, no Asio; every read is bounded by the message, so it can be fuzzed
// (tests/fuzz/gateway/dns_answer_fuzz.cpp) and tested alone. Thread-safety: none needed, no state.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sovgw::dns {

enum class record_type : std::uint16_t { a = 1, cname = 5, aaaa = 28 };

enum class parse_error : std::uint8_t {
  none,
  too_short,       // less than a header, or a section running past the end
  not_the_answer,  // another id, not a response, another opcode or question: ignore, keep waiting
  truncated,       // TC set: ask again over TCP
  name_error,      // NXDOMAIN
  server_failure,  // SERVFAIL
  refused,         // REFUSED, NOTIMP, FORMERR or another non-zero RCODE
  malformed,       // a bad name, pointer loop, record or CNAME chain
};

[[nodiscard]] std::string_view describe(parse_error e);

struct address {
  std::uint8_t family = 4;  // 4 or 6
  std::array<std::uint8_t, 16> bytes{};

  [[nodiscard]] std::string to_string() const;
  [[nodiscard]] bool operator==(const address&) const = default;
};

struct answer {
  parse_error error = parse_error::none;
  // The asked type's records owned by the asked name or the end of its CNAME chain, in message
  // order. Empty with error none: the name has no record of that type (NODATA).
  std::vector<address> addresses;
  // The smallest TTL of the records used (CNAMEs included), RFC 2181's > 2^31-1 read as 0;
  // none when no record was used.
  std::optional<std::uint32_t> ttl_s;
};

// The wire form of a host name, lower-cased ("a.b" -> 1 'a' 1 'b' 0); empty when `name` is not a
// name: an empty label (but one trailing dot), a label over 63 bytes, over 255 bytes in all.
[[nodiscard]] std::string wire_name(std::string_view name);

// A query with one question (class IN, recursion desired); empty when `name` is not a name.
[[nodiscard]] std::vector<std::uint8_t> build_query(std::uint16_t id, std::string_view name,
                                                    record_type type);

// Reads `message` as the answer to build_query(id, name, type).
[[nodiscard]] answer parse_answer(std::span<const std::uint8_t> message, std::uint16_t id,
                                  std::string_view name, record_type type);

}  // namespace sovgw::dns
