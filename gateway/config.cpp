#include "gateway/config.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>

#include "common/ascii.hpp"
#include "crypto/sha256.hpp"
#include "gateway/config_reader.hpp"
#include "gateway/config_sections.hpp"
#include "policy/clusters_config.hpp"
#include "policy/geo_distance.hpp"
#include "policy/yaml_util.hpp"

namespace sovgw::gateway {

namespace {

// The admin listener and the gateway's cannot share a port on one address, nor on an unspecified
// one (0.0.0.0 or ::) that covers the other's. Port 0 picks a free one.
void check_listeners(config_reader& r, const config& cfg) {
  if (!cfg.admin_enabled || cfg.admin_port == 0 || cfg.admin_port != cfg.listen_port) {
    return;
  }
  boost::system::error_code e1;
  boost::system::error_code e2;
  const auto listen = boost::asio::ip::make_address(cfg.listen_address, e1);
  const auto admin = boost::asio::ip::make_address(cfg.admin_address, e2);
  // `::` takes the port in IPv4 too (dual stack); 0.0.0.0 only in IPv4.
  const auto covers = [](const boost::asio::ip::address& any, const boost::asio::ip::address& other) {
    return any.is_unspecified() && (any.is_v6() || other.is_v4());
  };
  if (e1 || e2 || (listen != admin && !covers(listen, admin) && !covers(admin, listen))) {
    return;
  }
  r.error(r.key_mark("admin.port", {}),
          fmt::format("admin.port {} is listen.port too: the admin listener needs a port of its own",
                      cfg.admin_port));
}

// Wider than the widest block of private addresses (10/8, fc00::/7): it takes in the Internet, and
// every client there could choose its own address (and country).
bool too_broad_to_trust(const policy::cidr_block& block) { return block.prefix < (block.base.v4 ? 8u : 7u); }

// Why a `forward_fields` entry (`text`; `lower`, the same in lower case) cannot be one, or empty:
// a client field clusters are sent all the same must be none the gateway acts on or refuses to
// forward (a credential, a claim, a forwarding or framing field, Sovereign-*), nor one routers,
// CDNs and auth proxies act on.
std::string forward_field_problem(const std::string& text, const std::string& lower) {
  const bool prefix = lower.ends_with('*');
  const std::string_view name = std::string_view(lower).substr(0, lower.size() - (prefix ? 1 : 0));
  const bool token = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
  if (!token) {
    return fmt::format(
        "forward_fields: '{}' is not a header field name (letters, digits and '-', a trailing "
        "'*' for a prefix)",
        text);
  }
  if (prefix && name.size() < 4) {
    return fmt::format(
        "forward_fields: '{}' is too broad a prefix: it would send the cluster fields routers "
        "act on (x-portkey-custom-host, helicone-target-url); name your own fields, or a prefix "
        "of at least 4 characters",
        text);
  }
  // A prefix must not cover a field the gateway acts on or never forwards ("content*" covers
  // Content-Length, "sovereign*" the geo-tags, "x-forwarded*" the forwarding fields).
  if (prefix) {
    const auto covers = [&](std::string_view n) { return n.starts_with(name); };
    std::string_view covered;
    for (const http::known_field& k : http::known_field_names()) {
      covered = covered.empty() && covers(k.name) ? k.name : covered;
    }
    for (const auto& list :
         {http::client_claim_prefixes(), http::client_claim_names(), http::upstream_account_names()}) {
      for (std::string_view n : list) {
        covered = covered.empty() && covers(n) ? n : covered;
      }
    }
    for (std::string_view n : {std::string_view("sovereign-"), std::string_view("proxy-")}) {
      covered = covered.empty() && covers(n) ? n : covered;
    }
    if (!covered.empty()) {
      return fmt::format(
          "forward_fields: '{}' covers '{}', a field the gateway acts on or never forwards: "
          "name your own fields",
          text, covered);
    }
  }
  // Words of the fields routers, CDNs and auth proxies act on: what the client writes there
  // would route the prompt, or assert a country, an address, a certificate or an identity.
  static constexpr std::string_view risky[] = {
      "country",  "region",   "geo",     "location",  "cert",      "key",     "signature",  "claim",
      "identity", "email",    "group",   "role",      "host",      "url",     "target",     "route",
      "routing",  "provider", "config",  "fallback",  "override",  "-ip",     "ip-",        "clientip",
      "peerip",   "sourceip", "addr",    "portkey",   "helicone",  "cf-",     "cloudfront", "azure",
      "amz",      "vercel",   "fastly",  "appengine", "akamai",    "remote-", "pomerium",   "oidc",
      "vouch",    "spiffe",   "litellm", "model",     "deployment"};
  if (const auto word =
          std::find_if(std::begin(risky), std::end(risky),
                       [&](std::string_view w) { return name.find(w) != std::string_view::npos; });
      word != std::end(risky)) {
    return fmt::format(
        "forward_fields: '{}' holds '{}', a word of the fields routers, CDNs and auth proxies act "
        "on (a destination, a country, an address, a certificate, an identity): the gateway does "
        "not forward such a field",
        text, *word);
  }
  const http::field_id id = http::identify_field(name);
  if (id == http::field_id::other) {
    return fmt::format(
        "forward_fields: '{}' is forwarded already (docs/http.md lists the fields every cluster "
        "is sent)",
        text);
  }
  if (id != http::field_id::unlisted) {
    return fmt::format(
        "forward_fields: '{}' is a field the gateway acts on or never forwards (a credential, a "
        "claim about the client, a forwarding, framing or Sovereign-* field): it cannot be sent "
        "as the client wrote it",
        text);
  }
  return {};
}

void read_forward_fields(config_reader& r, const YAML::Node& v, config& cfg) {
  r.strings(v, "forward_fields must be a list of header field names (a trailing '*' for a prefix)",
            "forward_fields entry", [&](const YAML::Node& item, const std::string& text) {
              std::string lower;
              (void)ascii_lower_into(text, lower);
              if (const std::string problem = forward_field_problem(text, lower); !problem.empty()) {
                r.error(item.Mark(), problem);
              } else {
                cfg.http.forward_fields.push_back(std::move(lower));
              }
            });
}

void read_root(config_reader& r, const YAML::Node& root, config& cfg) {
  std::vector<YAML::Mark> hmac_marks;
  std::vector<policy::source_pos> cluster_positions;
  r.map(
      root, "the configuration",
      {
          {"listen",
           [&](const YAML::Node& v) {
             r.map(v, "listen",
                   {
                       {"address",
                        [&](const YAML::Node& x) { r.ip_literal(x, "listen.address", cfg.listen_address); }},
                       {"port",
                        [&](const YAML::Node& x) { r.integer(x, "listen.port", cfg.listen_port, 0, 65535); }},
                       {"proxy_protocol",
                        [&](const YAML::Node& x) {
                          r.boolean(x, "listen.proxy_protocol", cfg.listen_proxy_protocol);
                        }},
                   });
           }},
          {"trusted_proxies",
           [&](const YAML::Node& v) {
             r.strings(
                 v, "trusted_proxies must be a list of addresses or CIDR blocks", "trusted_proxies entry",
                 [&](const YAML::Node& item, const std::string& text) {
                   std::string why;
                   if (auto block = policy::parse_cidr(text, why); block && too_broad_to_trust(*block)) {
                     r.error(item.Mark(),
                             fmt::format("trusted_proxies: '{}' is too broad: a client in it could name any "
                                         "address, and so any country, in X-Forwarded-For or a PROXY header; "
                                         "list the front proxies' own addresses (at most a /8 in IPv4, a /7 "
                                         "in IPv6)",
                                         text));
                   } else if (block) {
                     cfg.trusted_proxies.push_back(*block);
                   } else {
                     r.error(
                         item.Mark(),
                         fmt::format("trusted_proxies: '{}' is not an address or CIDR block: {}", text, why));
                   }
                 });
           }},
          {"forward_fields", [&](const YAML::Node& v) { read_forward_fields(r, v, cfg); }},
          {"tls",
           [&](const YAML::Node& v) {
             r.map(v, "tls",
                   {
                       {"certificate",
                        [&](const YAML::Node& x) {
                          r.existing_file(x, "tls.certificate", cfg.tls.certificate);
                        }},
                       {"private_key",
                        [&](const YAML::Node& x) {
                          r.existing_file(x, "tls.private_key", cfg.tls.private_key);
                        }},
                       {"client_ca",
                        [&](const YAML::Node& x) { r.existing_file(x, "tls.client_ca", cfg.tls.client_ca); }},
                       {"require_client_certificate",
                        [&](const YAML::Node& x) {
                          r.boolean(x, "tls.require_client_certificate", cfg.tls.require_client_certificate);
                        }},
                   });
           }},
          {"admin", [&](const YAML::Node& v) { read_admin(r, v, cfg); }},
          {"client_country", [&](const YAML::Node& v) { read_client_country(r, v, cfg); }},
          {"threads", [&](const YAML::Node& v) { r.integer(v, "threads", cfg.threads, 0, 256); }},
          {"access_log", [&](const YAML::Node& v) { r.boolean(v, "access_log", cfg.access_log); }},
          {"policy", [&](const YAML::Node& v) { r.existing_file(v, "policy", cfg.policy_file); }},
          {"geo_database",
           [&](const YAML::Node& v) { r.existing_file(v, "geo_database", cfg.geo_database); }},
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
          {"tenants", [&](const YAML::Node& v) { r.existing_file(v, "tenants", cfg.tenants_file); }},
          {"limits_store", [&](const YAML::Node& v) { read_limits_store_url(r, v, cfg.limits_store); }},
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
          {"audit", [&](const YAML::Node& v) { read_audit(r, v, cfg); }},
          {"signing", [&](const YAML::Node& v) { read_signing(r, v, cfg.signing, hmac_marks); }},
          {"gateway",
           [&](const YAML::Node& v) {
             r.map(v, "gateway", {{"location", [&](const YAML::Node& x) { read_location(r, x, cfg); }}});
           }},
          {"limits", [&](const YAML::Node& v) { read_limits(r, v, cfg); }},
          {"timeouts", [&](const YAML::Node& v) { read_timeouts(r, v, cfg); }},
          {"clusters",
           [&](const YAML::Node& v) {
             const YAML::Mark m = v.Mark();
             policy::diagnostics diags(r.source());
             cfg.clusters = policy::parse_clusters_node(
                 v, m.is_null() ? policy::source_pos{} : policy::source_pos{m.line + 1, m.column + 1}, diags,
                 &cluster_positions);
             for (const policy::diagnostic& d : diags.items()) {
               if (d.level == policy::severity::warning) {
                 cfg.warnings.push_back(d);
               } else {
                 r.error(d);
               }
             }
           }},
      });
  if (!root.IsMap()) {
    return;
  }
  // Errors about keys that need others are reported at the key that needs them.
  const auto at = [&](const std::string& key) { return r.key_mark(key, root.Mark()); };
  if (cfg.tls.certificate.empty() || cfg.tls.private_key.empty()) {
    r.error(at("tls"), "tls.certificate and tls.private_key are required (the gateway only serves HTTPS)");
  }
  if (cfg.listen_proxy_protocol && cfg.trusted_proxies.empty()) {
    r.error(at("listen.proxy_protocol"),
            "listen.proxy_protocol needs trusted_proxies (the peers allowed to send the header)");
  }
  if (cfg.admin_enabled && cfg.admin_token_file.empty()) {
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(cfg.admin_address, ec);
    if (!ec && !address.is_loopback()) {
      r.error(at("admin.address"),
              fmt::format("admin.address {} is not a loopback address: set admin.token_file, without "
                          "which other hosts could run its jobs (shred, retain); /healthz, /readyz, /metrics "
                          "and the keys are served to them without it (bind a loopback address, or keep "
                          "the port behind a firewall, to keep those in)",
                          cfg.admin_address));
    }
  }
  if (!cfg.limits_store.host.empty() && cfg.tenants_file.empty()) {
    r.error(at("limits_store"), "limits_store needs tenants (the limits it shares are the tenants file's)");
  }
  if (cfg.tls.require_client_certificate && cfg.tls.client_ca.empty()) {
    r.error(at("tls.require_client_certificate"), "tls.require_client_certificate needs tls.client_ca");
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
  check_listeners(r, cfg);
  if (cfg.clusters.empty() && (!root["clusters"] || root["clusters"].IsSequence())) {
    r.error(at("clusters"), "at least one cluster is required under clusters:");
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

policy::source_pos config::position(std::string_view key) const {
  const auto it = value_positions.find(key);
  return it == value_positions.end() ? policy::source_pos{} : it->second;
}

std::string config::at(std::string_view key, std::string_view what) const { return at(position(key), what); }

std::string config::at(policy::source_pos pos, std::string_view what) const {
  if (pos.line == 0) {
    return fmt::format("{}: {}", source, what);
  }
  return fmt::format("{}:{}:{}: {}", source, pos.line, pos.column, what);
}

std::shared_ptr<const config> parse_config(std::string_view yaml, std::string_view source,
                                           file_checks files) {
  auto cfg = std::make_shared<config>();
  cfg->source = std::string(source);
  cfg->text_sha256 = crypto::sha256(yaml);
  config_reader r(source);
  r.check_files = files == file_checks::check;
  std::optional<policy::yaml::load_error> error;
  const YAML::Node root = policy::yaml::load_document(yaml, error);
  if (error) {
    throw config_error(
        fmt::format("{}:{}:{}: {}", source, error->pos.line, error->pos.column, error->message));
  }
  if (!root.IsDefined() || root.IsNull()) {
    throw config_error(fmt::format("{}: the configuration is empty", source));
  }
  read_root(r, root, *cfg);
  cfg->value_positions = r.value_positions();
  cfg->warnings.insert(cfg->warnings.end(), r.warnings().begin(), r.warnings().end());
  if (!r.errors().empty()) {
    std::string all;
    for (const auto& e : r.errors()) {
      all += e;
      all += '\n';
    }
    all.pop_back();
    throw config_error(all, r.file_errors() == r.errors().size());
  }
  return cfg;
}

}  // namespace sovgw::gateway
