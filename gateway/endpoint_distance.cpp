#include "gateway/endpoint_distance.hpp"

#include <fmt/format.h>

#include "policy/geo_distance.hpp"

namespace sovgw::gateway {

namespace {

struct endpoint_view {
  std::uint64_t connect_us = 0;
  std::uint64_t handshake_us = 0;
  std::uint64_t rtt_us = 0;  // what the bound is taken from
  bool flagged = false;
  std::string reason;
};

endpoint_view view_of(const upstream_cluster& c, const endpoint_state& ep) {
  endpoint_view v;
  const std::shared_ptr<const endpoint_addresses> addresses = ep.addresses.load();
  const rtt_minima& minima = *addresses->minima;
  v.connect_us = minima.connect_us.load(std::memory_order_relaxed);
  v.handshake_us = minima.handshake_us.load(std::memory_order_relaxed);
  v.rtt_us = minima.rtt_us();
  if (v.rtt_us != 0 && c.judge_distance) {
    const policy::distance_judgement j =
        policy::judge_distance(v.rtt_us, c.gateway_place, c.declared_place, c.config->max_distance_km);
    v.flagged = j.verdict != policy::distance_verdict::within;
    v.reason = j.reason;
  }
  if (ep.distance_contradicted.load(std::memory_order_relaxed) && !v.flagged) {
    v.flagged = true;
    v.reason = "a round trip contradicted the declared location";
  }
  return v;
}

}  // namespace

void render_endpoint_distance_metrics(const std::vector<std::unique_ptr<upstream_cluster>>& upstreams,
                                      std::string& out) {
  out +=
      "# HELP sovgw_endpoint_min_rtt_seconds The smallest round trip measured to the endpoint (TCP connect, "
      "TLS "
      "handshake).\n# TYPE sovgw_endpoint_min_rtt_seconds gauge\n";
  std::string bound =
      "# HELP sovgw_endpoint_distance_bound_km How far at most the endpoint's TLS server is from the "
      "gateway: "
      "smallest RTT/2 x 200 km/ms.\n# TYPE sovgw_endpoint_distance_bound_km gauge\n";
  std::string flagged =
      "# HELP sovgw_endpoint_distance_flagged 1 when the endpoint's round trip contradicts its declared "
      "location or cannot prove it within max_distance_km.\n# TYPE sovgw_endpoint_distance_flagged gauge\n";
  std::string refusals =
      "# HELP sovgw_endpoint_distance_refusals_total New connections not used because of their round "
      "trip.\n# TYPE sovgw_endpoint_distance_refusals_total counter\n";
  for (const auto& c : upstreams) {
    for (const auto& ep : c->endpoints) {
      const std::string labels = fmt::format("cluster=\"{}\",endpoint=\"{}\"", metric_label(c->config->name),
                                             metric_label(ep->label));
      const endpoint_view v = view_of(*c, *ep);
      if (v.connect_us != 0) {
        out += fmt::format("sovgw_endpoint_min_rtt_seconds{{{},phase=\"connect\"}} {:.6f}\n", labels,
                           static_cast<double>(v.connect_us) / 1e6);
      }
      if (v.handshake_us != 0) {
        out += fmt::format("sovgw_endpoint_min_rtt_seconds{{{},phase=\"handshake\"}} {:.6f}\n", labels,
                           static_cast<double>(v.handshake_us) / 1e6);
      }
      if (v.rtt_us != 0) {
        bound += fmt::format("sovgw_endpoint_distance_bound_km{{{}}} {}\n", labels,
                             policy::fibre_bound_km(v.rtt_us));
      }
      flagged += fmt::format("sovgw_endpoint_distance_flagged{{{}}} {}\n", labels, v.flagged ? 1 : 0);
      refusals += fmt::format("sovgw_endpoint_distance_refusals_total{{{}}} {}\n", labels,
                              ep->distance_refusals.load(std::memory_order_relaxed));
    }
  }
  out += bound + flagged + refusals;
}

std::string endpoint_distance_text(const std::vector<std::unique_ptr<upstream_cluster>>& upstreams) {
  std::string out;
  for (const auto& c : upstreams) {
    for (const auto& ep : c->endpoints) {
      const endpoint_view v = view_of(*c, *ep);
      if (v.rtt_us == 0) {
        out += fmt::format("distance of endpoint {} of cluster {}: not measured yet\n", ep->label,
                           c->config->name);
        continue;
      }
      out += fmt::format(
          "distance of endpoint {} of cluster {}: smallest round trip {:.3f} ms ({}), within {} km "
          "of the gateway",
          ep->label, c->config->name, static_cast<double>(v.rtt_us) / 1000.0,
          v.handshake_us != 0 ? "TLS handshake" : "TCP connect", policy::fibre_bound_km(v.rtt_us));
      if (v.flagged) {
        out += fmt::format("; FLAGGED: {}", v.reason);
      }
      out += '\n';
    }
  }
  return out;
}

}  // namespace sovgw::gateway
