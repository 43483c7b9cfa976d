#include "gateway/endpoint_geo.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "gateway/metrics.hpp"
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
    // An IPv4 address embedded in a way the address does not settle (a local-use NAT64 prefix,
    // read at every RFC 6052 length it fits) is unknown to the geo lookup; here, any reading that
    // places it in another country is enough to refuse it (a reading in a reserved block, such as
    // the 0.0.0.0 a shorter prefix leaves at the end, places it nowhere).
    const policy::embedded_ipv4 e = policy::find_embedded_ipv4(ip);
    for (unsigned i = 0; i < e.count; ++i) {
      const policy::ip_address v4{e.candidates[i], true};
      const policy::country_id reading = geo.lookup(v4);
      if (reading != policy::country_unknown && reading != policy::country_private &&
          policy::country_name(reading) != cluster.country) {
        c.verdict = geo_verdict::refused;
        c.reason = fmt::format(
            "{} embeds {} (one reading of its NAT64 prefix), which geolocates to {}, not {} "
            "as cluster '{}' declares",
            c.address, policy::format_ip(v4), policy::country_name(reading), cluster.country, cluster.name);
        return c;
      }
    }
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
    if (!e.resolve_error.empty()) {
      out += fmt::format("; re-resolution failed, last good addresses kept ({})", e.resolve_error);
    }
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
      "# HELP sovgw_endpoint_geo_refused_addresses Endpoint addresses the geo check refused in the current "
      "resolution (never used).\n# TYPE sovgw_endpoint_geo_refused_addresses gauge\n";
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

endpoint_geo_report::endpoint_line endpoint_geo_judge::judge(const cluster_config& cluster,
                                                             const std::string& label,
                                                             const std::vector<tcp::endpoint>& resolved,
                                                             endpoint_addresses& use) {
  endpoint_geo_report::endpoint_line line{cluster.name, label, {}, true, {}};
  use = {};
  std::shared_ptr<const geo_store::entry> full;  // the one in force now, for every address of the set
  for (const tcp::endpoint& addr : resolved) {
    const std::optional<policy::ip_address> ip = policy::parse_ip(addr.address().to_string());
    if (!ip) {
      continue;
    }
    const policy::geo_db* geo = &reserved_only_;
    if (reserved_only_.lookup(*ip) != policy::country_private) {
      if (!full) {
        full = geo_->get();
      }
      geo = &full->db;
    }
    address_check c = judge_address(cluster, *ip, *geo);
    if (c.verdict == geo_verdict::refused) {
      use.geo_reason = c.reason;
    } else {
      use.usable.push_back(addr);
      use.notes.push_back({addr.address().to_string(), c.country});
      if (use.geo_country.find(c.country) == std::string::npos) {
        use.geo_country += use.geo_country.empty() ? c.country : "," + c.country;
      }
    }
    line.addresses.push_back(std::move(c));
  }
  if (use.usable.empty()) {
    line.usable = false;
    if (use.geo_reason.empty()) {
      use.geo_reason = "no address";
    }
  } else {
    use.geo_reason.clear();
  }
  return line;
}

std::string cluster_unusable_reason(const std::string& cluster,
                                    const std::vector<const endpoint_geo_report::endpoint_line*>& lines) {
  std::vector<std::string> refusals;
  for (const endpoint_geo_report::endpoint_line* line : lines) {
    if (line->usable) {
      return {};
    }
    for (const address_check& c : line->addresses) {
      if (c.verdict == geo_verdict::refused) {
        refusals.push_back(c.reason);
      }
    }
  }
  return fmt::format("cluster '{}' has no endpoint it may use: {}", cluster, fmt::join(refusals, "; "));
}

endpoint_geo_report check_endpoint_geo(const config& cfg,
                                       std::vector<std::unique_ptr<upstream_cluster>>& upstreams) {
  endpoint_geo_judge judge(cfg);
  return check_endpoint_geo(judge, upstreams);
}

endpoint_geo_report check_endpoint_geo(endpoint_geo_judge& judge,
                                       std::vector<std::unique_ptr<upstream_cluster>>& upstreams) {
  endpoint_geo_report report;
  report.cluster_reasons.resize(upstreams.size());
  for (std::size_t ci = 0; ci < upstreams.size(); ++ci) {
    upstream_cluster& uc = *upstreams[ci];
    const std::size_t first = report.endpoints.size();
    for (const std::unique_ptr<endpoint_state>& ep : uc.endpoints) {
      auto use = std::make_shared<endpoint_addresses>();
      endpoint_geo_report::endpoint_line line =
          judge.judge(*uc.config, ep->label, ep->addresses.load()->usable, *use);
      report.refused_addresses += static_cast<std::size_t>(
          std::count_if(line.addresses.begin(), line.addresses.end(),
                        [](const address_check& a) { return a.verdict == geo_verdict::refused; }));
      store_addresses(*ep, std::move(use));
      report.endpoints.push_back(std::move(line));
    }
    std::vector<const endpoint_geo_report::endpoint_line*> lines;
    for (std::size_t i = first; i < report.endpoints.size(); ++i) {
      lines.push_back(&report.endpoints[i]);
    }
    report.cluster_reasons[ci] = cluster_unusable_reason(uc.config->name, lines);
  }
  return report;
}

}  // namespace sovgw::gateway
