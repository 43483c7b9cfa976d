#include "gateway/config.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include <boost/asio/ip/address.hpp>

#include "audit/audit_log.hpp"
#include "policy/clusters_config.hpp"
#include "policy/config_values.hpp"
#include "policy/countries.hpp"
#include "policy/geo_distance.hpp"

namespace sovgw::gateway {

namespace {

// Collects every problem in the file before giving up, so an admin fixes them in one round.
class reader {
 public:
  explicit reader(std::string_view source) : source_(source) {}

  void error(const YAML::Mark& mark, const std::string& message) {
    if (mark.is_null()) {
      errors_.push_back(fmt::format("{}: {}", source_, message));
    } else {
      errors_.push_back(fmt::format("{}:{}:{}: {}", source_, mark.line + 1, mark.column + 1, message));
    }
  }
  // A problem found by a shared parser (policy/clusters_config.hpp), in the same form.
  void error(const policy::diagnostic& d) {
    if (d.pos.line == 0) {
      errors_.push_back(fmt::format("{}: {}", source_, d.message));
    } else {
      errors_.push_back(fmt::format("{}:{}:{}: {}", source_, d.pos.line, d.pos.column, d.message));
    }
  }
  [[nodiscard]] const std::vector<std::string>& errors() const { return errors_; }
  [[nodiscard]] const std::string& source() const { return source_; }

  // Visits a mapping's keys; reports unknown keys; `handlers` maps a key to its reader.
  void map(const YAML::Node& node, std::string_view where,
           const std::map<std::string, std::function<void(const YAML::Node&)>>& handlers) {
    if (!node.IsMap()) {
      error(node.Mark(), fmt::format("{} must be a mapping", where));
      return;
    }
    std::set<std::string> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      std::string key = it->first.Scalar();
      auto h = handlers.find(key);
      if (h == handlers.end()) {
        std::string known;
        for (const auto& [k, _] : handlers) {
          known += known.empty() ? k : ", " + k;
        }
        error(it->first.Mark(), fmt::format("unknown key '{}' in {} (known: {})", key, where, known));
        continue;
      }
      if (!seen.insert(key).second) {
        error(it->first.Mark(), fmt::format("duplicate key '{}' in {}", key, where));
        continue;
      }
      h->second(it->second);
    }
  }

  bool scalar(const YAML::Node& n, std::string_view what, std::string& out) {
    if (!n.IsScalar()) {
      error(n.Mark(), fmt::format("{} must be a string", what));
      return false;
    }
    out = n.Scalar();
    return true;
  }

  void non_empty(const YAML::Node& n, std::string_view what, std::string& out) {
    if (scalar(n, what, out) && out.empty()) {
      error(n.Mark(), fmt::format("{} must not be empty", what));
    }
  }

  void boolean(const YAML::Node& n, std::string_view what, bool& out) {
    std::string s;
    if (!scalar(n, what, s)) {
      return;
    }
    if (const auto b = policy::parse_bool(s)) {
      out = *b;
    } else {
      error(n.Mark(), policy::bool_error(what, s));
    }
  }

  template <typename T>
  void integer(const YAML::Node& n, std::string_view what, T& out, std::uint64_t min, std::uint64_t max) {
    std::string s;
    if (!scalar(n, what, s)) {
      return;
    }
    const auto v = policy::parse_whole_number(s);
    if (!v) {
      error(n.Mark(), policy::whole_number_error(what, s));
    } else if (*v < min || *v > max) {
      error(n.Mark(), policy::range_error(what, min, max, *v));
    } else {
      out = static_cast<T>(*v);
    }
  }

  // "250ms", "10s", "5m", "1h".
  void duration(const YAML::Node& n, std::string_view what, milliseconds& out) {
    std::string s;
    if (!scalar(n, what, s)) {
      return;
    }
    if (const auto d = policy::parse_duration(s)) {
      out = *d;
    } else {
      error(n.Mark(), policy::duration_error(what, s));
    }
  }

  // redis://HOST:PORT[/DB]: HOST an IP address or a name, DB 0-15.
  void limits_store_url(const YAML::Node& n, config::limits_store_config& out) {
    std::string s;
    if (!scalar(n, "limits_store", s)) {
      return;
    }
    const auto bad = [&] {
      error(n.Mark(), fmt::format("limits_store must be redis://HOST:PORT[/DB] (DB 0-15), not '{}'", s));
    };
    constexpr std::string_view scheme = "redis://";
    if (!s.starts_with(scheme)) {
      return bad();
    }
    std::string_view rest = std::string_view(s).substr(scheme.size());
    std::string_view db = "0";
    if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
      db = rest.substr(slash + 1);
      rest = rest.substr(0, slash);
    }
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
      return bad();
    }
    std::string_view host = rest.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    const auto port = policy::parse_whole_number(rest.substr(colon + 1));
    const auto index = policy::parse_whole_number(db);
    if (!port || *port == 0 || *port > 65535 || !index || *index > 15) {
      return bad();
    }
    out.host = std::string(host);
    out.port = static_cast<std::uint16_t>(*port);
    out.db = static_cast<unsigned>(*index);
  }

  // "512", "64KiB", "10MiB", "1GiB".
  void size(const YAML::Node& n, std::string_view what, std::uint64_t& out) {
    std::string s;
    if (!scalar(n, what, s)) {
      return;
    }
    if (const auto v = policy::parse_size(s)) {
      out = *v;
    } else {
      error(n.Mark(), policy::size_error(what, s));
    }
  }

 private:
  std::string source_;
  std::vector<std::string> errors_;
};

// Printable ASCII only: the value is sent as an RFC 8941 String.
bool sf_printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

void read_signing(reader& r, const YAML::Node& v, signing_config& out, std::vector<YAML::Mark>& hmac_marks) {
  r.map(v, "signing",
        {
            {"key", [&](const YAML::Node& x) { r.non_empty(x, "signing.key", out.key); }},
            {"lifetime",
             [&](const YAML::Node& x) {
               r.duration(x, "signing.lifetime", out.lifetime);
               if (out.lifetime < milliseconds(1000) || out.lifetime > milliseconds(3600 * 1000)) {
                 r.error(x.Mark(), "signing.lifetime must be between 1s and 1h");
               }
             }},
            {"gateway_id",
             [&](const YAML::Node& x) {
               if (r.scalar(x, "signing.gateway_id", out.gateway_id) &&
                   (out.gateway_id.empty() || !sf_printable(out.gateway_id))) {
                 r.error(x.Mark(), "signing.gateway_id must be non-empty printable ASCII");
               }
             }},
            {"receipts", [&](const YAML::Node& x) { r.boolean(x, "signing.receipts", out.receipts); }},
            {"cluster_hmac_keys",
             [&](const YAML::Node& x) {
               if (!x.IsMap()) {
                 r.error(x.Mark(),
                         "signing.cluster_hmac_keys must map cluster names to hmac-sha256 key files");
                 return;
               }
               for (auto it = x.begin(); it != x.end(); ++it) {
                 cluster_hmac_key k;
                 if (r.scalar(it->first, "a cluster name", k.cluster) &&
                     r.scalar(it->second, "an hmac-sha256 key file", k.file)) {
                   out.cluster_hmac_keys.push_back(std::move(k));
                   hmac_marks.push_back(it->first.Mark());
                 }
               }
             }},
        });
  if (v.IsMap() && out.key.empty()) {
    r.error(v.Mark(), "signing needs key (create one with `sovgw keys http-new FILE`)");
  }
}

void read_location(reader& r, const YAML::Node& v, config& cfg) {
  gateway_location loc;
  std::optional<double> latitude;
  std::optional<double> longitude;
  const auto degrees = [&](const YAML::Node& x, const char* what, double limit, std::optional<double>& out) {
    std::string s;
    if (!r.scalar(x, what, s)) {
      return;
    }
    out = policy::parse_degrees(s, limit);
    if (!out) {
      r.error(x.Mark(), fmt::format("{} must be decimal degrees within +-{}, not '{}'", what, limit, s));
    }
  };
  r.map(v, "gateway.location",
        {
            {"country",
             [&](const YAML::Node& x) {
               if (r.scalar(x, "gateway.location.country", loc.country)) {
                 const auto id = policy::pack_country(loc.country);
                 if (loc.country.size() != 2 || !id || !policy::is_assigned_country(*id)) {
                   r.error(x.Mark(),
                           fmt::format("gateway.location.country must be an ISO 3166-1 alpha-2 code "
                                       "like FR, not '{}'",
                                       loc.country));
                 }
               }
             }},
            {"latitude", [&](const YAML::Node& x) { degrees(x, "gateway.location.latitude", 90, latitude); }},
            {"longitude",
             [&](const YAML::Node& x) { degrees(x, "gateway.location.longitude", 180, longitude); }},
        });
  if (!v.IsMap()) {
    return;
  }
  if (!v["country"]) {
    r.error(v.Mark(), "gateway.location needs country (where the gateway runs)");
  }
  if (static_cast<bool>(v["latitude"]) != static_cast<bool>(v["longitude"])) {
    r.error(v.Mark(), "gateway.location: latitude and longitude go together");
  } else if (latitude && longitude) {
    loc.point = policy::geo_point{*latitude, *longitude};
    if (const std::string why = policy::point_outside_country(*loc.point, loc.country); !why.empty()) {
      r.error(v.Mark(), fmt::format("gateway.location {}", why));
    }
  }
  cfg.location = std::move(loc);
}

// dns_resolvers: ["10.0.0.53", "127.0.0.1:5353"], one to three IPv4 name servers.
void read_dns_resolvers(reader& r, const YAML::Node& v, config& cfg) {
  if (!v.IsSequence() || v.size() == 0 || v.size() > 3) {
    r.error(v.Mark(), "dns_resolvers must be a list of one to three name servers (IPv4[:port])");
    return;
  }
  for (const YAML::Node& n : v) {
    std::string text;
    if (!r.scalar(n, "a name server", text)) {
      continue;
    }
    dns_server s;
    const std::size_t colon = text.find(':');
    s.address = text.substr(0, colon);
    unsigned port = 53;
    const std::string port_text = colon == std::string::npos ? "53" : text.substr(colon + 1);
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    boost::system::error_code bad;
    const auto address = boost::asio::ip::make_address(s.address, bad);
    if (bad || !address.is_v4() || ec != std::errc() || end != port_text.data() + port_text.size() ||
        port == 0 || port > 65535) {
      r.error(n.Mark(), fmt::format("dns_resolvers: '{}' is not IPv4[:port] (IPv6 name servers are not "
                                    "supported)",
                                    text));
      continue;
    }
    s.port = static_cast<std::uint16_t>(port);
    cfg.dns_resolvers.push_back(std::move(s));
  }
}

// client_country: how the client country may be established besides the client address.
void read_client_country(reader& r, const YAML::Node& v, config& cfg) {
  r.map(v, "client_country",
        {
            {"from_certificate",
             [&](const YAML::Node& x) {
               r.boolean(x, "client_country.from_certificate", cfg.client_country_from_certificate);
             }},
        });
}

void check_client_country(reader& r, const YAML::Node& root, const config& cfg) {
  if (cfg.client_country_from_certificate && cfg.tls.client_ca.empty()) {
    r.error(root["client_country"].Mark(),
            "client_country.from_certificate needs tls.client_ca (only a verified client certificate "
            "names a country)");
  }
}

// What the clusters' physical-evidence settings need from the rest of the config, reported at each
// cluster: max_distance_km and a cluster location need gateway.location, and a maximum the declared
// location can never satisfy is a mistake.
void check_distances(reader& r, const config& cfg, const std::vector<policy::source_pos>& positions) {
  for (std::size_t i = 0; i < cfg.clusters.size() && i < positions.size(); ++i) {
    const cluster_config& c = cfg.clusters[i];
    const policy::diagnostic at{r.source(), positions[i], policy::severity::error, ""};
    const auto report = [&](std::string message) {
      policy::diagnostic d = at;
      d.message = std::move(message);
      r.error(d);
    };
    if ((c.max_distance_km != 0 || c.location) && !cfg.location) {
      report(
          fmt::format("cluster '{}': max_distance_km and location need gateway.location (where the gateway "
                      "is: distances are measured from it)",
                      c.name));
      continue;
    }
    const auto gateway = cfg.location ? cfg.location->place() : std::nullopt;
    const auto declared = declared_place(c);
    if (c.max_distance_km != 0 && gateway && declared) {
      const double nearest = policy::nearest_km(*gateway, *declared);
      if (nearest > static_cast<double>(c.max_distance_km)) {
        report(
            fmt::format("cluster '{}': its declared location is at least {:.0f} km from the gateway, so no "
                        "endpoint can be proved within max_distance_km {}",
                        c.name, nearest, c.max_distance_km));
      }
    }
  }
}

void read_root(reader& r, const YAML::Node& root, config& cfg) {
  std::vector<YAML::Mark> hmac_marks;
  std::vector<policy::source_pos> cluster_positions;
  r.map(root, "the configuration",
        {
            {"listen",
             [&](const YAML::Node& v) {
               r.map(v, "listen",
                     {
                         {"address", [&](const YAML::Node& x) { r.non_empty(x, "listen.address", cfg.listen_address); }},
                         {"port", [&](const YAML::Node& x) { r.integer(x, "listen.port", cfg.listen_port, 0, 65535); }},
                         {"proxy_protocol",
                          [&](const YAML::Node& x) { r.boolean(x, "listen.proxy_protocol", cfg.listen_proxy_protocol); }},
                     });
             }},
            {"trusted_proxies",
             [&](const YAML::Node& v) {
               if (!v.IsSequence()) {
                 r.error(v.Mark(), "trusted_proxies must be a list of addresses or CIDR blocks");
                 return;
               }
               for (const auto& item : v) {
                 std::string text;
                 if (!r.scalar(item, "trusted_proxies entry", text)) {
                   continue;
                 }
                 std::string why;
                 if (auto block = policy::parse_cidr(text, why)) {
                   cfg.trusted_proxies.push_back(*block);
                 } else {
                   r.error(item.Mark(), fmt::format("trusted_proxies: '{}' is not an address or CIDR block: {}", text, why));
                 }
               }
             }},
            {"tls",
             [&](const YAML::Node& v) {
               r.map(v, "tls",
                     {
                         {"certificate", [&](const YAML::Node& x) { r.non_empty(x, "tls.certificate", cfg.tls.certificate); }},
                         {"private_key", [&](const YAML::Node& x) { r.non_empty(x, "tls.private_key", cfg.tls.private_key); }},
                         {"client_ca", [&](const YAML::Node& x) { r.non_empty(x, "tls.client_ca", cfg.tls.client_ca); }},
                         {"require_client_certificate",
                          [&](const YAML::Node& x) {
                            r.boolean(x, "tls.require_client_certificate", cfg.tls.require_client_certificate);
                          }},
                     });
             }},
            {"admin",
             [&](const YAML::Node& v) {
               r.map(v, "admin",
                     {
                         {"enabled", [&](const YAML::Node& x) { r.boolean(x, "admin.enabled", cfg.admin_enabled); }},
                         {"address", [&](const YAML::Node& x) { r.non_empty(x, "admin.address", cfg.admin_address); }},
                         {"port", [&](const YAML::Node& x) { r.integer(x, "admin.port", cfg.admin_port, 0, 65535); }},
                         {"token_file",
                          [&](const YAML::Node& x) { r.non_empty(x, "admin.token_file", cfg.admin_token_file); }},
                         {"min_retention",
                          [&](const YAML::Node& x) {
                            std::string text;
                            if (!r.scalar(x, "admin.min_retention", text)) {
                              return;
                            }
                            if (auto age = audit::parse_age_seconds(text)) {
                              cfg.admin_min_retention_seconds = *age;
                            } else {
                              r.error(x.Mark(), fmt::format("admin.min_retention must be an age like 1d, 12h or 30m, "
                                                            "not '{}'",
                                                            text));
                            }
                          }},
                         {"max_connections",
                          [&](const YAML::Node& x) {
                            r.integer(x, "admin.max_connections", cfg.admin_max_connections, 1, 4096);
                          }},
                     });
             }},
            {"client_country", [&](const YAML::Node& v) { read_client_country(r, v, cfg); }},
            {"threads", [&](const YAML::Node& v) { r.integer(v, "threads", cfg.threads, 0, 256); }},
            {"access_log", [&](const YAML::Node& v) { r.boolean(v, "access_log", cfg.access_log); }},
            {"policy", [&](const YAML::Node& v) { r.non_empty(v, "policy", cfg.policy_file); }},
            {"geo_database", [&](const YAML::Node& v) { r.non_empty(v, "geo_database", cfg.geo_database); }},
            {"dns_refresh",
             [&](const YAML::Node& v) {
               if (v.IsScalar() && v.Scalar() == "off") {
                 cfg.dns_refresh = milliseconds(0);
                 return;
               }
               r.duration(v, "dns_refresh", cfg.dns_refresh);
               if (cfg.dns_refresh < milliseconds(1000)) {
                 r.error(v.Mark(), "dns_refresh must be at least 1s (or off: only on SIGHUP)");
               }
             }},
            {"dns_resolvers", [&](const YAML::Node& v) { read_dns_resolvers(r, v, cfg); }},
            {"tenants", [&](const YAML::Node& v) { r.non_empty(v, "tenants", cfg.tenants_file); }},
            {"limits_store", [&](const YAML::Node& v) { r.limits_store_url(v, cfg.limits_store); }},
            {"limits_store_outage",
             [&](const YAML::Node& v) {
               std::string mode;
               if (r.scalar(v, "limits_store_outage", mode) && mode != "closed" && mode != "open") {
                 r.error(v.Mark(), fmt::format("limits_store_outage must be closed or open, not '{}'", mode));
               }
               cfg.limits_store.budgets_open = mode == "open";
             }},
            {"limits_store_sync_interval",
             [&](const YAML::Node& v) {
               r.duration(v, "limits_store_sync_interval", cfg.limits_store.sync_interval);
               if (cfg.limits_store.sync_interval < milliseconds(10) ||
                   cfg.limits_store.sync_interval > milliseconds(10000)) {
                 r.error(v.Mark(), "limits_store_sync_interval must be between 10ms and 10s");
               }
             }},
            {"audit",
             [&](const YAML::Node& v) {
               r.map(v, "audit",
                     {
                         {"db", [&](const YAML::Node& x) { r.non_empty(x, "audit.db", cfg.audit_db); }},
                         {"keys", [&](const YAML::Node& x) { r.non_empty(x, "audit.keys", cfg.audit_keys); }},
                         {"checkpoint_interval",
                          [&](const YAML::Node& x) {
                            r.duration(x, "audit.checkpoint_interval", cfg.audit_checkpoint_interval);
                          }},
                         {"payload",
                          [&](const YAML::Node& x) {
                            if (r.scalar(x, "audit.payload", cfg.audit_payload) && cfg.audit_payload != "sealed" &&
                                cfg.audit_payload != "digest" && cfg.audit_payload != "none") {
                              r.error(x.Mark(), fmt::format("audit.payload must be sealed, digest or none, not '{}'",
                                                            cfg.audit_payload));
                            }
                          }},
                         {"hash_client_ip",
                          [&](const YAML::Node& x) { r.boolean(x, "audit.hash_client_ip", cfg.audit_hash_client_ip); }},
                         {"record_before_response",
                          [&](const YAML::Node& x) {
                            r.boolean(x, "audit.record_before_response", cfg.audit_record_before_response);
                          }},
                         {"max_bytes", [&](const YAML::Node& x) { r.size(x, "audit.max_bytes", cfg.audit_max_bytes); }},
                         {"min_free_bytes",
                          [&](const YAML::Node& x) { r.size(x, "audit.min_free_bytes", cfg.audit_min_free_bytes); }},
                     });
               if (v.IsMap() && (cfg.audit_db.empty() || cfg.audit_keys.empty())) {
                 r.error(v.Mark(), "audit needs both db and keys (make keys with `sovgw keys init DIR`)");
               }
             }},
            {"signing", [&](const YAML::Node& v) { read_signing(r, v, cfg.signing, hmac_marks); }},
            {"gateway",
             [&](const YAML::Node& v) {
               r.map(v, "gateway", {{"location", [&](const YAML::Node& x) { read_location(r, x, cfg); }}});
             }},
            {"limits",
             [&](const YAML::Node& v) {
               std::uint64_t line = cfg.http.max_request_line, head = cfg.http.max_head_bytes;
               r.map(v, "limits",
                     {
                         {"max_connections",
                          [&](const YAML::Node& x) { r.integer(x, "limits.max_connections", cfg.max_connections, 1, 10000000); }},
                         {"max_request_line", [&](const YAML::Node& x) { r.size(x, "limits.max_request_line", line); }},
                         {"max_header_bytes", [&](const YAML::Node& x) { r.size(x, "limits.max_header_bytes", head); }},
                         {"max_headers",
                          [&](const YAML::Node& x) { r.integer(x, "limits.max_headers", cfg.http.max_fields, 1, 10000); }},
                         {"max_body_bytes",
                          [&](const YAML::Node& x) { r.size(x, "limits.max_body_bytes", cfg.http.max_body_bytes); }},
                     });
               cfg.http.max_request_line = line;
               cfg.http.max_head_bytes = head;
             }},
            {"timeouts",
             [&](const YAML::Node& v) {
               auto& t = cfg.timeouts;
               auto d = [&](milliseconds& field, const char* name) {
                 return [&r, &field, name](const YAML::Node& x) { r.duration(x, fmt::format("timeouts.{}", name), field); };
               };
               r.map(v, "timeouts",
                     {
                         {"handshake", d(t.handshake, "handshake")},
                         {"request_header", d(t.request_header, "request_header")},
                         {"request_body", d(t.request_body, "request_body")},
                         {"keep_alive_idle", d(t.keep_alive_idle, "keep_alive_idle")},
                         {"upstream_connect", d(t.upstream_connect, "upstream_connect")},
                         {"upstream_response", d(t.upstream_response, "upstream_response")},
                         {"stream_idle", d(t.stream_idle, "stream_idle")},
                         {"drain", d(t.drain, "drain")},
                         {"pool_idle", d(t.pool_idle, "pool_idle")},
                     });
             }},
            {"clusters",
             [&](const YAML::Node& v) {
               const YAML::Mark m = v.Mark();
               policy::diagnostics diags(r.source());
               cfg.clusters = policy::parse_clusters_node(
                   v, m.is_null() ? policy::source_pos{} : policy::source_pos{m.line + 1, m.column + 1},
                   diags, &cluster_positions);
               for (const policy::diagnostic& d : diags.items()) {
                 r.error(d);
               }
             }},
        });
  if (!root.IsMap()) {
    return;
  }
  if (cfg.tls.certificate.empty() || cfg.tls.private_key.empty()) {
    r.error(root.Mark(), "tls.certificate and tls.private_key are required (the gateway only serves HTTPS)");
  }
  if (cfg.listen_proxy_protocol && cfg.trusted_proxies.empty()) {
    r.error(root.Mark(), "listen.proxy_protocol needs trusted_proxies (the peers allowed to send the header)");
  }
  if (cfg.admin_enabled && cfg.admin_token_file.empty()) {
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(cfg.admin_address, ec);
    if (!ec && !address.is_loopback()) {
      r.error(root.Mark(), fmt::format("admin.address {} is not a loopback address: the admin listener "
                                       "serves other hosts only with authentication (admin.token_file)",
                                       cfg.admin_address));
    }
  }
  if (!cfg.limits_store.host.empty() && cfg.tenants_file.empty()) {
    r.error(root.Mark(), "limits_store needs tenants (the limits it shares are the tenants file's)");
  }
  if (cfg.tls.require_client_certificate && cfg.tls.client_ca.empty()) {
    r.error(root.Mark(), "tls.require_client_certificate needs tls.client_ca");
  }
  for (std::size_t i = 0; i < cfg.signing.cluster_hmac_keys.size(); ++i) {
    const std::string& name = cfg.signing.cluster_hmac_keys[i].cluster;
    if (std::none_of(cfg.clusters.begin(), cfg.clusters.end(),
                     [&](const cluster_config& c) { return c.name == name; })) {
      r.error(hmac_marks[i], fmt::format("signing.cluster_hmac_keys: no cluster is named '{}'", name));
    }
  }
  check_distances(r, cfg, cluster_positions);
  check_client_country(r, root, cfg);
  if (cfg.clusters.empty() && !root["clusters"]) {
    r.error(root.Mark(), "at least one cluster is required under clusters:");
  }
}

}  // namespace

std::optional<policy::geo_place> gateway_location::place() const {
  if (point) {
    return policy::geo_place{*point, 0};
  }
  return policy::country_extent(country);
}

std::optional<policy::geo_place> declared_place(const cluster_config& c) {
  if (c.location) {
    return policy::geo_place{*c.location, 0};
  }
  return policy::country_extent(c.country);
}

std::shared_ptr<const config> parse_config(std::string_view yaml, std::string_view source) {
  auto cfg = std::make_shared<config>();
  cfg->source = std::string(source);
  reader r(source);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::ParserException& e) {
    throw config_error(fmt::format("{}:{}:{}: {}", source, e.mark.line + 1, e.mark.column + 1, e.msg));
  }
  if (!root.IsDefined() || root.IsNull()) {
    throw config_error(fmt::format("{}: the configuration is empty", source));
  }
  read_root(r, root, *cfg);
  if (!r.errors().empty()) {
    std::string all;
    for (const auto& e : r.errors()) {
      all += e;
      all += '\n';
    }
    all.pop_back();
    throw config_error(all);
  }
  return cfg;
}

std::shared_ptr<const config> load_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw config_error(fmt::format("{}: cannot open the configuration file", path));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path);
}

}  // namespace sovgw::gateway
