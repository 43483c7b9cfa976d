#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/diagnostics.hpp"
#include "policy/geo_distance.hpp"
#include "policy/policy.hpp"

namespace YAML {
class Node;
}

// The `clusters:` section of a gateway config: one schema, parsed by one function
// (parse_clusters_node) for the gateway (gateway/config.cpp) and for the policy tools
// (`sovgw policy check|test --clusters FILE`, inline `clusters:` in policy test files), so that the
// same file gets the same verdict, with the same `file:line:col` errors, everywhere.
// docs/configuration.md is the reference. Pure code: certificates and keys are only named here;
// the gateway loads them.
namespace sovgw::policy {

struct endpoint_config {
  std::string host;  // IP literal or DNS name (resolved at start)
  std::uint16_t port = 0;
  source_pos pos;  // where the file names it, for errors found after parsing (config check)
};

struct upstream_tls_config {
  std::string ca_file;      // empty: the system trust store
  std::string server_name;  // verified against the certificate; empty: the endpoint host
  std::string client_certificate;
  std::string client_key;
};

// The credential the gateway sends to a cluster (never the client's): `auth: {bearer_file: F}` sends
// `Authorization: Bearer <F's content>`, `auth: {header: NAME, file: F}` sends `NAME: <content>`.
// The file is read by the gateway (permission-checked, re-read on SIGHUP).
struct upstream_auth_config {
  std::string header;  // empty: no credential
  std::string file;
  bool bearer = false;  // the value is "Bearer " + the file's content
  source_pos file_pos;  // where the file is named, for the errors found reading it
};

// A cluster as a gateway config declares it: what the policy sees (cluster_info: name, country,
// region, operator_jurisdiction, models) and how the gateway reaches it.
//   country                ISO 3166-1 alpha-2, assigned (policy/countries.hpp), where the servers are
//   operator_jurisdiction  who runs it: an assigned country code or EU
//   models                 exact names or globs; a cluster without `models` serves every model ("*")
struct cluster_config : cluster_info {
  std::vector<endpoint_config> endpoints;
  upstream_tls_config tls;
  upstream_auth_config auth;
  bool insecure_loopback_plaintext = false;
  std::string host_header;  // Host sent to the cluster; empty: server_name or endpoint host
  // Endpoint geo verification (gateway/endpoint_geo.hpp): loopback and private endpoint addresses
  // are used only for an on-premises cluster; a non-empty exemption (the written reason) turns
  // the country check off for this cluster.
  bool on_premises = false;
  std::string endpoint_geo_exempt;
  // Physical evidence (docs/evidence.md): where the cluster's servers are (`location: {latitude,
  // longitude}`; without it, the disc of its country, policy/geo_distance.hpp), and the farthest its
  // TLS endpoints may be from the gateway (0: no limit). Both are judged against the round trip of
  // every new connection's TLS handshake; they need the gateway's own location (gateway.location).
  std::optional<geo_point> location;
  std::uint64_t max_distance_km = 0;
  std::size_t max_idle_per_endpoint = 64;
  std::size_t max_connections_per_endpoint = 4096;  // requests in flight, all workers together
  unsigned failures_before_down = 3;
  std::chrono::milliseconds down_retry_interval{5000};
};

// Parses the list under a `clusters:` key. Reports every problem to `diags` at its position
// (unknown keys, wrong types, bad values, a missing name, endpoints, country or
// operator_jurisdiction, duplicate names, plaintext to a non-loopback endpoint, ...) and keeps
// going; `owner` positions the errors of an empty value. Returns the clusters in file order (also
// those with errors) and, when `positions` is given, where each one starts.
[[nodiscard]] std::vector<cluster_config> parse_clusters_node(const YAML::Node& list, source_pos owner,
                                                              diagnostics& diags,
                                                              std::vector<source_pos>* positions = nullptr);

// The clusters of a config file as the policy tools see them.
struct clusters_result {
  std::string file;
  std::vector<cluster_info> clusters;
  std::vector<source_pos> positions;  // where each cluster is defined
  std::vector<diagnostic> diagnostics;
  // The config's `tenants:` file, when it names one (the policy's tenant names are checked against
  // it, as the gateway checks them); as written, relative to the working directory.
  std::string tenants_file;
  // The config's `geo_database:` file, when it names one: the policy tools geolocate client.ip with
  // it, as the gateway does, unless told another (--mmdb, --geoip). As written: the gateway opens it
  // from its working directory, not the config's.
  std::string geo_database;

  [[nodiscard]] bool ok() const noexcept;
};

// parse_clusters_node for the policy tools: appends the clusters (as the policy sees them) and
// their positions to `out`.
void read_clusters_node(const YAML::Node& list, source_pos owner, diagnostics& diags, clusters_result& out);

// A gateway config file (or an excerpt of one): its `clusters:` list is required and parsed with
// parse_clusters_node; of the other top-level keys, which belong to the gateway, only `tenants` and
// `geo_database` are read (their file names).
[[nodiscard]] clusters_result load_clusters_file(const std::filesystem::path& path);
[[nodiscard]] clusters_result parse_clusters_text(std::string_view text, const std::string& file_name);

// "localhost", 127.0.0.0/8 or ::1.
[[nodiscard]] bool is_loopback_host(std::string_view host);

}  // namespace sovgw::policy
