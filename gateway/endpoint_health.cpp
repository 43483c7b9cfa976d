#include "gateway/endpoint_health.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "gateway/metrics.hpp"

namespace sovgw::gateway {

bool any_cluster_reachable(const std::vector<std::unique_ptr<upstream_cluster>>& upstreams) {
  const std::int64_t now = steady_now_ms();
  return upstreams.empty() || std::any_of(upstreams.begin(), upstreams.end(), [&](const auto& c) {
           return std::any_of(c->endpoints.begin(), c->endpoints.end(),
                              [&](const auto& ep) { return ep->available(now); });
         });
}

std::string endpoint_down_text(const std::vector<std::unique_ptr<upstream_cluster>>& upstreams) {
  const std::int64_t now = steady_now_ms();
  std::string out;
  for (const auto& c : upstreams) {
    for (const auto& ep : c->endpoints) {
      const std::int64_t until = ep->down_until_ms.load(std::memory_order_relaxed);
      if (until > now) {
        out += fmt::format(
            "endpoint {} of cluster {}: MARKED DOWN after {} consecutive failures, tried again in {:.1f} s\n",
            ep->label, c->config->name, ep->consecutive_failures.load(std::memory_order_relaxed),
            static_cast<double>(until - now) / 1000.0);
      }
    }
  }
  return out;
}

void render_endpoint_health_metrics(const std::vector<std::unique_ptr<upstream_cluster>>& upstreams,
                                    std::string& out) {
  const std::int64_t now = steady_now_ms();
  out +=
      "# HELP sovgw_endpoint_available 1 when the endpoint can be used now; 0 when it is marked down after "
      "consecutive failures, refused by the endpoint geo check or contradicted by a round trip.\n"
      "# TYPE sovgw_endpoint_available gauge\n";
  for (const auto& c : upstreams) {
    for (const auto& ep : c->endpoints) {
      out += fmt::format("sovgw_endpoint_available{{cluster=\"{}\",endpoint=\"{}\"}} {}\n",
                         metric_label(c->config->name), metric_label(ep->label), ep->available(now) ? 1 : 0);
    }
  }
}

}  // namespace sovgw::gateway
