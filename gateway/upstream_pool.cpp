#include "gateway/upstream_pool.hpp"

#include <fmt/format.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <stdexcept>

#include "gateway/log.hpp"

namespace sovgw::gateway {

bool endpoint_addresses::operator==(const endpoint_addresses& o) const {
  const auto as_set = [](const endpoint_addresses& a) {
    std::vector<std::pair<tcp::endpoint, std::string_view>> v;
    for (std::size_t i = 0; i < a.usable.size(); ++i) {
      v.emplace_back(a.usable[i], i < a.notes.size() ? std::string_view(a.notes[i].country) : "");
    }
    std::sort(v.begin(), v.end());
    return v;
  };
  const auto countries = [](std::string_view list) {
    std::vector<std::string_view> out;
    for (std::size_t at = 0; at <= list.size();) {
      const std::size_t comma = std::min(list.find(',', at), list.size());
      out.push_back(list.substr(at, comma - at));
      at = comma + 1;
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  return usable.size() == o.usable.size() && as_set(*this) == as_set(o) &&
         countries(geo_country) == countries(o.geo_country) && geo_reason == o.geo_reason;
}

namespace {
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

std::uint64_t micros_since(std::chrono::steady_clock::time_point start) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start)
          .count());
}

// Lock-free minimum (0: nothing yet); a measured time is at least 1 µs.
void keep_min(std::atomic<std::uint64_t>& min, std::uint64_t us) {
  us = std::max<std::uint64_t>(us, 1);
  std::uint64_t seen = min.load(std::memory_order_relaxed);
  while ((seen == 0 || us < seen) && !min.compare_exchange_weak(seen, us, std::memory_order_relaxed)) {
  }
}
}  // namespace

std::int64_t steady_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void store_addresses(endpoint_state& ep, std::shared_ptr<const endpoint_addresses> a) {
  const bool refused = a->geo_refused();
  ep.addresses.store(std::move(a));
  ep.geo_refused.store(refused, std::memory_order_relaxed);
}

namespace {

std::vector<tcp::endpoint> resolve_name(const std::vector<dns_server>& servers, const cluster_config& cc,
                                        const endpoint_state& ep, std::optional<std::uint32_t>& ttl_s,
                                        std::string& error, const dns_cancel* cancel) {
  boost::system::error_code ec;
  const asio::ip::address literal = asio::ip::make_address(ep.host, ec);
  if (!ec) {
    return {tcp::endpoint(literal, ep.port)};
  }
  const dns_answer answer =
      servers.empty() ? system_resolve(ep.host, cancel) : dns_resolve(ep.host, servers, cancel);
  if (!answer.error.empty()) {
    error = fmt::format("cluster '{}': cannot resolve endpoint {}: {}", cc.name, ep.label, answer.error);
    return {};
  }
  if (!servers.empty()) {
    ttl_s = answer.ttl_s;
  }
  std::vector<tcp::endpoint> out;
  for (const std::string& a : answer.addresses) {
    out.emplace_back(asio::ip::make_address(a), ep.port);
  }
  return out;
}

}  // namespace

std::vector<tcp::endpoint> resolve_endpoint(const std::vector<dns_server>& dns_servers,
                                            const cluster_config& cc, const endpoint_state& ep,
                                            std::optional<std::uint32_t>& ttl_s, std::string& error,
                                            const dns_cancel* cancel) {
  ttl_s.reset();
  std::vector<tcp::endpoint> out = resolve_name(dns_servers, cc, ep, ttl_s, error, cancel);
  for (const tcp::endpoint& e : out) {
    if (cc.insecure_loopback_plaintext && !e.address().is_loopback()) {
      error = fmt::format(
          "cluster '{}': {} resolves to {}, which is not loopback; plaintext is only allowed on "
          "loopback",
          cc.name, ep.label, e.address().to_string());
      return {};
    }
  }
  if (out.empty() && error.empty()) {
    error = fmt::format("cluster '{}': endpoint {} resolves to no address", cc.name, ep.label);
  }
  return out;
}

namespace {
int session_slot_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// OpenSSL's new-session callback: a ticket from an endpoint goes to its slot. 1: the slot keeps the
// reference.
int on_new_session(SSL* ssl, SSL_SESSION* session) {
  auto* slot = static_cast<tls_session_slot*>(SSL_get_ex_data(ssl, session_slot_index()));
  if (slot == nullptr || SSL_SESSION_is_resumable(session) != 1) {
    return 0;
  }
  slot->store(session);
  return 1;
}
}  // namespace

tls_session_slot::~tls_session_slot() { SSL_SESSION_free(session_); }

void tls_session_slot::store(SSL_SESSION* s) {
  std::lock_guard lock(mutex_);
  SSL_SESSION_free(session_);
  session_ = s;
}

void tls_session_slot::clear() { store(nullptr); }

void tls_session_slot::offer(SSL* ssl) const {
  std::lock_guard lock(mutex_);
  if (session_ != nullptr) {
    SSL_set_session(ssl, session_);  // takes its own reference
  }
}

void tls_session_slot::attach(SSL* ssl) { SSL_set_ex_data(ssl, session_slot_index(), this); }

std::vector<std::unique_ptr<upstream_cluster>> build_upstreams(const config& cfg) {
  std::vector<std::unique_ptr<upstream_cluster>> out;
  for (const cluster_config& cc : cfg.clusters) {
    auto c = std::make_unique<upstream_cluster>();
    c->config = &cc;
    c->tls = make_client_context(cc);
    if (c->tls) {
      SSL_CTX_sess_set_new_cb(c->tls.get(), on_new_session);
    }
    c->server_name = cc.tls.server_name.empty() ? cc.endpoints.front().host : cc.tls.server_name;
    for (const endpoint_config& e : cc.endpoints) {
      auto ep = std::make_unique<endpoint_state>();
      ep->host = e.host;
      ep->port = e.port;
      ep->label = e.host.find(':') != std::string::npos ? fmt::format("[{}]:{}", e.host, e.port)
                                                        : fmt::format("{}:{}", e.host, e.port);
      std::string error;
      auto resolved = std::make_shared<endpoint_addresses>();
      resolved->usable = resolve_endpoint(cfg.dns_resolvers, cc, *ep, ep->dns_ttl_s, error);
      if (!error.empty()) {
        throw std::runtime_error(error);
      }
      store_addresses(*ep, std::move(resolved));  // not judged yet: check_endpoint_geo does that
      c->endpoints.push_back(std::move(ep));
    }
    if (cfg.location) {
      c->judge_distance = true;
      c->gateway_place = cfg.location->place();
      c->declared_place = declared_place(cc);
    }
    std::string default_host = cc.tls.server_name.empty() ? c->endpoints.front()->label : c->server_name;
    c->host_header = cc.host_header.empty() ? default_host : cc.host_header;
    out.push_back(std::move(c));
  }
  return out;
}

upstream_pool::upstream_pool(asio::io_context& ioc,
                             const std::vector<std::unique_ptr<upstream_cluster>>& clusters, metrics& m,
                             const timeouts_config& timeouts)
    : ioc_(ioc), clusters_(clusters), metrics_(m), timeouts_(timeouts) {
  idle_.resize(clusters.size());
  for (std::size_t i = 0; i < clusters.size(); ++i) {
    idle_[i].resize(clusters[i]->endpoints.size());
  }
}

std::string upstream_pool::unavailable_reason(int cluster) const {
  std::string out;
  for (const auto& ep : clusters_[static_cast<std::size_t>(cluster)]->endpoints) {
    if (ep->distance_contradicted.load(std::memory_order_acquire)) {
      if (const std::shared_ptr<const std::string> reason = ep->distance_reason.load()) {
        out += out.empty() ? "" : "; ";
        out += *reason + " (not used until the gateway restarts)";
      }
    }
  }
  return out;
}

bool upstream_pool::cluster_available(int cluster) const {
  std::int64_t now = steady_now_ms();
  for (const auto& ep : clusters_[static_cast<std::size_t>(cluster)]->endpoints) {
    if (ep->available(now)) {
      return true;
    }
  }
  return false;
}

void upstream_pool::report_failure(int cluster, endpoint_state& ep) {
  const cluster_config& cc = *clusters_[static_cast<std::size_t>(cluster)]->config;
  unsigned failures = ep.consecutive_failures.fetch_add(1, std::memory_order_relaxed) + 1;
  if (failures >= cc.failures_before_down) {
    std::int64_t until = steady_now_ms() + cc.down_retry_interval.count();
    std::int64_t before = ep.down_until_ms.exchange(until, std::memory_order_relaxed);
    if (before <= steady_now_ms()) {
      log_line("warn", "endpoint marked down")
          .str("cluster", cc.name)
          .str("endpoint", ep.label)
          .num("consecutive_failures", failures)
          .num("retry_in_ms", cc.down_retry_interval.count())
          .emit();
    }
  }
}

void upstream_pool::report_success(endpoint_state& ep) {
  if (ep.consecutive_failures.exchange(0, std::memory_order_relaxed) != 0) {
    ep.down_until_ms.store(0, std::memory_order_relaxed);
  }
}

asio::awaitable<std::shared_ptr<connection>> upstream_pool::connect(upstream_cluster& c, endpoint_state& ep,
                                                                    const endpoint_addresses& addresses,
                                                                    failure& why) {
  tcp::socket socket(ioc_);
  boost::system::error_code last;
  std::uint64_t connect_us = 0;
  std::size_t connected_to = 0;
  for (; connected_to < addresses.usable.size(); ++connected_to) {
    const tcp::endpoint& addr = addresses.usable[connected_to];
    boost::system::error_code ec;
    socket.close(ec);
    socket.open(addr.protocol(), ec);
    if (ec) {
      last = ec;
      continue;
    }
    asio::steady_timer deadline(ioc_, timeouts_.upstream_connect);
    bool timed_out = false;
    deadline.async_wait([&socket, &timed_out](const boost::system::error_code& e) {
      if (!e) {
        timed_out = true;
        boost::system::error_code ignored;
        socket.cancel(ignored);
      }
    });
    const auto started = std::chrono::steady_clock::now();
    auto [cec] = co_await socket.async_connect(addr, nothrow);
    deadline.cancel();
    if (!cec) {
      connect_us = micros_since(started);
      last = {};
      break;
    }
    last = timed_out ? asio::error::timed_out : cec;
  }
  if (last || !socket.is_open()) {
    why.kind = last == asio::error::timed_out ? upstream_error_kind::timeout : upstream_error_kind::connect;
    why.detail = fmt::format("connect to {}: {}", ep.label, last ? last.message() : "no address");
    co_return nullptr;
  }
  // async_connect leaves EPOLLOUT in the descriptor's epoll registration for good, and every later
  // readiness wait re-arms the registration as a whole: the (writable) socket then woke the reactor
  // once for nothing on every request. A fresh registration watches for input only.
  {
    boost::system::error_code ec;
    const auto protocol = socket.local_endpoint(ec).protocol();
    const tcp::socket::native_handle_type fd = socket.release(ec);
    if (!ec) {
      socket = tcp::socket(ioc_);
      socket.assign(protocol, fd, ec);
      if (ec) {
        ::close(fd);
      }
    }
    if (ec) {
      why.kind = upstream_error_kind::connect;
      why.detail = fmt::format("connect to {}: {}", ep.label, ec.message());
      co_return nullptr;
    }
  }
  ssl_ptr ssl;
  if (c.tls) {
    ssl.reset(SSL_new(c.tls.get()));
    SSL_set_connect_state(ssl.get());
    SSL_set_tlsext_host_name(ssl.get(), c.server_name.c_str());
    // Hostname (or IP) verification against the configured server name.
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (X509_VERIFY_PARAM_set1_ip_asc(param, c.server_name.c_str()) != 1) {
      SSL_set1_host(ssl.get(), c.server_name.c_str());
    }
    ep.tls_session.attach(ssl.get());
    ep.tls_session.offer(ssl.get());
  }
  auto conn = std::make_shared<connection>(std::move(socket), std::move(ssl));
  std::string detail;
  const auto handshake_started = std::chrono::steady_clock::now();
  io_status hs = co_await conn->handshake(timeouts_.upstream_connect, detail);
  const std::uint64_t handshake_us = micros_since(handshake_started);
  if (hs != io_status::ok) {
    ep.tls_session.clear();  // whatever went wrong, the next attempt makes a full handshake
    why.kind = hs == io_status::timeout ? upstream_error_kind::timeout : upstream_error_kind::tls;
    why.detail = fmt::format("TLS handshake with {} (server name {}): {}", ep.label, c.server_name, detail);
    conn->close();
    co_return nullptr;
  }
  if (c.tls && SSL_session_reused(conn->ssl()) == 1) {
    metrics_.upstream_tls_resumed.fetch_add(1, std::memory_order_relaxed);
  }
  keep_min(addresses.minima->connect_us, connect_us);
  if (c.tls) {
    keep_min(addresses.minima->handshake_us, handshake_us);
  }
  conn->set_rtt_us(std::max<std::uint64_t>(c.tls ? handshake_us : connect_us, 1));
  conn->set_address_index(static_cast<std::uint32_t>(connected_to));
  if (!distance_acceptable(c, ep, conn->rtt_us(), why)) {
    conn->close();
    co_return nullptr;
  }
  metrics_.upstream_connections_open.fetch_add(1, std::memory_order_relaxed);
  co_return conn;
}

bool upstream_pool::distance_acceptable(const upstream_cluster& c, endpoint_state& ep, std::uint64_t rtt_us,
                                        failure& why) {
  if (!c.judge_distance) {
    return true;
  }
  const policy::distance_judgement j =
      policy::judge_distance(rtt_us, c.gateway_place, c.declared_place, c.config->max_distance_km);
  if (j.verdict == policy::distance_verdict::within) {
    return true;
  }
  const bool exempt =
      j.verdict == policy::distance_verdict::contradicted && !c.config->endpoint_geo_exempt.empty();
  log_line("warn", exempt ? "endpoint distance contradicts the declared location (exempt: used)"
                          : "endpoint refused: distance")
      .str("cluster", c.config->name)
      .str("endpoint", ep.label)
      .str("verdict", policy::to_string(j.verdict))
      .num("rtt_us", static_cast<std::int64_t>(rtt_us))
      .num("bound_km", static_cast<std::int64_t>(j.bound_km))
      .str("detail", j.reason)
      .emit();
  if (exempt) {
    return true;
  }
  ep.distance_refusals.fetch_add(1, std::memory_order_relaxed);
  why.kind = upstream_error_kind::distance;
  why.detail = fmt::format("endpoint {}: {}", ep.label, j.reason);
  if (j.verdict == policy::distance_verdict::contradicted) {
    ep.distance_reason.store(std::make_shared<const std::string>(why.detail));
    ep.distance_contradicted.store(true, std::memory_order_release);
  }
  return false;
}

bool upstream_pool::acquire_now(int cluster, std::string_view tenant, lease& out, failure& why, walk& w) {
  upstream_cluster& c = *clusters_[static_cast<std::size_t>(cluster)];
  const std::size_t n = c.endpoints.size();
  if (w.k == 0) {
    w.start = c.next.fetch_add(1, std::memory_order_relaxed) % n;
  }
  bool full = false;
  for (; w.k < n; ++w.k) {
    const std::size_t i = (w.start + w.k) % n;
    endpoint_state& ep = *c.endpoints[i];
    if (!ep.available(steady_now_ms())) {
      continue;
    }
    std::shared_ptr<const endpoint_addresses> addresses = ep.addresses.load();
    if (addresses->geo_refused()) {
      continue;  // swapped since available() looked
    }
    if (ep.in_flight.fetch_add(1, std::memory_order_relaxed) >=
        static_cast<std::int64_t>(c.config->max_connections_per_endpoint)) {
      ep.in_flight.fetch_sub(1, std::memory_order_relaxed);
      why = {upstream_error_kind::connect,
             fmt::format("{} already has max_connections_per_endpoint ({}) in use", ep.label,
                         c.config->max_connections_per_endpoint)};
      full = true;
      continue;  // a full endpoint is busy, not broken: no failure counted
    }
    auto& idle = idle_[static_cast<std::size_t>(cluster)][i];
    auto now = std::chrono::steady_clock::now();
    for (auto it = idle.end(); it != idle.begin();) {
      --it;
      std::shared_ptr<connection>& conn = it->conn;
      // Checked before every reuse (one recv(MSG_PEEK) of a byte): a cluster that closed it, or
      // sent bytes after its answer (a body after a HEAD answer, a miscounted Content-Length),
      // would otherwise hand those bytes to the next request as its response. One made from an
      // address set re-resolution has since replaced may be to an address now refused: not reused.
      // Another tenant's is left idle (idle_connection::tenant), unless it is stale: the peek, a
      // system call, is paid only for the connection about to be reused, not for every other
      // tenant's in the pool.
      const bool stale = it->addresses != addresses || now - conn->idle_since() >= timeouts_.pool_idle;
      if (!stale && it->tenant != tenant) {
        continue;
      }
      std::shared_ptr<connection> held = std::move(conn);
      it = idle.erase(it);
      if (!stale && !held->peer_closed_or_sent()) {
        metrics_.upstream_connections_reused.fetch_add(1, std::memory_order_relaxed);
        out = lease{std::move(held), &ep, std::move(addresses), true};
        return true;
      }
      held->close();
      metrics_.upstream_connections_open.fetch_sub(1, std::memory_order_relaxed);
    }
    return false;  // endpoint i, its in_flight counted: acquire_rest connects
  }
  if (!full && why.detail.empty()) {
    why = {upstream_error_kind::connect, "no endpoint of the cluster is available"};
  }
  out = lease{};
  return true;
}

asio::awaitable<upstream_pool::lease> upstream_pool::acquire_rest(int cluster, std::string_view tenant,
                                                                  failure& why, walk w) {
  upstream_cluster& c = *clusters_[static_cast<std::size_t>(cluster)];
  while (true) {
    endpoint_state& ep = *c.endpoints[(w.start + w.k) % c.endpoints.size()];
    std::shared_ptr<const endpoint_addresses> addresses = ep.addresses.load();
    std::shared_ptr<connection> conn = co_await connect(c, ep, *addresses, why);
    if (conn) {
      co_return lease{std::move(conn), &ep, std::move(addresses), false};
    }
    ep.in_flight.fetch_sub(1, std::memory_order_relaxed);
    metrics_.upstream_error(cluster, why.kind);
    report_failure(cluster, ep);
    log_line("warn", "upstream connect failed")
        .str("cluster", c.config->name)
        .str("detail", why.detail)
        .emit();
    ++w.k;
    lease next;
    if (acquire_now(cluster, tenant, next, why, w)) {
      co_return next;
    }
  }
}

void upstream_pool::release(int cluster, std::string_view tenant, lease&& l, bool reusable) {
  if (!l.conn) {
    return;
  }
  l.endpoint->in_flight.fetch_sub(1, std::memory_order_relaxed);
  upstream_cluster& c = *clusters_[static_cast<std::size_t>(cluster)];
  std::size_t index = 0;
  while (index < c.endpoints.size() && c.endpoints[index].get() != l.endpoint) {
    ++index;
  }
  auto& idle = idle_[static_cast<std::size_t>(cluster)][index];
  if (reusable && l.conn->is_open() && c.config->max_idle_per_endpoint > 0) {
    // Full: the least recently used one makes room (with several tenants, the pool would otherwise
    // keep the first tenants' connections and close every later one's).
    if (idle.size() >= c.config->max_idle_per_endpoint) {
      idle.front().conn->close();
      idle.pop_front();
      metrics_.upstream_connections_open.fetch_sub(1, std::memory_order_relaxed);
    }
    l.conn->mark_idle();
    idle.push_back(idle_connection{std::move(l.conn), std::move(l.addresses), std::string(tenant)});
    return;
  }
  l.conn->close();
  metrics_.upstream_connections_open.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace sovgw::gateway
