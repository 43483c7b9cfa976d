#include "gateway/config.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

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
  [[nodiscard]] const std::vector<std::string>& errors() const { return errors_; }

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
    if (s == "true") {
      out = true;
    } else if (s == "false") {
      out = false;
    } else {
      error(n.Mark(), fmt::format("{} must be true or false, not '{}'", what, s));
    }
  }

  template <typename T>
  void integer(const YAML::Node& n, std::string_view what, T& out, std::uint64_t min, std::uint64_t max) {
    std::string s;
    if (!scalar(n, what, s)) {
      return;
    }
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty()) {
      error(n.Mark(), fmt::format("{} must be a whole number, not '{}'", what, s));
      return;
    }
    if (v < min || v > max) {
      error(n.Mark(), fmt::format("{} must be between {} and {}, not {}", what, min, max, v));
      return;
    }
    out = static_cast<T>(v);
  }

  // "250ms", "10s", "5m", "1h".
  void duration(const YAML::Node& n, std::string_view what, milliseconds& out) {
    std::string s;
    if (!scalar(n, what, s)) {
      return;
    }
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    std::string_view unit(p, static_cast<std::size_t>(s.data() + s.size() - p));
    std::uint64_t factor = unit == "ms" ? 1 : unit == "s" ? 1000 : unit == "m" ? 60000 : unit == "h" ? 3600000 : 0;
    if (ec != std::errc() || p == s.data() || factor == 0 || v == 0 || v > 1000000000) {
      error(n.Mark(), fmt::format("{} must be a positive duration like 500ms, 10s, 5m or 1h, not '{}'", what, s));
      return;
    }
    out = milliseconds(v * factor);
  }

  // "512", "64KiB", "10MiB", "1GiB".
  void size(const YAML::Node& n, std::string_view what, std::uint64_t& out) {
    std::string s;
    if (!scalar(n, what, s)) {
      return;
    }
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    std::string_view unit(p, static_cast<std::size_t>(s.data() + s.size() - p));
    std::uint64_t factor = unit.empty()       ? 1
                           : unit == "KiB" ? 1024
                           : unit == "MiB" ? 1024 * 1024
                           : unit == "GiB" ? 1024ull * 1024 * 1024
                                           : 0;
    if (ec != std::errc() || p == s.data() || factor == 0 || v == 0 || v > (1ull << 40) / factor) {
      error(n.Mark(), fmt::format("{} must be a positive size like 8192, 64KiB or 10MiB, not '{}'", what, s));
      return;
    }
    out = v * factor;
  }

  void string_list(const YAML::Node& n, std::string_view what, std::vector<std::string>& out) {
    if (!n.IsSequence()) {
      error(n.Mark(), fmt::format("{} must be a list", what));
      return;
    }
    for (const auto& item : n) {
      std::string s;
      non_empty(item, what, s);
      out.push_back(s);
    }
  }

 private:
  std::string source_;
  std::vector<std::string> errors_;
};

bool is_country_code(std::string_view s) {
  return s.size() == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z';
}

void read_endpoint(reader& r, const YAML::Node& n, std::vector<endpoint_config>& out) {
  std::string s;
  if (!r.scalar(n, "endpoint", s)) {
    return;
  }
  std::size_t colon = s.rfind(':');
  endpoint_config ep;
  if (colon == std::string::npos || colon == 0 || colon + 1 == s.size()) {
    r.error(n.Mark(), fmt::format("endpoint must be host:port (IPv6 as [::1]:port), not '{}'", s));
    return;
  }
  ep.host = s.substr(0, colon);
  if (ep.host.front() == '[' && ep.host.back() == ']') {
    ep.host = ep.host.substr(1, ep.host.size() - 2);
  }
  unsigned port = 0;
  auto [p, ec] = std::from_chars(s.data() + colon + 1, s.data() + s.size(), port);
  if (ec != std::errc() || p != s.data() + s.size() || port == 0 || port > 65535) {
    r.error(n.Mark(), fmt::format("endpoint port must be 1..65535 in '{}'", s));
    return;
  }
  ep.port = static_cast<std::uint16_t>(port);
  out.push_back(ep);
}

void read_cluster(reader& r, const YAML::Node& n, config& cfg) {
  cluster_config c;
  bool has_tls = false;
  r.map(n, "cluster",
        {
            {"name", [&](const YAML::Node& v) { r.non_empty(v, "cluster name", c.name); }},
            {"endpoints",
             [&](const YAML::Node& v) {
               if (!v.IsSequence() || v.size() == 0) {
                 r.error(v.Mark(), "endpoints must be a non-empty list of host:port");
                 return;
               }
               for (const auto& e : v) {
                 read_endpoint(r, e, c.endpoints);
               }
             }},
            {"country",
             [&](const YAML::Node& v) {
               if (r.scalar(v, "country", c.country) && !is_country_code(c.country)) {
                 r.error(v.Mark(), fmt::format("country must be an ISO 3166-1 alpha-2 code like FR, not '{}'",
                                               c.country));
               }
             }},
            {"region", [&](const YAML::Node& v) { r.non_empty(v, "region", c.region); }},
            {"operator_jurisdiction",
             [&](const YAML::Node& v) {
               if (r.scalar(v, "operator_jurisdiction", c.operator_jurisdiction) &&
                   !is_country_code(c.operator_jurisdiction) && c.operator_jurisdiction != "EU") {
                 r.error(v.Mark(), fmt::format("operator_jurisdiction must be a country code or EU, not '{}'",
                                               c.operator_jurisdiction));
               }
             }},
            {"models", [&](const YAML::Node& v) { r.string_list(v, "models", c.models); }},
            {"tls",
             [&](const YAML::Node& v) {
               has_tls = true;
               r.map(v, "cluster tls",
                     {
                         {"ca", [&](const YAML::Node& x) { r.non_empty(x, "tls.ca", c.tls.ca_file); }},
                         {"server_name",
                          [&](const YAML::Node& x) { r.non_empty(x, "tls.server_name", c.tls.server_name); }},
                         {"client_certificate",
                          [&](const YAML::Node& x) {
                            r.non_empty(x, "tls.client_certificate", c.tls.client_certificate);
                          }},
                         {"client_key",
                          [&](const YAML::Node& x) { r.non_empty(x, "tls.client_key", c.tls.client_key); }},
                     });
             }},
            {"insecure_loopback_plaintext",
             [&](const YAML::Node& v) { r.boolean(v, "insecure_loopback_plaintext", c.insecure_loopback_plaintext); }},
            {"host_header", [&](const YAML::Node& v) { r.non_empty(v, "host_header", c.host_header); }},
            {"max_idle_per_endpoint",
             [&](const YAML::Node& v) { r.integer(v, "max_idle_per_endpoint", c.max_idle_per_endpoint, 0, 100000); }},
            {"max_connections_per_endpoint",
             [&](const YAML::Node& v) {
               r.integer(v, "max_connections_per_endpoint", c.max_connections_per_endpoint, 1, 1000000);
             }},
            {"failures_before_down",
             [&](const YAML::Node& v) { r.integer(v, "failures_before_down", c.failures_before_down, 1, 1000); }},
            {"down_retry_interval",
             [&](const YAML::Node& v) { r.duration(v, "down_retry_interval", c.down_retry_interval); }},
        });
  if (!n.IsMap()) {
    return;
  }
  const YAML::Mark mark = n.Mark();
  if (c.name.empty()) {
    r.error(mark, "cluster needs a name");
  }
  for (const auto& other : cfg.clusters) {
    if (!c.name.empty() && other.name == c.name) {
      r.error(mark, fmt::format("duplicate cluster name '{}'", c.name));
    }
  }
  if (c.endpoints.empty() && !n["endpoints"]) {
    r.error(mark, fmt::format("cluster '{}' needs endpoints", c.name));
  }
  if (c.country.empty()) {
    r.error(mark, fmt::format("cluster '{}' needs a country (where its servers are)", c.name));
  }
  if (c.operator_jurisdiction.empty()) {
    r.error(mark, fmt::format("cluster '{}' needs an operator_jurisdiction", c.name));
  }
  if (c.models.empty() && !n["models"]) {
    c.models.push_back("*");
  }
  if (c.insecure_loopback_plaintext) {
    if (has_tls) {
      r.error(mark, fmt::format("cluster '{}' sets both tls and insecure_loopback_plaintext", c.name));
    }
    for (const auto& ep : c.endpoints) {
      if (!is_loopback_host(ep.host)) {
        r.error(mark, fmt::format("cluster '{}': plaintext is only allowed to loopback endpoints, and {}:{} is "
                                  "not loopback; every request to a cluster is encrypted",
                                  c.name, ep.host, ep.port));
      }
    }
  }
  if (c.tls.client_certificate.empty() != c.tls.client_key.empty()) {
    r.error(mark, fmt::format("cluster '{}': tls.client_certificate and tls.client_key go together", c.name));
  }
  cfg.clusters.push_back(std::move(c));
}

void read_root(reader& r, const YAML::Node& root, config& cfg) {
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
                     });
             }},
            {"threads", [&](const YAML::Node& v) { r.integer(v, "threads", cfg.threads, 0, 256); }},
            {"access_log", [&](const YAML::Node& v) { r.boolean(v, "access_log", cfg.access_log); }},
            {"policy", [&](const YAML::Node& v) { r.non_empty(v, "policy", cfg.policy_file); }},
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
                     });
               if (v.IsMap() && (cfg.audit_db.empty() || cfg.audit_keys.empty())) {
                 r.error(v.Mark(), "audit needs both db and keys (make keys with `sovgw keys init DIR`)");
               }
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
               if (!v.IsSequence()) {
                 r.error(v.Mark(), "clusters must be a list");
                 return;
               }
               for (const auto& c : v) {
                 read_cluster(r, c, cfg);
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
  if (cfg.tls.require_client_certificate && cfg.tls.client_ca.empty()) {
    r.error(root.Mark(), "tls.require_client_certificate needs tls.client_ca");
  }
  if (cfg.clusters.empty() && !root["clusters"]) {
    r.error(root.Mark(), "at least one cluster is required under clusters:");
  }
}

}  // namespace

bool is_loopback_host(std::string_view host) {
  if (host == "localhost" || host == "::1") {
    return true;
  }
  in_addr a4{};
  std::string h(host);
  if (inet_pton(AF_INET, h.c_str(), &a4) == 1) {
    return (ntohl(a4.s_addr) >> 24) == 127;
  }
  return false;
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

std::string_view embedded_default_config() {
  return R"(# Embedded default: the demo. Paths are relative to the working directory (the repository root).
listen:
  address: 127.0.0.1
  port: 8443
tls:
  certificate: certs/out/gateway.pem
  private_key: certs/out/gateway.key
admin:
  address: 127.0.0.1
  port: 9901
clusters:
  - name: standin-paris
    endpoints: ["127.0.0.1:9443"]
    country: FR
    region: eu-west-3
    operator_jurisdiction: EU
    models: ["*"]
    tls:
      ca: certs/out/ca.pem
      server_name: localhost
)";
}

}  // namespace sovgw::gateway
