#pragma once

// Re-resolution of endpoint names (docs/configuration.md, "Where the endpoints are"). On SIGHUP and
// every `dns_refresh`, each endpoint name is resolved again and the addresses are judged by the
// endpoint geo rules (gateway/endpoint_geo.hpp) before use; an endpoint whose judged set changed
// gets the new set swapped in whole (endpoint_state::addresses), so a worker sees either the old set
// or the new one. A name that fails to resolve keeps its last good addresses (logged, counted); an
// address refused that was not refused before is logged and counted.
//
// Thread-safety: the constructor and refresh() block (getaddrinfo, the geo database) and run at
// start-up or on the control thread only, never on a worker, one at a time. report() and
// render_metrics() may be called from any thread.

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "gateway/config.hpp"
#include "gateway/endpoint_geo.hpp"
#include "gateway/upstream_pool.hpp"

namespace sovgw::gateway {

class endpoint_refresher {
 public:
  // Judges the addresses build_upstreams resolved (the start-up check). Throws when the geo
  // database cannot be loaded. `cfg` and `upstreams` outlive the refresher.
  endpoint_refresher(const config& cfg, std::vector<std::unique_ptr<upstream_cluster>>& upstreams);

  // Resolves every endpoint name again, judges, swaps, logs. Never throws for a name or a geo
  // database that fails: the endpoint keeps its last good addresses. `trigger` ("sighup",
  // "dns_refresh") is logged.
  void refresh(const char* trigger);

  // When to resolve again (control thread): the shortest TTL of the last DNS answers (dns_resolvers),
  // at least 1 s and at most dns_refresh; dns_refresh when no answer had a TTL (system resolver).
  [[nodiscard]] std::chrono::milliseconds next_refresh_in() const;

  // The current verdicts (for /readyz): never null.
  [[nodiscard]] std::shared_ptr<const endpoint_geo_report> report() const { return report_.load(); }

  // The report's gauges, and sovgw_endpoint_resolve_failures_total{cluster,endpoint},
  // sovgw_endpoint_geo_newly_refused_total{cluster,endpoint}, sovgw_endpoint_refreshes_total.
  void render_metrics(std::string& out) const;

 private:
  const config& cfg_;
  std::vector<std::unique_ptr<upstream_cluster>>& upstreams_;
  endpoint_geo_judge judge_;
  std::atomic<std::shared_ptr<const endpoint_geo_report>> report_;
  std::atomic<std::uint64_t> refreshes_{0};
};

}  // namespace sovgw::gateway
