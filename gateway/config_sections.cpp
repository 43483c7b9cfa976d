#include "gateway/config_sections.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <charconv>
#include <optional>

#include "audit/audit_log.hpp"
#include "audit/store.hpp"
#include "common/printable.hpp"
#include "common/regular_file.hpp"
#include "policy/countries.hpp"
#include "policy/geo_distance.hpp"

namespace sovgw::gateway {

namespace {

// Printable ASCII only: the value is sent as an RFC 8941 String.
bool sf_printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

}  // namespace

void read_admin(config_reader& r, const YAML::Node& v, config& cfg) {
  r.map(v, "admin",
        {
            {"enabled", [&](const YAML::Node& x) { r.boolean(x, "admin.enabled", cfg.admin_enabled); }},
            {"address", [&](const YAML::Node& x) { r.ip_literal(x, "admin.address", cfg.admin_address); }},
            {"port", [&](const YAML::Node& x) { r.integer(x, "admin.port", cfg.admin_port, 0, 65535); }},
            {"token_file",
             [&](const YAML::Node& x) { r.existing_file(x, "admin.token_file", cfg.admin_token_file); }},
            {"min_retention",
             [&](const YAML::Node& x) {
               std::string text;
               if (!r.scalar(x, "admin.min_retention", text)) {
                 return;
               }
               if (auto age = audit::parse_age_seconds(text)) {
                 cfg.admin_min_retention_seconds = *age;
                 if (*age < 3600) {
                   r.warning(x.Mark(),
                             fmt::format("admin.min_retention {}: the admin token can erase the stored "
                                         "payloads of the last hour too (retain?older_than); the default "
                                         "is 1d",
                                         text));
                 }
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
            {"hosts",
             [&](const YAML::Node& x) {
               r.strings(x, "admin.hosts must be a list of host names (e.g. [sovgw-admin.internal])",
                         "admin.hosts entry", [&](const YAML::Node& item, const std::string& name) {
                           const bool ok = !name.empty() && name.size() <= 253 &&
                                           std::all_of(name.begin(), name.end(), [](char c) {
                                             return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                                    (c >= '0' && c <= '9') || c == '-' || c == '.';
                                           });
                           if (!ok) {
                             r.error(item.Mark(),
                                     fmt::format("admin.hosts: '{}' is not a host name (letters, digits, "
                                                 "'-' and '.'; no port)",
                                                 name.substr(0, 253)));
                             return;
                           }
                           cfg.admin_hosts.push_back(name);
                         });
             }},
        });
}

void read_audit(config_reader& r, const YAML::Node& v, config& cfg) {
  r.map(
      v, "audit",
      {
          {"db",
           [&](const YAML::Node& x) {
             struct stat st {};
             r.non_empty(x, "audit.db", cfg.audit_db);
             if (!cfg.audit_db.empty() && ::stat(cfg.audit_db.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
               // The log is a folder (made on first start): a file there would stop the start.
               r.error(x.Mark(),
                       fmt::format(
                           "audit.db {} is {}, not a folder: the audit log is a folder (made "
                           "on the first start if missing)",
                           cfg.audit_db,
                           S_ISREG(st.st_mode) ? std::string_view("a file") : file_type_name(st.st_mode)));
             } else if (!cfg.audit_db.empty()) {
               if (const std::string problem = audit::log_folder_problem(cfg.audit_db); !problem.empty()) {
                 r.error(x.Mark(), "audit.db " + problem);
               }
             }
           }},
          {"keys", [&](const YAML::Node& x) { r.existing_directory(x, "audit.keys", cfg.audit_keys); }},
          {"checkpoint_interval",
           [&](const YAML::Node& x) {
             milliseconds interval{};
             r.duration(x, "audit.checkpoint_interval", interval);
             // Records newer than the last checkpoint are signed by nobody: whoever can write the
             // log could change them unseen (verify counts them UNSIGNED). An hour bounds that.
             if (interval == milliseconds{}) {
               return;  // unreadable: reported
             }
             if (interval < milliseconds(10) || interval > std::chrono::hours(1)) {
               r.error(
                   x.Mark(),
                   fmt::format("audit.checkpoint_interval must be between 10ms and 1h, not {}: records "
                               "newer than the last signed checkpoint are signed by nobody (verify counts "
                               "them UNSIGNED), so the log signs one at least every hour",
                               x.Scalar()));
               return;
             }
             cfg.audit_checkpoint_interval = interval;
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
          {"max_bytes",
           [&](const YAML::Node& x) {
             r.size_or_zero(x, "audit.max_bytes", cfg.audit_max_bytes);
             if (cfg.audit_max_bytes != 0 && cfg.audit_max_bytes < (std::uint64_t{64} << 20)) {
               r.warning(x.Mark(),
                         "audit.max_bytes is under 64MiB, less than an audit log takes after a few "
                         "thousand requests: every request is refused (503 audit_unavailable) once the "
                         "database reaches it");
             }
           }},
          {"min_free_bytes",
           [&](const YAML::Node& x) {
             r.size_or_zero(x, "audit.min_free_bytes", cfg.audit_min_free_bytes);
             // Probe round 46: with less kept free, a full disk is met by RocksDB's writes before
             // the bound stops forwarding, and RocksDB resumes only with 64 MiB free again.
             if (cfg.audit_min_free_bytes < (std::uint64_t{64} << 20)) {
               r.warning(x.Mark(),
                         fmt::format("audit.min_free_bytes is {}: the disk can fill before the bound stops "
                                     "forwarding (it is checked every second), and the audit log resumes "
                                     "after a full disk only once 64MiB are free; the default is 256MiB",
                                     cfg.audit_min_free_bytes == 0 ? "0 (no bound)" : "under 64MiB"));
             }
           }},
      });
  if (v.IsMap() && (cfg.audit_db.empty() || cfg.audit_keys.empty())) {
    r.error(v.Mark(), "audit needs both db and keys (make keys with `sovgw keys init DIR`)");
  }
}

void read_limits_store_url(config_reader& r, const YAML::Node& n, config::limits_store_config& out) {
  std::string s;
  if (!r.scalar(n, "limits_store", s)) {
    return;
  }
  const auto bad = [&] {
    r.error(n.Mark(), fmt::format("limits_store must be redis://HOST:PORT[/DB] (DB 0-15), not '{}'", s));
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

void read_limits(config_reader& r, const YAML::Node& v, config& cfg) {
  std::uint64_t line = cfg.http.max_request_line, head = cfg.http.max_head_bytes;
  r.map(v, "limits",
        {
            {"max_connections",
             [&](const YAML::Node& x) {
               r.integer(x, "limits.max_connections", cfg.max_connections, 1, 10000000);
             }},
            {"max_request_line",
             [&](const YAML::Node& x) {
               if (r.size(x, "limits.max_request_line", line) && line < 64) {
                 r.error(x.Mark(),
                         fmt::format("limits.max_request_line must be at least 64 bytes, not {}: no "
                                     "API request line is shorter ('POST /v1/chat/completions "
                                     "HTTP/1.1' is 34)",
                                     line));
               }
             }},
            {"max_header_bytes",
             [&](const YAML::Node& x) {
               if (r.size(x, "limits.max_header_bytes", head) && head < 1024) {
                 r.error(x.Mark(), fmt::format("limits.max_header_bytes must be at least 1KiB, not {}: an "
                                               "OpenAI SDK's request head alone is ~400 bytes",
                                               head));
               }
             }},
            {"max_headers",
             [&](const YAML::Node& x) { r.integer(x, "limits.max_headers", cfg.http.max_fields, 1, 10000); }},
            {"max_body_bytes",
             [&](const YAML::Node& x) { r.size(x, "limits.max_body_bytes", cfg.http.max_body_bytes); }},
            {"min_body_rate",
             [&](const YAML::Node& x) { r.size_or_zero(x, "limits.min_body_rate", cfg.http.min_body_rate); }},
        });
  cfg.http.max_request_line = line;
  cfg.http.max_head_bytes = head;
}

void read_timeouts(config_reader& r, const YAML::Node& v, config& cfg) {
  auto& t = cfg.timeouts;
  auto d = [&](milliseconds& field, const char* name) {
    return
        [&r, &field, name](const YAML::Node& x) { r.duration(x, fmt::format("timeouts.{}", name), field); };
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
}

void read_signing(config_reader& r, const YAML::Node& v, signing_config& out,
                  std::vector<YAML::Mark>& hmac_marks) {
  r.map(v, "signing",
        {
            {"key", [&](const YAML::Node& x) { r.existing_file(x, "signing.key", out.key); }},
            {"publish",
             [&](const YAML::Node& x) {
               if (!x.IsSequence()) {
                 r.error(x.Mark(),
                         "signing.publish must be a list of public key files (PEM, JWK or JWK Set) to "
                         "serve beside signing.key's");
                 return;
               }
               for (const YAML::Node& f : x) {
                 std::string path;
                 const std::size_t file_errors = r.file_errors();
                 r.existing_file(f, "signing.publish", path);
                 if (path.empty() || r.file_errors() != file_errors) {
                   continue;
                 }
                 if (r.check_files) {  // what is in it, at its line (serve reads it again)
                   try {
                     (void)read_published_keys(path);
                   } catch (const std::runtime_error& e) {
                     r.error(f.Mark(), e.what());
                     continue;
                   }
                 }
                 out.publish.push_back(std::move(path));
               }
             }},
            {"lifetime",
             [&](const YAML::Node& x) {
               r.duration(x, "signing.lifetime", out.lifetime);
               if (out.lifetime < milliseconds(1000) || out.lifetime > milliseconds(3600 * 1000)) {
                 r.error(x.Mark(), "signing.lifetime must be between 1s and 1h");
               }
             }},
            {"pseudonym_key",
             [&](const YAML::Node& x) { (void)r.scalar(x, "signing.pseudonym_key", out.pseudonym_key); }},
            {"gateway_id",
             [&](const YAML::Node& x) {
               if (r.scalar(x, "signing.gateway_id", out.gateway_id) &&
                   (out.gateway_id.empty() || !sf_printable(out.gateway_id) || out.gateway_id.size() > 256)) {
                 r.error(x.Mark(), "signing.gateway_id must be non-empty printable ASCII, at most 256 bytes");
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
                 k.pos = policy::yaml::pos_of(it->second);
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

void read_location(config_reader& r, const YAML::Node& v, config& cfg) {
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
                                       "like FR, not '{}'{}",
                                       loc.country, policy::country_code_hint(loc.country)));
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

namespace {

// "10.0.0.53", "10.0.0.53:5353", "2001:db8::53", "[2001:db8::53]:5353": false when it is none of them.
bool parse_name_server(const std::string& text, dns_server& s) {
  std::string port_text = "53";
  bool want_v6 = false;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string::npos || (close + 1 != text.size() && text[close + 1] != ':')) {
      return false;
    }
    s.address = text.substr(1, close - 1);
    port_text = close + 1 == text.size() ? port_text : text.substr(close + 2);
    want_v6 = true;
  } else if (const std::size_t colon = text.find(':');
             colon != std::string::npos && text.rfind(':') == colon) {
    s.address = text.substr(0, colon);  // IPv4:port (an IPv6 address has several colons)
    port_text = text.substr(colon + 1);
  } else {
    s.address = text;
    want_v6 = colon != std::string::npos;
  }
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  boost::system::error_code bad;
  const auto address = boost::asio::ip::make_address(s.address, bad);
  if (bad || address.is_v6() != want_v6 || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port == 0 || port > 65535) {
    return false;
  }
  s.port = static_cast<std::uint16_t>(port);
  return true;
}

}  // namespace

// dns_resolvers: ["10.0.0.53", "127.0.0.1:5353", "[::1]:5353"], one to three name servers.
void read_dns_resolvers(config_reader& r, const YAML::Node& v, config& cfg) {
  if (!v.IsSequence() || v.size() == 0 || v.size() > 3) {
    r.error(v.Mark(), "dns_resolvers must be a list of one to three name servers (IP[:port])");
    return;
  }
  for (const YAML::Node& n : v) {
    std::string text;
    if (!r.scalar(n, "a name server", text)) {
      continue;
    }
    dns_server s;
    if (!parse_name_server(text, s)) {
      r.error(n.Mark(), fmt::format("dns_resolvers: '{}' is not IPv4[:port], IPv6 or [IPv6]:port", text));
      continue;
    }
    cfg.dns_resolvers.push_back(std::move(s));
  }
}

void read_client_country(config_reader& r, const YAML::Node& v, config& cfg) {
  r.map(v, "client_country",
        {
            {"from_certificate",
             [&](const YAML::Node& x) {
               r.boolean(x, "client_country.from_certificate", cfg.client_country_from_certificate);
             }},
        });
}

void check_client_country(config_reader& r, const YAML::Node& root, const config& cfg) {
  if (cfg.client_country_from_certificate && cfg.tls.client_ca.empty()) {
    r.error(r.key_mark("client_country.from_certificate", root.Mark()),
            "client_country.from_certificate needs tls.client_ca (only a verified client certificate "
            "names a country)");
  }
}

// What the clusters' physical-evidence settings need from the rest of the config, reported at each
// cluster: max_distance_km and a cluster location need gateway.location, and a maximum the declared
// location can never satisfy is a mistake.
void check_distances(config_reader& r, const config& cfg, const std::vector<policy::source_pos>& positions) {
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

std::vector<crypto::public_key_result> read_published_keys(const std::string& path) {
  auto text = read_regular_file(path, max_pem_bytes, "signing.publish");
  if (!text.is_ok()) {
    throw std::runtime_error(text.error().message());
  }
  crypto::public_key_set_result set = crypto::parse_ed25519_public_keys(*text);
  if (!set.ok()) {
    throw std::runtime_error(
        fmt::format("signing.publish: {}: {}{}{}", path_or_secret(path),
                    set.member ? fmt::format("member {} of the JWK Set: ", *set.member) : std::string(),
                    describe(set.error),
                    set.error == crypto::public_key_error::unrecognized
                        ? " (`sovgw keys http-public KEY_FILE` prints a signing key's public key)"
                        : ""));
  }
  for (const crypto::public_key_result& k : set.keys) {
    // The kid is what a signature's keyid names: a key published under another name would verify
    // signatures that name a key it is not.
    if (const std::string thumbprint = crypto::ed25519_jwk_thumbprint(k.key); k.kid != thumbprint) {
      throw std::runtime_error(
          fmt::format("signing.publish: {}: the key's kid '{}' is not its JWK thumbprint {}",
                      path_or_secret(path), k.kid, thumbprint));
    }
  }
  return std::move(set.keys);
}

}  // namespace sovgw::gateway
