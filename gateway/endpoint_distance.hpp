#pragma once

// What the gateway knows of each endpoint's distance (docs/evidence.md): the smallest round trips
// measured by the upstream pools (the current addresses' endpoint_addresses::minima), judged against the
// cluster's declared location and max_distance_km. Read-only views for /metrics and /readyz; thread-safe
// (reads atomics only).

#include <memory>
#include <string>
#include <vector>

#include "gateway/upstream_pool.hpp"

namespace sovgw::gateway {

// Per endpoint: sovgw_endpoint_min_rtt_seconds{cluster,endpoint,phase="connect"|"handshake"},
// sovgw_endpoint_distance_bound_km (fibre, from the smallest round trip), sovgw_endpoint_distance_flagged
// (1: a round trip contradicted the declared location, or even the smallest exceeds max_distance_km)
// and sovgw_endpoint_distance_refusals_total (new connections not used for their distance).
void render_endpoint_distance_metrics(const std::vector<std::unique_ptr<upstream_cluster>>& upstreams,
                                      std::string& out);

// One line per endpoint, for /readyz: the smallest round trips, the bound, and FLAGGED with why.
[[nodiscard]] std::string endpoint_distance_text(
    const std::vector<std::unique_ptr<upstream_cluster>>& upstreams);

}  // namespace sovgw::gateway
