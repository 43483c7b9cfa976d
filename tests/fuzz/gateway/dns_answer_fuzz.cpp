// Fuzz target: a DNS answer read by the gateway's stub resolver (gateway/dns_message.hpp), asked for
// gpu.sovgw.test with the message's own id, as A and as AAAA. Every read must stay inside the
// message; what it returns must be consistent.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "gateway/dns_message.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace sovgw::dns;

using sovgw::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> message(data, size);
  const std::uint16_t id = size >= 2 ? static_cast<std::uint16_t>((data[0] << 8) | data[1]) : 0;
  for (const record_type type : {record_type::a, record_type::aaaa}) {
    const answer a = parse_answer(message, id, "gpu.sovgw.test", type);
    check(a.error == parse_error::none || (a.addresses.empty() && !a.ttl_s));
    check(!a.ttl_s || *a.ttl_s <= 0x7FFFFFFFu);
    for (const address& x : a.addresses) {
      check(x.family == (type == record_type::a ? 4 : 6));
      check(!x.to_string().empty());
    }
    check(a.addresses.empty() || a.ttl_s.has_value());
  }
  return 0;
}
