#include "gateway/endpoint_geo.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "gateway/metrics.hpp"
#include "gateway/pipeline.hpp"
#include "policy/countries.hpp"
#include "policy/ip_address.hpp"

namespace sovgw::gateway {

const char* to_string(geo_verdict v) {
  switch (v) {
    case geo_verdict::matches:
      return "matches";
    case geo_verdict::unverified:
      return "unverified";
    case geo_verdict::exempt:
      return "exempt";
    case geo_verdict::on_premises:
      return "on-premises";
    case geo_verdict::refused:
      return "refused";
  }
  return "refused";
}

address_check judge_address(const cluster_config& cluster, const policy::ip_address& ip,
                            const policy::geo_db& geo) {
  address_check c;
  c.address = policy::format_ip(ip);
  const policy::country_id id = geo.lookup(ip);
  c.country = policy::country_name(id);
  if (id == policy::country_private) {
    if (cluster.on_premises) {
      c.verdict = geo_verdict::on_premises;
    } else {
      c.verdict = geo_verdict::refused;
      c.reason = fmt::format("{} is a loopback or private address and cluster '{}' is not on_premises",
                             c.address, cluster.name);
    }
    return c;
  }
  if (!cluster.endpoint_geo_exempt.empty()) {
    c.verdict = geo_verdict::exempt;
    c.reason = cluster.endpoint_geo_exempt;
    return c;
  }
  if (id == policy::country_unknown) {
    c.verdict = geo_verdict::unverified;
    return c;
  }
  if (c.country == cluster.country) {
    return c;
  }
  c.verdict = geo_verdict::refused;
  c.reason = fmt::format("{} geolocates to {}, not {} as cluster '{}' declares", c.address, c.country,
                         cluster.country, cluster.name);
  return c;
}

std::string endpoint_geo_report::text() const {
  std::string out;
  for (const endpoint_line& e : endpoints) {
    out +=
        fmt::format("endpoint {} of cluster {}: {}", e.endpoint, e.cluster, e.usable ? "used" : "NOT USED");
    for (const address_check& a : e.addresses) {
      out += fmt::format("; {} {} {}", a.address, a.country, to_string(a.verdict));
      if (!a.reason.empty()) {
        out += fmt::format(" ({})", a.reason);
      }
    }
    out += '\n';
  }
  return out;
}

void endpoint_geo_report::render_metrics(std::string& out) const {
  std::string usable =
      "# HELP sovgw_endpoint_geo_usable 0 when the endpoint geo check left the endpoint no address to use.\n"
      "# TYPE sovgw_endpoint_geo_usable gauge\n";
  out +=
      "# HELP sovgw_endpoint_geo_refused_addresses Endpoint addresses the geo check refused at start (never "
      "used).\n# TYPE sovgw_endpoint_geo_refused_addresses gauge\n";
  for (const endpoint_line& e : endpoints) {
    const std::string labels =
        fmt::format("cluster=\"{}\",endpoint=\"{}\"", metric_label(e.cluster), metric_label(e.endpoint));
    const auto refused = std::count_if(e.addresses.begin(), e.addresses.end(), [](const address_check& a) {
      return a.verdict == geo_verdict::refused;
    });
    out += fmt::format("sovgw_endpoint_geo_refused_addresses{{{}}} {}\n", labels, refused);
    usable += fmt::format("sovgw_endpoint_geo_usable{{{}}} {}\n", labels, e.usable ? 1 : 0);
  }
  out += usable;
}

endpoint_geo_report check_endpoint_geo(const config& cfg,
                                       std::vector<std::unique_ptr<upstream_cluster>>& upstreams) {
  const policy::geo_db reserved_only;
  std::optional<policy::geo_db> full;
  endpoint_geo_report report;
  report.cluster_reasons.resize(upstreams.size());
  for (std::size_t ci = 0; ci < upstreams.size(); ++ci) {
    upstream_cluster& uc = *upstreams[ci];
    const cluster_config& cluster = *uc.config;
    std::vector<std::string> refusals;
    bool any_usable = false;
    for (const std::unique_ptr<endpoint_state>& ep : uc.endpoints) {
      endpoint_geo_report::endpoint_line line{cluster.name, ep->label, {}, true};
      std::vector<tcp::endpoint> kept;
      for (const tcp::endpoint& addr : ep->addresses) {
        const std::optional<policy::ip_address> ip = policy::parse_ip(addr.address().to_string());
        if (!ip) {
          continue;
        }
        const policy::geo_db* geo = &reserved_only;
        if (reserved_only.lookup(*ip) != policy::country_private) {
          if (!full) {
            full.emplace(load_geo_database(cfg));
          }
          geo = &*full;
        }
        address_check c = judge_address(cluster, *ip, *geo);
        if (c.verdict == geo_verdict::refused) {
          ++report.refused_addresses;
          refusals.push_back(c.reason);
        } else {
          kept.push_back(addr);
        }
        line.addresses.push_back(std::move(c));
      }
      for (const address_check& c : line.addresses) {
        if (c.verdict != geo_verdict::refused && ep->geo_country.find(c.country) == std::string::npos) {
          ep->geo_country += ep->geo_country.empty() ? c.country : "," + c.country;
        }
      }
      ep->addresses = std::move(kept);
      if (ep->addresses.empty()) {
        ep->geo_refused = true;
        ep->geo_reason = refusals.empty() ? "no address" : refusals.back();
        line.usable = false;
      } else {
        any_usable = true;
      }
      report.endpoints.push_back(std::move(line));
    }
    if (!any_usable) {
      report.cluster_reasons[ci] =
          fmt::format("cluster '{}' has no endpoint it may use: {}", cluster.name, fmt::join(refusals, "; "));
    }
  }
  return report;
}

}  // namespace sovgw::gateway
