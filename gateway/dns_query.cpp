#include "gateway/dns_query.hpp"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace sovgw::gateway {

namespace {

// One query's records of `type` into `out`; false with `why` for an answer that is not NODATA.
bool query(res_state st, const std::string& host, int type, dns_answer& out, bool& any_ttl,
           std::string& why) {
  std::array<unsigned char, NS_MAXMSG> buf{};
  const int n = res_nquery(st, host.c_str(), ns_c_in, type, buf.data(), static_cast<int>(buf.size()));
  if (n < 0) {
    switch (st->res_h_errno) {
      case NO_DATA:
        return true;
      case HOST_NOT_FOUND:
        why = "no such name (NXDOMAIN)";
        break;
      case TRY_AGAIN:
        why = "no answer from the name servers (timeout or SERVFAIL)";
        break;
      default:
        why = "the name servers refused the query or sent no usable answer";
        break;
    }
    return false;
  }
  ns_msg msg;
  if (ns_initparse(buf.data(), n, &msg) != 0) {
    why = "a malformed DNS answer";
    return false;
  }
  for (int i = 0; i < ns_msg_count(msg, ns_s_an); ++i) {
    ns_rr rr;
    if (ns_parserr(&msg, ns_s_an, i, &rr) != 0) {
      why = "a malformed DNS answer record";
      return false;
    }
    out.ttl_s = any_ttl ? std::min<std::uint32_t>(out.ttl_s, ns_rr_ttl(rr)) : ns_rr_ttl(rr);
    any_ttl = true;
    std::array<char, INET6_ADDRSTRLEN> text{};
    if (ns_rr_type(rr) == ns_t_a && ns_rr_rdlen(rr) == 4) {
      out.addresses.emplace_back(inet_ntop(AF_INET, ns_rr_rdata(rr), text.data(), text.size()));
    } else if (ns_rr_type(rr) == ns_t_aaaa && ns_rr_rdlen(rr) == 16) {
      out.addresses.emplace_back(inet_ntop(AF_INET6, ns_rr_rdata(rr), text.data(), text.size()));
    }
  }
  return true;
}

}  // namespace

dns_answer dns_resolve(const std::string& host, const std::vector<dns_server>& servers) {
  dns_answer out;
  struct __res_state st {};
  if (res_ninit(&st) != 0) {
    out.error = "cannot initialise the DNS resolver";
    return out;
  }
  st.nscount = 0;
  for (const dns_server& s : servers) {
    if (st.nscount == MAXNS) {
      break;
    }
    sockaddr_in& a = st.nsaddr_list[st.nscount];
    a = {};
    a.sin_family = AF_INET;
    a.sin_port = htons(s.port);
    if (inet_pton(AF_INET, s.address.c_str(), &a.sin_addr) == 1) {
      ++st.nscount;
    }
  }
  st.retrans = 2;
  st.retry = 2;
  bool any_ttl = false;
  std::string why;
  if (!query(&st, host, ns_t_a, out, any_ttl, why) || !query(&st, host, ns_t_aaaa, out, any_ttl, why)) {
    out.error = why;
  } else if (out.addresses.empty()) {
    out.error = "the name has no A or AAAA record";
  }
  res_nclose(&st);
  if (!out.error.empty()) {
    out.addresses.clear();
  }
  return out;
}

}  // namespace sovgw::gateway
