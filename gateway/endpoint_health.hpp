#pragma once

// Whether each endpoint can be used now, as the upstream pools judge it (endpoint_state::available):
// not marked down after consecutive failures, not refused by the endpoint geo check, not
// contradicted by a round trip. Read-only views for /readyz and /metrics; thread-safe (reads atomics
// only).

#include <memory>
#include <string>
#include <vector>

#include "gateway/upstream_pool.hpp"

namespace sovgw::gateway {

// Whether some cluster has an endpoint it can use now: when none has, every request that would be
// forwarded is answered 503 cluster_unavailable, and /readyz says not ready (probe round 49: it said
// "ready" while every request was refused).
[[nodiscard]] bool any_cluster_reachable(const std::vector<std::unique_ptr<upstream_cluster>>& upstreams);

// One line per endpoint marked down, for /readyz: after how many failures, and when it is tried again.
[[nodiscard]] std::string endpoint_down_text(const std::vector<std::unique_ptr<upstream_cluster>>& upstreams);

// sovgw_endpoint_available{cluster,endpoint}: 1 when the endpoint can be used now, 0 when it is
// marked down, refused by the geo check or contradicted by a round trip.
void render_endpoint_health_metrics(const std::vector<std::unique_ptr<upstream_cluster>>& upstreams,
                                    std::string& out);

}  // namespace sovgw::gateway
