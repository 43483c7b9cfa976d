#include "policy/clusters_config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <set>

#include "common/ascii.hpp"
#include "common/regular_file.hpp"
#include "common/tenant_name.hpp"
#include "policy/config_values.hpp"
#include "policy/yaml_util.hpp"

namespace sovgw::policy {
namespace {

// The same server: host names compare case-insensitively (IPv6 literals are compared as written).
bool same_endpoint(const endpoint_config& a, const endpoint_config& b) {
  return a.port == b.port && ascii_iequals(a.host, b.host);
}

constexpr std::string_view cluster_keys[] = {"name",
                                             "endpoints",
                                             "country",
                                             "region",
                                             "operator_jurisdiction",
                                             "models",
                                             "tls",
                                             "auth",
                                             "insecure_loopback_plaintext",
                                             "host_header",
                                             "on_premises",
                                             "endpoint_geo_exempt",
                                             "location",
                                             "max_distance_km",
                                             "max_idle_per_endpoint",
                                             "max_connections_per_endpoint",
                                             "failures_before_down",
                                             "down_retry_interval"};
constexpr std::string_view tls_keys[] = {"ca", "server_name", "client_certificate", "client_key"};
constexpr std::string_view auth_keys[] = {"bearer_file", "header", "file"};
constexpr std::string_view location_keys[] = {"latitude", "longitude"};

// An HTTP field name (RFC 9110 token) that the gateway may set: not one it writes itself or that
// frames the message.
bool settable_field_name(std::string_view name) {
  if (name.empty()) {
    return false;
  }
  for (const char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) {
      return false;
    }
  }
  std::string lower(name);
  for (char& c : lower) {
    c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
  // What the gateway writes itself, frames the message with, or signs: the credential must not be
  // sent twice under one name, nor stand in for the body's digest or the signature.
  static constexpr std::string_view reserved[] = {"host",
                                                  "content-length",
                                                  "transfer-encoding",
                                                  "connection",
                                                  "te",
                                                  "upgrade",
                                                  "keep-alive",
                                                  "trailer",
                                                  "expect",
                                                  "content-type",
                                                  "content-encoding",
                                                  "accept-encoding",
                                                  "x-request-id",
                                                  "x-forwarded-for",
                                                  "forwarded",
                                                  "x-forwarded-proto",
                                                  "x-forwarded-host",
                                                  "x-forwarded-port",
                                                  "x-real-ip",
                                                  "content-digest",
                                                  "signature",
                                                  "signature-input"};
  for (std::string_view r : reserved) {
    if (lower == r) {
      return false;
    }
  }
  return !lower.starts_with("sovereign-") && !lower.starts_with("proxy-");
}

// A host, an IPv4 address or a bracketed IPv6 address, with an optional port: what a Host field or
// a TLS server name may hold, nothing a request head could be split with.
bool host_text(std::string_view text, bool port_allowed) {
  if (text.empty() || text.size() > 255) {
    return false;
  }
  return std::all_of(text.begin(), text.end(), [&](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_' || (port_allowed && (c == ':' || c == '[' || c == ']'));
  });
}

bool is_assigned_code(std::string_view s) {
  const auto id = pack_country(s);
  return s.size() == 2 && id && is_assigned_country(*id);
}

// Reads one cluster's values; the checks that need the whole cluster come after.
class cluster_reader {
 public:
  cluster_reader(diagnostics& diags, cluster_config& c) : diags_(diags), c_(c) {}

  void read(const YAML::Node& node) {
    yaml::for_each_entry(node, diags_, "cluster", keys(cluster_keys),
                         [&](const std::string& key, source_pos, const YAML::Node& v) { value(key, v); });
  }

  bool has_tls = false;
  source_pos location_at;  // where `location` is, when the cluster has one

 private:
  template <std::size_t n>
  static std::vector<std::string_view> keys(const std::string_view (&list)[n]) {
    return {list, list + n};
  }

  void value(const std::string& key, const YAML::Node& v) {
    if (key == "name") {
      if (non_empty(v, "cluster name", c_.name)) {
        if (const std::string problem = tenant_name_problem(c_.name, "cluster"); !problem.empty()) {
          error(v, fmt::format("cluster name '{}' is not a name: {}", c_.name, problem));
        }
      }
    } else if (key == "endpoints") {
      endpoints(v);
    } else if (key == "country") {
      if (scalar(v, "country", c_.country) && !is_assigned_code(c_.country)) {
        error(v, fmt::format("country must be an ISO 3166-1 alpha-2 code like FR, not '{}'{}", c_.country,
                             country_code_hint(c_.country)));
      }
    } else if (key == "region") {
      non_empty(v, "region", c_.region);
    } else if (key == "operator_jurisdiction") {
      if (scalar(v, "operator_jurisdiction", c_.operator_jurisdiction) &&
          !is_assigned_code(c_.operator_jurisdiction) && c_.operator_jurisdiction != "EU") {
        error(v, fmt::format("operator_jurisdiction must be a country code or EU, not '{}'{}",
                             c_.operator_jurisdiction, country_code_hint(c_.operator_jurisdiction)));
      }
    } else if (key == "models") {
      models(v);
    } else if (key == "tls") {
      tls(v);
    } else if (key == "auth") {
      auth(v);
    } else if (key == "insecure_loopback_plaintext") {
      boolean(v, "insecure_loopback_plaintext", c_.insecure_loopback_plaintext);
    } else if (key == "host_header") {
      if (non_empty(v, "host_header", c_.host_header) && !host_text(c_.host_header, true)) {
        error(v, fmt::format("host_header must be a host name or address with an optional port, not '{}'",
                             c_.host_header));
      }
    } else if (key == "on_premises") {
      boolean(v, "on_premises", c_.on_premises);
    } else if (key == "endpoint_geo_exempt") {
      exempt_reason(v);
    } else if (key == "location") {
      location(v);
    } else if (key == "max_distance_km") {
      integer(v, "max_distance_km", c_.max_distance_km, 1, 20038);
    } else if (key == "max_idle_per_endpoint") {
      integer(v, "max_idle_per_endpoint", c_.max_idle_per_endpoint, 0, 100000);
    } else if (key == "max_connections_per_endpoint") {
      integer(v, "max_connections_per_endpoint", c_.max_connections_per_endpoint, 1, 1000000);
    } else if (key == "failures_before_down") {
      integer(v, "failures_before_down", c_.failures_before_down, 1, 1000);
    } else if (key == "down_retry_interval") {
      std::string s;
      if (scalar(v, "down_retry_interval", s)) {
        if (const auto d = parse_duration(s)) {
          c_.down_retry_interval = *d;
        } else {
          error(v, duration_error("down_retry_interval", s));
        }
      }
    }
  }

  void error(const YAML::Node& at, std::string message) {
    diags_.error(yaml::pos_of(at), std::move(message));
  }

  bool scalar(const YAML::Node& n, std::string_view what, std::string& out) {
    if (!n.IsScalar()) {
      error(n, fmt::format("{} must be a string", what));
      return false;
    }
    out = n.Scalar();
    return true;
  }

  bool non_empty(const YAML::Node& n, std::string_view what, std::string& out) {
    if (scalar(n, what, out) && out.empty()) {
      error(n, fmt::format("{} must not be empty", what));
      return false;
    }
    return !out.empty();
  }

  void boolean(const YAML::Node& n, std::string_view what, bool& out) {
    std::string s;
    if (!scalar(n, what, s)) {
      return;
    }
    if (const auto b = parse_bool(s); b && yaml::quoted_scalar(n)) {
      error(n, quoted_bool_error(what, s));
    } else if (b) {
      out = *b;
    } else {
      error(n, bool_error(what, s));
    }
  }

  template <typename T>
  void integer(const YAML::Node& n, std::string_view what, T& out, std::uint64_t min, std::uint64_t max) {
    std::string s;
    if (!scalar(n, what, s)) {
      return;
    }
    const auto v = parse_whole_number(s);
    if (yaml::quoted_scalar(n)) {
      error(n, quoted_number_error(what, s));
    } else if (!v) {
      error(n, integer_error(what, s, min, max));
    } else if (*v < min || *v > max) {
      error(n, range_error(what, min, max, *v));
    } else {
      out = static_cast<T>(*v);
    }
  }

  void endpoints(const YAML::Node& v) {
    if (!v.IsSequence() || v.size() == 0) {
      error(v, "endpoints must be a non-empty list of host:port");
      return;
    }
    for (const auto& e : v) {
      std::string s;
      if (!scalar(e, "endpoint", s)) {
        continue;
      }
      if (const std::size_t scheme = s.find("://"); scheme != std::string::npos) {
        // What to write instead: the URL's host and port (its scheme's default when it names none),
        // never its user or password.
        std::string authority = s.substr(scheme + 3, s.find_first_of("/?#", scheme + 3) - (scheme + 3));
        if (const std::size_t at = authority.rfind('@'); at != std::string::npos) {
          authority.erase(0, at + 1);
        }
        const std::size_t close = authority.rfind(']');
        const std::size_t colon = authority.rfind(':');
        if (colon == std::string::npos || (close != std::string::npos && colon < close)) {
          authority += s.compare(0, 5, "http:") == 0 ? ":80" : ":443";
        }
        error(e, fmt::format("endpoint must be host:port, not a URL: write '{}' (TLS unless the cluster sets "
                             "insecure_loopback_plaintext)",
                             authority));
        continue;
      }
      const std::size_t colon = s.rfind(':');
      if (colon == std::string::npos || colon == 0 || colon + 1 == s.size()) {
        error(e, fmt::format("endpoint must be host:port (IPv6 as [::1]:port), not '{}'", s));
        continue;
      }
      endpoint_config ep;
      ep.host = s.substr(0, colon);
      const bool bracketed = ep.host.front() == '[' && ep.host.back() == ']';
      if (bracketed) {
        ep.host = ep.host.substr(1, ep.host.size() - 2);
      }
      // A DNS name or an IPv4 address; an IPv6 address (a zone too) in brackets.
      const bool host_ok = !ep.host.empty() && std::all_of(ep.host.begin(), ep.host.end(), [&](char c) {
        const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        return alnum || c == '.' || c == '-' || c == '_' || (bracketed && (c == ':' || c == '%'));
      });
      if (!host_ok) {
        error(e, fmt::format(
                     "endpoint host must be a DNS name or an IP address (IPv6 as [::1]:port), not '{}'", s));
        continue;
      }
      unsigned port = 0;
      const auto [p, ec] = std::from_chars(s.data() + colon + 1, s.data() + s.size(), port);
      if (ec != std::errc() || p != s.data() + s.size() || port == 0 || port > 65535) {
        error(e, fmt::format("endpoint port must be 1..65535 in '{}'", s));
        continue;
      }
      ep.port = static_cast<std::uint16_t>(port);
      ep.pos = yaml::pos_of(e);
      if (std::any_of(c_.endpoints.begin(), c_.endpoints.end(),
                      [&](const endpoint_config& o) { return same_endpoint(o, ep); })) {
        error(e, fmt::format("endpoint '{}' is listed twice", s));
        continue;
      }
      c_.endpoints.push_back(ep);
    }
  }

  void models(const YAML::Node& v) {
    if (!v.IsSequence()) {
      error(v, "models must be a list");
      return;
    }
    if (v.size() == 0) {
      error(v, "models must not be empty (leave it out to serve every model)");
      return;
    }
    for (const auto& item : v) {
      std::string s;
      non_empty(item, "models", s);
      c_.models.push_back(s);
    }
  }

  void tls(const YAML::Node& v) {
    has_tls = true;
    if (!yaml::expect_map(v, yaml::pos_of(v), diags_, "cluster tls")) {
      return;
    }
    yaml::for_each_entry(
        v, diags_, "cluster tls", keys(tls_keys),
        [&](const std::string& key, source_pos, const YAML::Node& x) {
          if (key == "ca") {
            non_empty(x, "tls.ca", c_.tls.ca_file);
          } else if (key == "server_name") {
            if (non_empty(x, "tls.server_name", c_.tls.server_name) &&
                !host_text(c_.tls.server_name, false)) {
              error(x, fmt::format("tls.server_name must be a host name, not '{}'", c_.tls.server_name));
            }
          } else if (key == "client_certificate") {
            non_empty(x, "tls.client_certificate", c_.tls.client_certificate);
          } else {
            non_empty(x, "tls.client_key", c_.tls.client_key);
          }
        });
  }

  // endpoint_geo_exempt switches a check off, so it must be a sentence a person wrote (shown
  // wherever the exemption is): not a flag (`false` would read as "off"), not blank, one line.
  void exempt_reason(const YAML::Node& v) {
    std::string text;
    if (!scalar(v, "endpoint_geo_exempt", text)) {
      return;
    }
    const auto space = [](char ch) { return ch == ' ' || ch == '\t'; };
    while (!text.empty() && space(text.back())) {
      text.pop_back();
    }
    std::size_t lead = 0;
    while (lead < text.size() && space(text[lead])) {
      ++lead;
    }
    text.erase(0, lead);
    const bool one_line = std::none_of(text.begin(), text.end(), [](char ch) {
      return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f;
    });
    const auto letters = std::count_if(text.begin(), text.end(), [](char ch) {
      return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
    });
    if (!one_line || text.size() < 12 || letters < 6) {
      error(v,
            fmt::format("endpoint_geo_exempt turns the endpoint country check off and must say why, in one "
                        "line of at least 12 characters (e.g. \"anycast front; GPUs in Paris per contract "
                        "42\"), not '{}'",
                        one_line ? text.substr(0, 64) : std::string("a text with control characters")));
      return;
    }
    c_.endpoint_geo_exempt = std::move(text);
  }

  void location(const YAML::Node& v) {
    if (!yaml::expect_map(v, yaml::pos_of(v), diags_, "cluster location")) {
      return;
    }
    geo_point p;
    int found = 0;
    yaml::for_each_entry(v, diags_, "cluster location", keys(location_keys),
                         [&](const std::string& key, source_pos, const YAML::Node& x) {
                           const bool lat = key == "latitude";
                           std::string s;
                           if (!scalar(x, key, s)) {
                             return;
                           }
                           if (const auto d = parse_degrees(s, lat ? 90 : 180)) {
                             (lat ? p.latitude : p.longitude) = *d;
                             ++found;
                           } else {
                             error(x, fmt::format("location.{} must be decimal degrees within +-{}, not '{}'",
                                                  key, lat ? 90 : 180, s));
                           }
                         });
    if (!v["latitude"] || !v["longitude"]) {
      error(v, "location needs latitude and longitude");
    } else if (found == 2) {
      c_.location = p;
      location_at = yaml::pos_of(v);
    }
  }

  void auth(const YAML::Node& v) {
    if (!yaml::expect_map(v, yaml::pos_of(v), diags_, "cluster auth")) {
      return;
    }
    yaml::for_each_entry(
        v, diags_, "cluster auth", keys(auth_keys),
        [&](const std::string& key, source_pos, const YAML::Node& x) {
          if (key == "bearer_file") {
            non_empty(x, "auth.bearer_file", c_.auth.file);
            c_.auth.file_pos = yaml::pos_of(x);
            c_.auth.bearer = true;
            c_.auth.header = "Authorization";
          } else if (key == "file") {
            non_empty(x, "auth.file", c_.auth.file);
            c_.auth.file_pos = yaml::pos_of(x);
          } else if (scalar(x, "auth.header", c_.auth.header) && !settable_field_name(c_.auth.header)) {
            error(x, fmt::format("auth.header '{}' is not a field name the gateway may set", c_.auth.header));
          }
        });
    const bool bearer = static_cast<bool>(v["bearer_file"]);
    if (bearer == (v["header"] || v["file"])) {
      error(v, "auth takes either bearer_file, or header and file");
    } else if (!bearer && (!v["header"] || !v["file"])) {
      error(v, "auth.header and auth.file go together");
    }
  }

  diagnostics& diags_;
  cluster_config& c_;
};

// The checks that need the whole cluster, reported at its start.
void check_cluster(const YAML::Node& n, const cluster_config& c, bool has_tls, source_pos location_at,
                   diagnostics& diags) {
  const source_pos pos = yaml::pos_of(n);
  if (c.location && !c.country.empty()) {
    if (const std::string why = point_outside_country(*c.location, c.country); !why.empty()) {
      diags.error(location_at, fmt::format("cluster '{}': location {}", c.name, why));
    }
  }
  if (c.name.empty()) {
    diags.error(pos, "cluster needs a name");
  }
  if (c.endpoints.empty() && !n["endpoints"]) {
    diags.error(pos, fmt::format("cluster '{}' needs endpoints", c.name));
  }
  if (c.country.empty()) {
    diags.error(pos, fmt::format("cluster '{}' needs a country (where its servers are)", c.name));
  }
  if (c.operator_jurisdiction.empty()) {
    diags.error(pos, fmt::format("cluster '{}' needs an operator_jurisdiction", c.name));
  }
  if (c.insecure_loopback_plaintext) {
    if (has_tls) {
      diags.error(pos, fmt::format("cluster '{}' sets both tls and insecure_loopback_plaintext", c.name));
    }
    for (const auto& ep : c.endpoints) {
      if (!is_loopback_host(ep.host)) {
        diags.error(pos,
                    fmt::format("cluster '{}': plaintext is only allowed to loopback endpoints, and {}:{} is "
                                "not loopback; every request to a cluster is encrypted",
                                c.name, ep.host, ep.port));
      }
    }
  }
  if (c.tls.client_certificate.empty() != c.tls.client_key.empty()) {
    diags.error(pos,
                fmt::format("cluster '{}': tls.client_certificate and tls.client_key go together", c.name));
  }
}

}  // namespace

std::vector<cluster_config> parse_clusters_node(const YAML::Node& list, source_pos owner, diagnostics& diags,
                                                std::vector<source_pos>* positions) {
  std::vector<cluster_config> out;
  if (!yaml::expect_list(list, owner, diags, "clusters")) {
    return out;
  }
  std::set<std::string> names;
  // Where each endpoint was seen, and in which country.
  struct seen_endpoint {
    endpoint_config endpoint;
    std::string cluster;
    std::string country;
    std::string jurisdiction;
  };
  std::vector<seen_endpoint> seen;
  for (const auto& item : list) {
    if (!item.IsMap()) {
      diags.error(yaml::pos_of(item), "cluster must be a mapping");
      continue;
    }
    cluster_config c;
    cluster_reader reader(diags, c);
    reader.read(item);
    if (!c.models.size() && !item["models"]) {
      c.models.emplace_back("*");
    }
    check_cluster(item, c, reader.has_tls, reader.location_at, diags);
    if (!c.name.empty() && !names.insert(ascii_lowered(c.name)).second) {
      // Policies name clusters in routes: two names told apart only by case are one typo away.
      diags.error(yaml::pos_of(item), fmt::format("duplicate cluster name '{}' (names are compared "
                                                  "regardless of case)",
                                                  c.name));
    }
    for (const auto& ep : c.endpoints) {
      const auto other = std::find_if(seen.begin(), seen.end(), [&](const seen_endpoint& o) {
        return same_endpoint(o.endpoint, ep) &&
               (o.country != c.country || o.jurisdiction != c.operator_jurisdiction);
      });
      if (other != seen.end()) {
        // A warning: the endpoint's geo verification judges each declaration on its own, and a test
        // bed may put every cluster on one loopback server.
        diags.warning(
            yaml::pos_of(item),
            fmt::format("cluster '{}' (country {}, operator_jurisdiction {}) lists endpoint {}:{}, which "
                        "cluster '{}' declares in {} under {}: one server is in one country under one "
                        "operator, so one of the declarations is wrong",
                        c.name, c.country, c.operator_jurisdiction, ep.host, ep.port, other->cluster,
                        other->country, other->jurisdiction));
      }
      seen.push_back({ep, c.name, c.country, c.operator_jurisdiction});
    }
    if (positions) {
      positions->push_back(yaml::pos_of(item));
    }
    out.push_back(std::move(c));
  }
  return out;
}

void read_clusters_node(const YAML::Node& list, source_pos owner, diagnostics& diags, clusters_result& out) {
  for (auto& c : parse_clusters_node(list, owner, diags, &out.positions)) {
    out.clusters.push_back(std::move(static_cast<cluster_info&>(c)));
  }
}

bool clusters_result::ok() const noexcept {
  for (const auto& d : diagnostics) {
    if (d.level == severity::error) {
      return false;
    }
  }
  return true;
}

clusters_result parse_clusters_text(std::string_view text, const std::string& file_name) {
  diagnostics diags(file_name);
  clusters_result result;
  result.file = file_name;
  const YAML::Node root = yaml::load(text, diags);
  if (root.IsDefined()) {
    if (!root.IsMap()) {
      diags.error(source_pos{1, 1}, "a config file must be a mapping with a 'clusters' list");
    } else {
      bool found = false;
      for (auto it = root.begin(); it != root.end(); ++it) {
        if (it->first.IsScalar() && it->first.Scalar() == "tenants" && it->second.IsScalar()) {
          result.tenants_file = it->second.Scalar();
        }
        if (it->first.IsScalar() && it->first.Scalar() == "geo_database" && it->second.IsScalar()) {
          result.geo_database = it->second.Scalar();
        }
        if (!it->first.IsScalar() || it->first.Scalar() != "clusters") {
          continue;  // the gateway's keys
        }
        if (found) {
          diags.error(yaml::pos_of(it->first), "duplicate key 'clusters' in the configuration");
          continue;
        }
        found = true;
        read_clusters_node(it->second, yaml::pos_of(it->first), diags, result);
      }
      if (!found) {
        diags.error(source_pos{1, 1}, "no 'clusters' list in this config file");
      }
    }
  }
  result.diagnostics = diags.take();
  return result;
}

clusters_result load_clusters_file(const std::filesystem::path& path) {
  auto text = read_regular_file(path.string(), max_config_bytes, "configuration file");
  if (!text.is_ok()) {
    clusters_result result;
    result.file = path.string();
    result.diagnostics.push_back({path.string(), {}, severity::error, text.error().message()});
    return result;
  }
  return parse_clusters_text(*text, path.string());
}

bool is_loopback_host(std::string_view host) {
  if (host == "localhost") {
    return true;
  }
  const auto ip = parse_ip(host);
  if (!ip) {
    return false;
  }
  return ip->v4 ? (ip->value >> 24) == 127 : ip->value == 1;
}

}  // namespace sovgw::policy
