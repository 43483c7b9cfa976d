#pragma once

// Connections to the clusters. One upstream_pool per worker thread (no locks): idle keep-alive
// connections per endpoint. Endpoint health is shared by all workers through atomics: an endpoint
// is marked down after `failures_before_down` consecutive failures and tried again (a passive probe)
// once `down_retry_interval` has passed.

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "gateway/config.hpp"
#include "gateway/connection.hpp"
#include "gateway/dns_query.hpp"
#include "gateway/metrics.hpp"
#include "gateway/tls_context.hpp"
#include "policy/geo_distance.hpp"

namespace sovgw::gateway {

// The smallest TCP connect and TLS handshake times measured to one set of addresses (docs/evidence.md):
// microseconds, 0: none yet; lock-free minima written by all workers. They belong to the addresses
// they were measured to: a set re-resolution changes starts with none, so a new address never
// inherits an old address's (smaller) round trip and with it a too tight distance bound.
struct rtt_minima {
  std::atomic<std::uint64_t> connect_us{0};
  std::atomic<std::uint64_t> handshake_us{0};

  // The round trip the distance bound is taken from: the handshake's (TLS), else the connect's.
  [[nodiscard]] std::uint64_t rtt_us() const {
    const std::uint64_t hs = handshake_us.load(std::memory_order_relaxed);
    return hs != 0 ? hs : connect_us.load(std::memory_order_relaxed);
  }
};

// An endpoint's addresses as last resolved and judged by the endpoint geo check
// (gateway/endpoint_geo.hpp). Immutable but for the minima: re-resolution
// (gateway/endpoint_refresh.hpp) swaps in a new one whole; a connection keeps the one it was made with.
struct endpoint_addresses {
  std::vector<tcp::endpoint> usable;  // the addresses the geo check accepted, in resolver order
  std::string geo_country;            // where they geolocate ("FR", "private", "FR,DE", ...)
  std::string geo_reason;             // why none is usable ("" when some is)
  // Round trips measured to `usable`. A set judged equal is not swapped in: the minima stay.
  std::shared_ptr<rtt_minima> minima = std::make_shared<rtt_minima>();
  // For each of `usable`, same order, once judged: the address as text and where it alone geolocates
  // (what a request's audit record names as the address it went to).
  struct address_note {
    std::string text;
    std::string country;
    bool operator==(const address_note&) const = default;
  };
  std::vector<address_note> notes;

  [[nodiscard]] bool geo_refused() const { return usable.empty(); }
  // The judged addresses, not what was measured to them, in any order: a resolver that rotates its
  // answers would otherwise reset the minima (the distance evidence) at every re-resolution.
  [[nodiscard]] bool operator==(const endpoint_addresses& o) const;
};

// The last TLS session an endpoint handed out (a TLS 1.3 ticket), offered by the next new
// connection so that its handshake resumes — no certificate chain to send and verify, no signature —
// as HAProxy does. Shared by all workers. Only sessions from verified handshakes get here.
class tls_session_slot {
 public:
  tls_session_slot() = default;
  tls_session_slot(const tls_session_slot&) = delete;
  tls_session_slot& operator=(const tls_session_slot&) = delete;
  ~tls_session_slot();
  void store(SSL_SESSION* s);  // takes the caller's reference
  void clear();
  // Offers the stored session, if any, to a connection about to connect.
  void offer(SSL* ssl) const;
  // Makes `ssl` store the sessions it receives here (through the new-session callback that
  // build_upstreams installs on the cluster's SSL_CTX).
  void attach(SSL* ssl);

 private:
  mutable std::mutex mutex_;
  SSL_SESSION* session_ = nullptr;
};

struct endpoint_state {
  std::string host;
  std::uint16_t port = 0;
  std::string label;  // host:port
  // Set at start (build_upstreams, then the endpoint geo check) before any worker runs; swapped by
  // the resolver thread on re-resolution, only when what it holds changes. Never null.
  std::atomic<std::shared_ptr<const endpoint_addresses>> addresses;
  std::atomic<bool> geo_refused{false};    // addresses.load()->geo_refused(), cheap to read per request
  std::optional<std::uint32_t> dns_ttl_s;  // the last answer's TTL (dns_resolvers); resolver thread only
  std::atomic<std::uint64_t> resolve_failures{0};         // re-resolutions that failed (addresses kept)
  std::atomic<std::uint64_t> newly_refused_addresses{0};  // addresses refused on re-resolution
  std::atomic<std::int64_t> in_flight{0};  // leased connections, all workers; <= max_connections_per_endpoint
  std::atomic<unsigned> consecutive_failures{0};
  std::atomic<std::int64_t> down_until_ms{0};  // steady clock, ms since epoch of the clock
  // Physical evidence (docs/evidence.md), all workers: new connections refused for their distance,
  // and whether a round trip contradicted the cluster's declared location (then the endpoint is
  // never used again until restart, unless the cluster is endpoint_geo_exempt). The smallest round
  // trips are kept with the addresses (endpoint_addresses::minima).
  std::atomic<std::uint64_t> distance_refusals{0};
  std::atomic<bool> distance_contradicted{false};
  std::atomic<std::shared_ptr<const std::string>> distance_reason;  // why, once contradicted
  tls_session_slot tls_session;
  [[nodiscard]] bool available(std::int64_t now_ms) const {
    return !geo_refused.load(std::memory_order_relaxed) &&
           down_until_ms.load(std::memory_order_relaxed) <= now_ms &&
           !distance_contradicted.load(std::memory_order_relaxed);
  }
};

// Shared, built once at start (addresses resolved then). Thread-safe: immutable but for atomics.
// Swaps an endpoint's addresses (resolver thread): workers see the new set on their next acquire.
void store_addresses(endpoint_state& ep, std::shared_ptr<const endpoint_addresses> a);
struct upstream_cluster {
  const cluster_config* config = nullptr;
  ssl_ctx_ptr tls;  // null: insecure_loopback_plaintext
  std::string server_name;
  std::string host_header;
  std::vector<std::unique_ptr<endpoint_state>> endpoints;
  std::atomic<unsigned> next{0};
  // Distance judgements (docs/evidence.md): only with gateway.location. The places may be unknown
  // (a country without a disc); then only max_distance_km is judged.
  bool judge_distance = false;
  std::optional<policy::geo_place> gateway_place;
  std::optional<policy::geo_place> declared_place;
};

[[nodiscard]] std::vector<std::unique_ptr<upstream_cluster>> build_upstreams(const config& cfg);
// Resolves an endpoint's name (blocking: start-up and the resolver thread only): with `dns_servers`
// (config.dns_resolvers) by DNS queries to them, setting `ttl_s` to the answer's TTL; without, by
// the system resolver (getaddrinfo: /etc/hosts, nsswitch; no TTL). An IP address is taken as it is.
// Empty with `error` set when it does not resolve, or (insecure_loopback_plaintext) resolves to a
// non-loopback address. `cancel` ends the lookup in flight (gateway/dns_query.hpp).
[[nodiscard]] std::vector<tcp::endpoint> resolve_endpoint(const std::vector<dns_server>& dns_servers,
                                                          const cluster_config& cc, const endpoint_state& ep,
                                                          std::optional<std::uint32_t>& ttl_s,
                                                          std::string& error,
                                                          const dns_cancel* cancel = nullptr);
[[nodiscard]] std::int64_t steady_now_ms();

class upstream_pool {
 public:
  upstream_pool(asio::io_context& ioc, const std::vector<std::unique_ptr<upstream_cluster>>& clusters,
                metrics& m, const timeouts_config& timeouts);

  struct lease {
    std::shared_ptr<connection> conn;
    endpoint_state* endpoint = nullptr;
    std::shared_ptr<const endpoint_addresses> addresses;  // the set the connection was made from
    bool reused = false;
  };
  struct failure {
    upstream_error_kind kind = upstream_error_kind::connect;
    std::string detail;
  };

  // A connection to an available endpoint of `cluster`: a live idle one that last served `tenant`,
  // or a new one (connected and TLS-verified). Tries the next endpoint when connecting fails (nothing was
  // sent yet). On failure, lease.conn is null and `why` says what happened last. In two parts, so that the
  // usual case (an idle connection) costs no coroutine: acquire_now walks the endpoints without waiting and
  // returns true when done (`out` holds a reused connection, or no connection and `why`); false when it must
  // connect: then co_await acquire_rest(…, walk).
  struct walk {
    std::size_t start = 0;  // where the rotation starts
    std::size_t k = 0;      // the endpoint (start + k) % n to connect to next
  };
  [[nodiscard]] bool acquire_now(int cluster, std::string_view tenant, lease& out, failure& why, walk& w);
  asio::awaitable<lease> acquire_rest(int cluster, std::string_view tenant, failure& why, walk w);

  // Returns a connection after a complete exchange for `tenant`; only keep-alive ones are kept, and
  // only that tenant's requests reuse it (below).
  void release(int cluster, std::string_view tenant, lease&& l, bool reusable);

  [[nodiscard]] bool cluster_available(int cluster) const;
  // Why the cluster's endpoints are out for good (a round trip contradicted the declared location),
  // for the 503 of a request only it could serve; empty when none is.
  [[nodiscard]] std::string unavailable_reason(int cluster) const;
  void report_failure(int cluster, endpoint_state& ep);
  void report_success(endpoint_state& ep);

 private:
  asio::awaitable<std::shared_ptr<connection>> connect(upstream_cluster& c, endpoint_state& ep,
                                                       const endpoint_addresses& addresses, failure& why);
  // Judges a new connection's round trip (docs/evidence.md): false (with `why`) when it contradicts
  // the cluster's declared location or exceeds its max_distance_km; logged and counted.
  bool distance_acceptable(const upstream_cluster& c, endpoint_state& ep, std::uint64_t rtt_us, failure& why);

  asio::io_context& ioc_;
  const std::vector<std::unique_ptr<upstream_cluster>>& clusters_;
  metrics& metrics_;
  const timeouts_config& timeouts_;
  struct idle_connection {
    std::shared_ptr<connection> conn;
    std::shared_ptr<const endpoint_addresses> addresses;  // not reused once the endpoint's set changed
    // The tenant whose request it served last; only its requests reuse it. The check before a reuse
    // sees bytes a cluster sent after its answer only once they have arrived: a late unsolicited
    // response (a miscounted body, a second answer) that comes after the check is read as the next
    // request's answer, and HTTP/1.1 has no way to tell (probe round 48). Kept to one tenant, it
    // never reaches another tenant's client.
    std::string tenant;
  };
  // idle_[cluster][endpoint], most recently used at the back
  std::vector<std::vector<std::deque<idle_connection>>> idle_;
};

}  // namespace sovgw::gateway
