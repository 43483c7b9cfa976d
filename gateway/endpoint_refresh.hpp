#pragma once

// Re-resolution of endpoint names (docs/configuration.md, "Where the endpoints are"). On SIGHUP and
// every `dns_refresh`, each endpoint name is resolved again and the addresses are judged by the
// endpoint geo rules (gateway/endpoint_geo.hpp) before use; an endpoint whose judged set changed
// gets the new set swapped in whole (endpoint_state::addresses), so a worker sees either the old set
// or the new one. A name that fails to resolve keeps its last good addresses (logged, counted); an
// address refused that was not refused before is logged and counted.
//
// Threads: the constructor blocks (the geo database) at start-up. Rounds run on a resolver thread
// of the refresher's own (start()), so a slow or silent name server delays nothing but the next
// round: the control thread only asks (request()), never waits. At most one round is in flight; asks
// during a round queue one more (they merge). report() and render_metrics() may be called from any
// thread.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gateway/config.hpp"
#include "gateway/endpoint_geo.hpp"
#include "gateway/upstream_pool.hpp"

namespace sovgw::gateway {

class endpoint_refresher {
 public:
  // Judges the addresses build_upstreams resolved (the start-up check). Throws when the geo
  // database cannot be loaded. `cfg` and `upstreams` outlive the refresher. `geo`: the geo database
  // (shared with the pipeline; each round judges with the one in force); its own without.
  endpoint_refresher(const config& cfg, std::vector<std::unique_ptr<upstream_cluster>>& upstreams,
                     std::shared_ptr<geo_store> geo = nullptr);
  ~endpoint_refresher();  // stop()
  endpoint_refresher(const endpoint_refresher&) = delete;
  endpoint_refresher& operator=(const endpoint_refresher&) = delete;

  // Starts the resolver thread: a round on every request() and, unless dns_refresh is off, every
  // next_refresh_in(). `after_round` runs on that thread after each completed round (the pipeline's
  // 503 reasons). Once.
  void start(std::function<void()> after_round);

  // Asks for a round and returns at once (any thread); logged, with whether it waits for the round
  // in flight. `trigger` ("sighup") is a static string.
  void request(const char* trigger);

  // Ends the resolver thread (any thread but the resolver's; idempotent). A DNS query to the
  // `dns_resolvers` in flight is cancelled at once and its round abandoned (nothing it resolved
  // is lost: endpoints it already swapped keep their judged addresses). getaddrinfo (no
  // dns_resolvers) cannot be cancelled: this waits for the call in flight to return (the system
  // resolver's own timeouts, resolv.conf `timeout` x `attempts`), then the round is abandoned.
  void cancel();  // the first half of stop(): cancels, does not wait
  void stop();

  // The current verdicts (for /readyz): never null.
  [[nodiscard]] std::shared_ptr<const endpoint_geo_report> report() const { return report_.load(); }

  // The report's gauges, and sovgw_endpoint_resolve_failures_total{cluster,endpoint},
  // sovgw_endpoint_geo_newly_refused_total{cluster,endpoint}, sovgw_endpoint_refreshes_total.
  void render_metrics(std::string& out) const;

 private:
  void run();
  // Resolves every endpoint name again, judges, swaps, logs. Never throws for a name or a geo
  // database that fails: the endpoint keeps its last good addresses. False: cancelled, abandoned.
  bool refresh(const char* trigger);
  // When to resolve again: the shortest TTL of the last DNS answers (dns_resolvers), at least 1 s
  // and at most dns_refresh; dns_refresh when no answer had a TTL (system resolver).
  [[nodiscard]] std::chrono::milliseconds next_refresh_in() const;

  const config& cfg_;
  std::vector<std::unique_ptr<upstream_cluster>>& upstreams_;
  endpoint_geo_judge judge_;
  std::atomic<std::shared_ptr<const endpoint_geo_report>> report_;
  std::atomic<std::uint64_t> refreshes_{0};
  dns_cancel cancel_;
  std::function<void()> after_round_;
  std::mutex mutex_;  // guards the four below
  std::condition_variable wake_;
  const char* requested_ = nullptr;  // the trigger of the round asked for, if one is
  bool in_round_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sovgw::gateway
