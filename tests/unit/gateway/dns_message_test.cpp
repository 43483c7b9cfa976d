#include "gateway/dns_message.hpp"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "gateway/dns_query.hpp"

using namespace sovgw::dns;

namespace {

using bytes = std::vector<std::uint8_t>;

bytes name(const std::string& text) {
  const std::string w = wire_name(text);
  return bytes(w.begin(), w.end());
}

const bytes pointer_to_question = {0xC0, 0x0C};

bytes record(const bytes& owner, std::uint16_t type, std::uint32_t ttl, const bytes& rdata,
             std::uint16_t klass = 1) {
  bytes out = owner;
  out.insert(out.end(),
             {static_cast<std::uint8_t>(type >> 8), static_cast<std::uint8_t>(type),
              static_cast<std::uint8_t>(klass >> 8), static_cast<std::uint8_t>(klass),
              static_cast<std::uint8_t>(ttl >> 24), static_cast<std::uint8_t>(ttl >> 16),
              static_cast<std::uint8_t>(ttl >> 8), static_cast<std::uint8_t>(ttl),
              static_cast<std::uint8_t>(rdata.size() >> 8), static_cast<std::uint8_t>(rdata.size())});
  out.insert(out.end(), rdata.begin(), rdata.end());
  return out;
}

// An answer to build_query(0x1234, "gpu.sovgw.test", type) with `flags` and `records`.
bytes message(std::uint16_t flags, const std::vector<bytes>& records, record_type type = record_type::a,
              const std::string& asked = "gpu.sovgw.test") {
  bytes out = build_query(0x1234, asked, type);
  out[2] = static_cast<std::uint8_t>(flags >> 8);
  out[3] = static_cast<std::uint8_t>(flags);
  out[7] = static_cast<std::uint8_t>(records.size());
  for (const bytes& r : records) {
    out.insert(out.end(), r.begin(), r.end());
  }
  return out;
}

std::vector<std::string> texts(const answer& a) {
  std::vector<std::string> out;
  for (const address& x : a.addresses) {
    out.push_back(x.to_string());
  }
  return out;
}

answer parse(const bytes& m, record_type type = record_type::a) {
  return parse_answer(m, 0x1234, "GPU.sovgw.test.", type);
}

}  // namespace

TEST_CASE("dns: a query names the host in lower case, asks for recursion, one question of class IN") {
  const bytes q = build_query(0xBEEF, "GPU.Sovgw.Test", record_type::aaaa);
  const bytes want = {0xBE, 0xEF, 0x01, 0x00, 0,   1,   0, 0,   0,   0,   0,   0, 3, 'g', 'p', 'u',
                      5,    's',  'o',  'v',  'g', 'w', 4, 't', 'e', 's', 't', 0, 0, 28,  0,   1};
  CHECK(q == want);
  for (const std::string& bad :
       std::vector<std::string>{"", ".", "a..b", ".a", "a.b..", std::string(64, 'x')}) {
    CAPTURE(bad);
    CHECK(build_query(1, bad, record_type::a).empty());
  }
  std::string long_name;
  for (int i = 0; i < 4; ++i) {
    long_name += std::string(63, 'x') + ".";
  }
  CHECK(build_query(1, long_name, record_type::a).empty());                       // 257 bytes on the wire
  CHECK_FALSE(build_query(1, long_name.substr(0, 253), record_type::a).empty());  // 255
  // An answer to the longest name reads it whole.
  bytes m = build_query(0x1234, long_name.substr(0, 253), record_type::a);
  m[2] = 0x81;
  m[3] = 0x80;
  m[7] = 1;
  const bytes a = record(pointer_to_question, 1, 5, {10, 0, 0, 1});
  m.insert(m.end(), a.begin(), a.end());
  const answer got = parse_answer(m, 0x1234, long_name.substr(0, 253), record_type::a);
  CHECK(got.error == parse_error::none);
  CHECK(got.addresses.size() == 1);
}

TEST_CASE("dns: the addresses of the asked name and the smallest TTL") {
  const bytes a1 = record(pointer_to_question, 1, 300, {192, 0, 2, 1});
  const bytes a2 = record(pointer_to_question, 1, 30, {192, 0, 2, 2});
  answer a = parse(message(0x8180, {a1, a2}));
  CHECK(a.error == parse_error::none);
  CHECK(texts(a) == std::vector<std::string>{"192.0.2.1", "192.0.2.2"});
  CHECK(a.ttl_s == 30u);

  bytes v6(16, 0);
  v6[0] = 0x20;
  v6[1] = 0x01;
  v6[2] = 0x0d;
  v6[3] = 0xb8;
  v6[15] = 0x53;
  a = parse(message(0x8180, {record(pointer_to_question, 28, 5, v6)}, record_type::aaaa), record_type::aaaa);
  CHECK(texts(a) == std::vector<std::string>{"2001:db8::53"});

  // NODATA: an answer without records of the type; an A record in a AAAA answer is not used.
  a = parse(message(0x8180, {a1}, record_type::aaaa), record_type::aaaa);
  CHECK((a.error == parse_error::none && a.addresses.empty() && !a.ttl_s));

  // Another owner's records, another class's and RFC 2181's high-bit TTL (read as 0).
  a = parse(message(0x8180, {record(name("other.test"), 1, 9, {10, 0, 0, 9}),
                             record(pointer_to_question, 1, 9, {10, 0, 0, 8}, 3),
                             record(pointer_to_question, 1, 0x80000000u, {10, 0, 0, 7})}));
  CHECK(texts(a) == std::vector<std::string>{"10.0.0.7"});
  CHECK(a.ttl_s == 0u);
}

TEST_CASE("dns: a CNAME chain is followed, its TTLs count, a loop is malformed") {
  const bytes b = name("b.sovgw.test");
  const bytes compressed_c = {1, 'c', 0xC0, 16};  // "c" + the question's "sovgw.test"
  answer a = parse(message(0x8180, {record(pointer_to_question, 5, 20, b), record(b, 5, 40, compressed_c),
                                    record(compressed_c, 1, 60, {10, 1, 2, 3})}));
  CHECK(a.error == parse_error::none);
  CHECK(texts(a) == std::vector<std::string>{"10.1.2.3"});
  CHECK(a.ttl_s == 20u);
  // The records of a name that is not on the chain are not used.
  a = parse(
      message(0x8180, {record(pointer_to_question, 5, 20, b), record(name("x.test"), 1, 60, {10, 9, 9, 9})}));
  CHECK((a.error == parse_error::none && a.addresses.empty()));
  CHECK(parse(message(0x8180, {record(pointer_to_question, 5, 20, pointer_to_question)})).error ==
        parse_error::malformed);
  CHECK(parse(message(0x8180, {record(pointer_to_question, 5, 20, b), record(b, 5, 20, pointer_to_question)}))
            .error == parse_error::malformed);
}

TEST_CASE("dns: what is not our answer is told apart from what the server says and from garbage") {
  const bytes ok = message(0x8180, {record(pointer_to_question, 1, 5, {10, 0, 0, 1})});
  struct row {
    const char* what;
    bytes m;
    parse_error want;
  };
  bytes other_id = ok;
  other_id[1] ^= 1;
  bytes query = ok;
  query[2] &= 0x7F;  // QR clear
  bytes other_opcode = ok;
  other_opcode[2] |= 0x10;
  bytes two_questions = ok;
  two_questions[5] = 2;
  bytes bad_rdlength = message(0x8180, {record(pointer_to_question, 1, 5, {10, 0, 0, 1, 0})});
  bytes forward_pointer = message(0x8180, {record({0xC0, 0x40}, 1, 5, {10, 0, 0, 1})});
  bytes self_pointer = message(0x8180, {record({0xC0, 0x20}, 1, 5, {10, 0, 0, 1})});  // points at itself
  bytes label_type = message(0x8180, {record({0x40, 0x00}, 1, 5, {10, 0, 0, 1})});
  bytes cname_overrun = message(0x8180, {record(pointer_to_question, 5, 5, {3, 'a', 'b'})});
  bytes cname_trailing = message(0x8180, {record(pointer_to_question, 5, 5, {1, 'a', 0, 0})});
  const std::vector<row> rows = {
      {"empty", {}, parse_error::too_short},
      {"header cut", bytes(ok.begin(), ok.begin() + 11), parse_error::too_short},
      {"question cut", bytes(ok.begin(), ok.begin() + 20), parse_error::not_the_answer},
      {"another id", other_id, parse_error::not_the_answer},
      {"a query", query, parse_error::not_the_answer},
      {"another opcode", other_opcode, parse_error::not_the_answer},
      {"two questions", two_questions, parse_error::not_the_answer},
      {"another name", message(0x8180, {}, record_type::a, "gpu.sovgw.tes"), parse_error::not_the_answer},
      {"another type", message(0x8180, {}, record_type::aaaa), parse_error::not_the_answer},
      {"truncated", message(0x8380, {}), parse_error::truncated},
      {"nxdomain", message(0x8183, {}), parse_error::name_error},
      {"servfail", message(0x8182, {}), parse_error::server_failure},
      {"refused", message(0x8185, {}), parse_error::refused},
      {"notimp", message(0x8184, {}), parse_error::refused},
      {"record cut", bytes(ok.begin(), ok.end() - 1), parse_error::malformed},
      {"rdlength of 5 for A", bad_rdlength, parse_error::malformed},
      {"pointer forward", forward_pointer, parse_error::malformed},
      {"pointer to itself", self_pointer, parse_error::malformed},
      {"extended label type", label_type, parse_error::malformed},
      {"CNAME past its rdata", cname_overrun, parse_error::malformed},
      {"CNAME shorter than its rdata", cname_trailing, parse_error::malformed},
  };
  for (const row& r : rows) {
    CAPTURE(r.what);
    CHECK(parse(r.m).error == r.want);
  }
  bytes announced = ok;
  announced[7] = 2;  // two answers announced, one there
  CHECK(parse(announced).error == parse_error::malformed);
}

TEST_CASE("dns: a query waiting on a silent server ends when cancelled") {
  // A UDP socket on loopback that never answers.
  const int silent = ::socket(AF_INET, SOCK_DGRAM, 0);
  REQUIRE(silent >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(silent, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(silent, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  const sovgw::gateway::dns_server server{"127.0.0.1", ntohs(addr.sin_port)};
  sovgw::gateway::dns_cancel cancel;
  sovgw::gateway::dns_answer got;
  std::thread query([&] { got = sovgw::gateway::dns_resolve("gpu.sovgw.test", {server}, &cancel); });
  // Once the query has been sent, cancel: without the cancel it would end after 2 x 2 s, not cancelled.
  char buf[512];
  REQUIRE(::recv(silent, buf, sizeof buf, 0) > 0);
  cancel.cancel();
  query.join();
  ::close(silent);
  CHECK(got.cancelled);
  CHECK(got.addresses.empty());
  CHECK(got.error == "cancelled: the gateway is stopping");
}
