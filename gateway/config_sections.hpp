#pragma once

// Internal to the configuration parser: the readers of the sections with rules of their own
// (admin, audit, limits, timeouts, limits_store, signing, gateway.location, dns_resolvers,
// client_country) and the check of the
// clusters' distance settings against gateway.location. Each reports its problems to the reader and
// fills its part of the config. config.cpp's read_root dispatches to them and checks what spans
// sections. Not for use outside gateway/config*.cpp.

#include <vector>

#include "gateway/config.hpp"
#include "gateway/config_reader.hpp"
#include "policy/diagnostics.hpp"

namespace sovgw::gateway {

void read_admin(config_reader& r, const YAML::Node& v, config& cfg);
void read_audit(config_reader& r, const YAML::Node& v, config& cfg);
void read_limits(config_reader& r, const YAML::Node& v, config& cfg);
void read_timeouts(config_reader& r, const YAML::Node& v, config& cfg);
// redis://HOST:PORT[/DB]: HOST an IP address or a name, DB 0-15.
void read_limits_store_url(config_reader& r, const YAML::Node& n, config::limits_store_config& out);
// `hmac_marks` gets the position of each cluster_hmac_keys entry (checked against the clusters later).
void read_signing(config_reader& r, const YAML::Node& v, signing_config& out,
                  std::vector<YAML::Mark>& hmac_marks);
void read_location(config_reader& r, const YAML::Node& v, config& cfg);
// dns_resolvers: one to three IPv4[:port] name servers.
void read_dns_resolvers(config_reader& r, const YAML::Node& v, config& cfg);
// client_country: how the client country may be established besides the client address; the
// check needs the whole config (tls.client_ca).
void read_client_country(config_reader& r, const YAML::Node& v, config& cfg);
void check_client_country(config_reader& r, const YAML::Node& root, const config& cfg);
// `positions` are the clusters' positions in the file, in cfg.clusters' order.
void check_distances(config_reader& r, const config& cfg, const std::vector<policy::source_pos>& positions);

}  // namespace sovgw::gateway
