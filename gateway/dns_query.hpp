#pragma once

// Resolving an endpoint name with the DNS answer's TTL (docs/configuration.md, `dns_resolvers`):
// A then AAAA queries over UDP (TCP when an answer is truncated) to the configured name servers,
// IPv4 or IPv6, no search domains, no /etc/hosts. getaddrinfo gives the addresses but not how long
// they may be kept; this gives both, so re-resolution can follow the zone's TTL. The messages are
// built and read by gateway/dns_message.hpp.
//
// Blocking: each try waits up to 2 s for its server, two rounds over the servers, so a name whose
// servers are all silent takes 4 s per server. Start-up and the resolver thread only
// (gateway/endpoint_refresh.hpp), never a worker. Thread-safe: each call has its own sockets.

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace sovgw::gateway {

struct dns_server {
  std::string address;  // an IPv4 or IPv6 literal
  std::uint16_t port = 53;
};

struct dns_answer {
  std::vector<std::string> addresses;  // A then AAAA records, in answer order
  std::uint32_t ttl_s = 0;             // the smallest TTL of the records used (CNAMEs included)
  std::string error;                   // empty when some address was found
  bool cancelled = false;              // dns_cancel::cancel() ended it (error says so too)
};

// Wakes and ends the queries waiting on it, at once and for good (shutdown). Thread-safe.
class dns_cancel {
 public:
  dns_cancel();
  ~dns_cancel();
  dns_cancel(const dns_cancel&) = delete;
  dns_cancel& operator=(const dns_cancel&) = delete;

  void cancel();
  [[nodiscard]] bool cancelled() const { return cancelled_.load(); }
  [[nodiscard]] int fd() const { return fd_; }  // readable once cancelled (an eventfd)

 private:
  int fd_ = -1;
  std::atomic<bool> cancelled_{false};
};

// Resolves `host` at `servers` (at least one). A name server's NXDOMAIN is final; a timeout,
// SERVFAIL, REFUSED or an unusable answer moves on to the next server.
[[nodiscard]] dns_answer dns_resolve(const std::string& host, const std::vector<dns_server>& servers,
                                     const dns_cancel* cancel = nullptr);

// Resolves `host` with the system resolver (getaddrinfo: /etc/hosts, then as nsswitch says; no
// TTL), blocking for as long as resolv.conf's timeouts allow. It runs in glibc's own thread
// (getaddrinfo_a), so `cancel` ends the wait at once: a lookup glibc cannot cancel any more goes on
// in its thread with its request left to it (leaked, a few hundred bytes, at shutdown only).
[[nodiscard]] dns_answer system_resolve(const std::string& host, const dns_cancel* cancel = nullptr);

}  // namespace sovgw::gateway
