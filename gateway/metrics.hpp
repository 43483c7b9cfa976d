#pragma once

// Process-wide counters for /metrics (Prometheus text format). Lock-free: every update is a relaxed
// atomic increment, so worker threads never wait on each other. Thread-safe.

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "audit/audit_log.hpp"
#include "gateway/outcome.hpp"

namespace sovgw::gateway {

// distance: a new connection's round trip contradicted the cluster's declared location or exceeded
// its max_distance_km (docs/evidence.md).
enum class upstream_error_kind : std::uint8_t { connect, tls, timeout, reset, protocol, distance, count_ };

// A Prometheus label value: backslash, double quote and line feed escaped.
[[nodiscard]] std::string metric_label(std::string_view v);

// Requests and tokens per tenant, model and cluster (sovgw_tenant_requests_total,
// sovgw_tokens_total). Thread-safe: one short critical section per request. Model names come from
// clients, so the series are capped: past `max_series` in all, or past `max_series_per_tenant` of
// a tenant's own, its new models count as "other" (so one tenant's made-up names fold into its own
// `other`, never into the other tenants'; probe round 42).
class usage_counters {
 public:
  static constexpr std::size_t default_max_series = 10000;
  static constexpr std::size_t default_max_series_per_tenant = 1000;

  explicit usage_counters(std::size_t max_series = default_max_series,
                          std::size_t max_series_per_tenant = default_max_series_per_tenant)
      : max_series_(max_series), max_series_per_tenant_(max_series_per_tenant) {}

  void add(std::string_view tenant, std::string_view model, std::string_view cluster,
           std::uint64_t prompt_tokens, std::uint64_t completion_tokens);
  void render(std::string& out) const;

 private:
  std::size_t max_series_;
  std::size_t max_series_per_tenant_;
  mutable std::mutex mutex_;
  std::map<std::string, std::uint64_t, std::less<>> requests_;     // by tenant
  std::map<std::string, std::size_t, std::less<>> tenant_series_;  // tokens_'s series by tenant
  std::map<std::tuple<std::string, std::string, std::string>, std::array<std::uint64_t, 2>, std::less<>>
      tokens_;  // found by string_views: no strings built per request
};

class metrics {
 public:
  explicit metrics(std::vector<std::string> cluster_names);

  // cluster: index into the configured clusters, or -1 when no cluster was chosen.
  void request_done(int cluster, int status, double seconds, outcome result);
  void upstream_error(int cluster, upstream_error_kind kind);
  [[nodiscard]] std::string render() const;

  std::atomic<std::int64_t> active_connections{0};
  std::atomic<std::uint64_t> connections_total{0};
  std::atomic<std::uint64_t> connections_rejected{0};
  std::atomic<std::uint64_t> tls_handshake_failures{0};
  std::atomic<std::uint64_t> plain_http_connections{0};  // plain HTTP to the TLS port (of the failures)
  std::atomic<std::uint64_t> proxy_protocol_errors{0};   // trusted peers that sent no valid PROXY v2 header
  std::atomic<std::uint64_t> client_disconnects{0};
  std::atomic<std::int64_t> upstream_connections_open{0};
  std::atomic<std::uint64_t> upstream_connections_reused{0};
  std::atomic<std::uint64_t> upstream_tls_resumed{0};
  std::atomic<std::uint64_t> cert_reloads{0};
  std::atomic<std::uint64_t> cert_reload_failures{0};
  std::atomic<std::int64_t> certificate_not_after{0};  // the serving certificate's, seconds since the epoch
  std::atomic<std::uint64_t> tenants_reload_failures{0};      // SIGHUP found a broken tenants file
  std::atomic<std::uint64_t> policy_reload_failures{0};       // SIGHUP found a policy with errors
  std::atomic<std::uint64_t> tenants_reloads{0};              // tenants files SIGHUP put in force
  std::atomic<std::uint64_t> policy_reloads{0};               // policy files SIGHUP put in force (or found unchanged)
  // Whether the last reload of each put the file on disk in force (1; also before any reload) or
  // kept the last good one (0): what monitoring alerts on.
  std::atomic<std::uint8_t> tenants_file_in_force{1};
  std::atomic<std::uint8_t> policy_file_in_force{1};
  std::atomic<std::uint8_t> credentials_in_force{1};  // every cluster's credential file, as on disk
  std::atomic<std::uint8_t> admin_token_in_force{1};
  std::atomic<std::uint8_t> geo_database_in_force{1};
  std::atomic<std::uint64_t> geo_database_reloads{0};          // changed geo databases SIGHUP put in force
  std::atomic<std::uint64_t> geo_database_reload_failures{0};  // SIGHUP found a bad geo database
  // What the last SIGHUP found a restart would refuse in files read at start only (server.cpp).
  std::atomic<std::uint64_t> restart_check_problems{0};
  std::atomic<std::uint64_t> admin_token_reload_failures{0};  // SIGHUP found a bad admin.token_file
  std::atomic<std::uint64_t> credential_reload_failures{0};   // SIGHUP found a bad cluster credential file
  std::atomic<std::uint64_t> redactions{0};                   // findings replaced by `redact` obligations
  std::atomic<std::uint64_t> classified_requests{0};          // requests that carried a data class
  usage_counters usage;
  // Appends more series to render() (the tenants' budget gauges); set before serving starts.
  std::function<void(std::string&)> render_more;

  static constexpr std::array<double, 15> buckets{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                  1,     2.5,   5,    10,    30,   60,  120};

 private:
  struct per_cluster {
    std::array<std::atomic<std::uint64_t>, 600> by_status{};
    std::array<std::atomic<std::uint64_t>, buckets.size() + 1> histogram{};
    std::atomic<std::uint64_t> duration_us_sum{0};
    std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(upstream_error_kind::count_)> errors{};
  };
  std::unique_ptr<std::atomic<std::uint64_t>[]> outcomes_;  // by outcome
  std::vector<std::string> names_;                          // index 0 = "none"
  std::unique_ptr<per_cluster[]> clusters_;
};

// The audit log's counters (records, group commits, sync time, tree and checkpoint sizes) in the
// same text format, appended to /metrics when the gateway has an audit log.
[[nodiscard]] std::string render_audit_metrics(const audit::audit_log& log);

}  // namespace sovgw::gateway
