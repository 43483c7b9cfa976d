#pragma once

// Endpoint geo verification: a cluster's `country:` is the operator's word; its endpoint addresses
// are checked against the geo database at start (docs/configuration.md). An address is used only if
//   - it is loopback or private and the cluster is `on_premises: true`, or
//   - it geolocates to the cluster's declared country, or to no country the data knows (unknown:
//     nothing contradicts the declaration; reported as unverified), or
//   - the cluster is exempt (`endpoint_geo_exempt: <reason>`), which is reported with its reason.
// An endpoint left with no usable address is never used; a request only it could serve is answered
// 503 cluster_unavailable naming the reason.
//
// judge_address is pure; check_endpoint_geo runs once at start-up, before any worker, and writes
// the verdicts into the endpoint states; re-resolution (gateway/endpoint_refresh.hpp) judges new
// address sets with the same rules before they are swapped in.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway/config.hpp"
#include "gateway/geo_store.hpp"
#include "gateway/upstream_pool.hpp"
#include "policy/geo_db.hpp"

namespace sovgw::gateway {

enum class geo_verdict : std::uint8_t { matches, unverified, exempt, on_premises, refused };
[[nodiscard]] const char* to_string(geo_verdict v);

struct address_check {
  std::string address;  // the IP address
  std::string country;  // as the geo database says ("private", "unknown", "US", ...)
  geo_verdict verdict = geo_verdict::matches;
  std::string reason;  // for refused (and exempt: the cluster's written reason)
};

[[nodiscard]] address_check judge_address(const cluster_config& cluster, const policy::ip_address& ip,
                                          const policy::geo_db& geo);

struct endpoint_geo_report {
  struct endpoint_line {
    std::string cluster;
    std::string endpoint;  // host:port
    std::vector<address_check> addresses;
    bool usable = true;
    // The last re-resolution failed: `addresses` are the last good ones, still used.
    std::string resolve_error;
  };
  std::vector<endpoint_line> endpoints;
  std::vector<std::string> cluster_reasons;  // by cluster index: why it has no usable endpoint ("" if it has)
  std::size_t refused_addresses = 0;

  // One line per endpoint, for /readyz, `sovgw config check` and the start-up log.
  [[nodiscard]] std::string text() const;
  // sovgw_endpoint_geo_refused_addresses{cluster,endpoint} (addresses dropped by the check) and
  // sovgw_endpoint_geo_usable{cluster,endpoint} (0: the endpoint is never used), for /metrics.
  void render_metrics(std::string& out) const;
};

// Judges endpoint addresses. Loads `cfg.geo_database` (an MMDB) or the default tor-geoipdb (`geo`,
// gateway/geo_store.hpp) the first time an address is neither loopback nor private; throws when it
// cannot be loaded. Each judge() uses the database in force when it starts (SIGHUP swaps a new one
// into `geo`). Not thread-safe: one owner (start-up, then the resolver thread).
class endpoint_geo_judge {
 public:
  explicit endpoint_geo_judge(const config& cfg, std::shared_ptr<geo_store> geo = nullptr)
      : geo_(geo ? std::move(geo) : std::make_shared<geo_store>(cfg)) {}

  // The report line for one endpoint's `resolved` addresses, and the addresses it may use.
  [[nodiscard]] endpoint_geo_report::endpoint_line judge(const cluster_config& cluster,
                                                         const std::string& label,
                                                         const std::vector<tcp::endpoint>& resolved,
                                                         endpoint_addresses& use);

 private:
  std::shared_ptr<geo_store> geo_;
  const policy::geo_db reserved_only_;
};

// Why a cluster has no usable endpoint ("" when it has one), from its lines in the report.
[[nodiscard]] std::string cluster_unusable_reason(
    const std::string& cluster, const std::vector<const endpoint_geo_report::endpoint_line*>& lines);

// Judges every resolved address of every cluster, drops the refused ones from the endpoint states and
// marks endpoints without a usable address geo_refused. Loads `cfg.geo_database` (an MMDB) or the
// default tor-geoipdb only when some address is neither loopback nor private. Throws on a geo
// database that cannot be loaded (start-up only).
[[nodiscard]] endpoint_geo_report check_endpoint_geo(
    const config& cfg, std::vector<std::unique_ptr<upstream_cluster>>& upstreams);
[[nodiscard]] endpoint_geo_report check_endpoint_geo(
    endpoint_geo_judge& judge, std::vector<std::unique_ptr<upstream_cluster>>& upstreams);

}  // namespace sovgw::gateway
