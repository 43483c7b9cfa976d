#include "gateway/config.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

#include "policy/clusters_config.hpp"

using namespace sovgw::gateway;

namespace {

const std::string base = R"(listen: {address: 127.0.0.1, port: 8443}
tls: {certificate: a.pem, private_key: a.key}
clusters:
  - name: paris
    endpoints: ["127.0.0.1:9443"]
    country: FR
    region: eu-west-3
    operator_jurisdiction: EU
)";

std::string errors_of(const std::string& yaml) {
  try {
    (void)parse_config(yaml, "gw.yaml");
  } catch (const config_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("the embedded default config is the demo's, and valid") {
  auto cfg = parse_config(embedded_default_config(), "<embedded default>");
  REQUIRE(cfg->clusters.size() == 5);  // examples/demo/sovgw.yaml
  CHECK(cfg->listen_port == 8443);
  CHECK(cfg->clusters[0].tls.ca_file == "certs/out/ca.pem");
  CHECK(cfg->policy_file == "examples/policies/eu_policy.yaml");
  CHECK(cfg->audit_db == "demo/audit");
  CHECK(cfg->tenants_file == "demo/tenants.yaml");
  CHECK_FALSE(cfg->trusted_proxies.empty());  // the demo plays clients from anywhere on loopback
}

TEST_CASE("the plain example config is the bare proxy") {
  std::ifstream in(std::string(SOVGW_SOURCE_DIR) + "/examples/plain.yaml");
  REQUIRE(in);
  std::ostringstream text;
  text << in.rdbuf();
  auto cfg = parse_config(text.str(), "examples/plain.yaml");
  REQUIRE(cfg->clusters.size() == 1);
  CHECK(cfg->policy_file.empty());
  CHECK(cfg->audit_db.empty());
  CHECK(cfg->tenants_file.empty());
  CHECK(cfg->trusted_proxies.empty());
}

TEST_CASE("defaults and values") {
  auto cfg = parse_config(
      base + "timeouts: {drain: 2s, stream_idle: 1500ms}\nlimits: {max_body_bytes: 1MiB}\n", "gw.yaml");
  CHECK(cfg->timeouts.drain.count() == 2000);
  CHECK(cfg->timeouts.stream_idle.count() == 1500);
  CHECK(cfg->http.max_body_bytes == 1024 * 1024);
  CHECK(cfg->clusters[0].models == std::vector<std::string>{"*"});
  CHECK(cfg->clusters[0].endpoints[0].port == 9443);
}

TEST_CASE("0 is no bound where the docs say so, and not a size elsewhere") {
  auto cfg = parse_config(
      base + "audit: {db: d, keys: k, max_bytes: 0, min_free_bytes: 0}\nlimits: {min_body_rate: 0}\n",
      "gw.yaml");
  CHECK(cfg->audit_max_bytes == 0);
  CHECK(cfg->audit_min_free_bytes == 0);
  CHECK(cfg->http.min_body_rate == 0);
  CHECK(errors_of(base + "limits: {max_body_bytes: 0}\n").find("max_body_bytes must be a positive size") !=
        std::string::npos);
}

TEST_CASE("admin.hosts: the names the admin listener answers besides IP addresses and localhost") {
  auto cfg = parse_config(base + "admin: {hosts: [sovgw-admin.internal, Prom.Example]}\n", "gw.yaml");
  CHECK(cfg->admin_hosts == std::vector<std::string>{"sovgw-admin.internal", "Prom.Example"});
  CHECK(parse_config(base, "gw.yaml")->admin_hosts.empty());
  CHECK(errors_of(base + "admin: {hosts: [\"admin:9901\"]}\n")
            .find("admin.hosts: 'admin:9901' is not a host name (letters, digits, '-' and '.'; no port)") !=
        std::string::npos);
  CHECK(errors_of(base + "admin: {hosts: admin}\n").find("admin.hosts must be a list of host names") !=
        std::string::npos);
}

TEST_CASE("forward_fields: fields on no list that clusters are sent, never one the gateway acts on") {
  auto cfg = parse_config(base + "forward_fields: [X-Team, x-custom-*]\n", "gw.yaml");
  CHECK(cfg->http.forward_fields == std::vector<std::string>{"x-team", "x-custom-*"});
  CHECK(parse_config(base, "gw.yaml")->http.forward_fields.empty());
  CHECK(errors_of(base + "forward_fields: [Authorization]\n")
            .find("gw.yaml:9:18: forward_fields: 'Authorization' is a field the gateway acts on or never "
                  "forwards") != std::string::npos);
  for (const char* name : {"X-Forwarded-For", "Sovereign-Data-Class", "x-api-key*", "Content-Length",
                           "CF-Connecting-IP", "X-Auth-Anything"}) {
    CAPTURE(name);
    const std::string e = errors_of(base + fmt::format("forward_fields: [\"{}\"]\n", name));
    CHECK((e.find("acts on or never forwards") != std::string::npos ||
           e.find("a word of the fields") != std::string::npos || e.find("covers '") != std::string::npos));
  }
  CHECK(errors_of(base + "forward_fields: [Accept]\n").find("'Accept' is forwarded already") !=
        std::string::npos);
  CHECK(errors_of(base + "forward_fields: [\"*\"]\n").find("is not a header field name") !=
        std::string::npos);
  CHECK(errors_of(base + "forward_fields: [\"x-*\"]\n").find("is too broad a prefix") != std::string::npos);
  CHECK(errors_of(base + "forward_fields: [\"x-my*\"]\n").empty());
  for (const char* name : {"CF-IPCountry", "client-cert", "Helicone-Target-Url", "x-portkey-custom-host",
                           "x-azure-clientip", "x-private-key"}) {
    CAPTURE(name);
    CHECK(errors_of(base + fmt::format("forward_fields: [\"{}\"]\n", name)).find("a word of the fields") !=
          std::string::npos);
  }
  for (const char* prefix : {"content*", "sovereign*", "x-forwarded*", "Proxy-a*", "x-real*"}) {
    CAPTURE(prefix);
    CHECK(errors_of(base + fmt::format("forward_fields: [\"{}\"]\n", prefix)).find("covers '") !=
          std::string::npos);
  }
  CHECK(errors_of(base + "forward_fields: [\"x team\"]\n").find("is not a header field name") !=
        std::string::npos);
  CHECK(errors_of(base + "forward_fields: x-team\n").find("forward_fields must be a list") !=
        std::string::npos);
}

TEST_CASE("a cluster's host_header, server name and credential field cannot split or forge a request head") {
  // Probe round 18: CR LF in host_header reached the cluster as a field of its own; an auth.header
  // named Content-Digest was sent beside the gateway's digest.
  CHECK(errors_of(base + "    host_header: \"a\\r\\nX-Injected: yes\"\n")
            .find("gw.yaml:9:18: host_header must be a host name or address with an optional port") !=
        std::string::npos);
  CHECK(errors_of(base + "    host_header: \"api.example:8443\"\n").empty());
  CHECK(errors_of(base + "    host_header: \"[::1]:8443\"\n").empty());
  CHECK(errors_of(base + "    tls: {server_name: \"local host\"}\n")
            .find("tls.server_name must be a host name") != std::string::npos);
  for (const char* name : {"Content-Digest", "Signature", "signature-input", "Expect", "Keep-Alive",
                           "Proxy-Authorization", "Content-Type"}) {
    CAPTURE(name);
    CHECK(errors_of(base + fmt::format("    auth: {{header: {}, file: k.txt}}\n", name))
              .find("is not a field name the gateway may set") != std::string::npos);
  }
}

TEST_CASE("every error is reported with file:line:col") {
  std::string e = errors_of(base + "bogus: 1\nthreads: lots\n");
  CHECK(e.find("gw.yaml:9:1: unknown key 'bogus' in the configuration") != std::string::npos);
  CHECK(e.find("gw.yaml:10:10: threads must be a whole number, not 'lots'") != std::string::npos);
}

TEST_CASE("plaintext clusters only on loopback, and never silently") {
  std::string plain = R"(listen: {port: 8443}
tls: {certificate: a.pem, private_key: a.key}
clusters:
  - name: remote
    endpoints: ["10.0.0.5:8000"]
    country: DE
    operator_jurisdiction: EU
    insecure_loopback_plaintext: true
)";
  CHECK(errors_of(plain).find("gw.yaml:4:5: cluster 'remote': plaintext is only allowed to loopback") !=
        std::string::npos);
  std::string local = plain;
  local.replace(local.find("10.0.0.5"), 8, "127.0.0.1");
  CHECK(errors_of(local).empty());
  CHECK(is_loopback_host("127.5.5.5"));
  CHECK(is_loopback_host("::1"));
  CHECK_FALSE(is_loopback_host("10.0.0.1"));
  CHECK_FALSE(is_loopback_host("example.org"));
}

TEST_CASE("bad values") {
  CHECK(errors_of(base + "timeouts: {drain: 10}\n").find("timeouts.drain must be a positive duration") !=
        std::string::npos);
  // A duration the clock cannot add to now: "3000000h" for "never" timed every request out at
  // once (probe round 29). Ten years at most.
  CHECK(errors_of(base + "timeouts: {upstream_response: 3000000h}\n")
            .find("timeouts.upstream_response must be a positive duration like 500ms, 10s, 5m or 1h, at most "
                  "87600h (ten years), not '3000000h'") != std::string::npos);
  CHECK(errors_of(base + "timeouts: {keep_alive_idle: 315360000001ms}\n").find("at most 87600h") !=
        std::string::npos);
  CHECK(errors_of(base + "timeouts: {upstream_response: 87600h, keep_alive_idle: 5256000m}\n").empty());
  CHECK(errors_of(base + "limits: {max_body_bytes: 5TB}\n")
            .find("limits.max_body_bytes must be a positive size") != std::string::npos);
  // Values that would leave the gateway refusing everything (probe round 18).
  CHECK(errors_of(base + "limits: {max_header_bytes: 1}\n")
            .find("limits.max_header_bytes must be at least 1KiB, not 1") != std::string::npos);
  CHECK(errors_of(base + "limits: {max_request_line: 10}\n")
            .find("limits.max_request_line must be at least 64 bytes") != std::string::npos);
  CHECK(errors_of(base + "limits: {max_header_bytes: 1KiB, max_request_line: 64}\n").empty());
  std::string port = base;
  port.replace(port.find("port: 8443"), 10, "port: 70000");
  CHECK(errors_of(port) == "gw.yaml:1:36: listen.port must be between 0 and 65535, not 70000");
  port.replace(port.find("port: 70000"), 11, "port: 65535");
  CHECK(errors_of(port).empty());
  std::string endpoint_port = base;
  endpoint_port.replace(endpoint_port.find(":9443"), 5, ":70000");
  CHECK(errors_of(endpoint_port) == "gw.yaml:5:17: endpoint port must be 1..65535 in '127.0.0.1:70000'");
  std::string bad_country = base;
  bad_country.replace(bad_country.find("country: FR"), 11, "country: fr");
  CHECK(errors_of(bad_country).find("country must be an ISO 3166-1 alpha-2 code") != std::string::npos);
  // A key with nothing after it is said to have no value, at its own line (probe round 25: it was
  // "must be a string" at the next key's line).
  const std::string no_value = errors_of(base + "policy:\naccess_log: true\n");
  CHECK(no_value.find("policy has no value (write it after the colon, or remove the key)") !=
        std::string::npos);
  CHECK(no_value.find(fmt::format("gw.yaml:{}:1:", std::count(base.begin(), base.end(), '\n') + 1)) == 0);
  CHECK(errors_of(base + "timeouts:\n  drain:\n").find("timeouts.drain has no value") != std::string::npos);
  CHECK(errors_of("listen: [").find("gw.yaml:1:") == 0);
  CHECK(errors_of("").find("the configuration is empty") != std::string::npos);
}

TEST_CASE("clusters: the gateway and the policy tools give the same errors for the same file") {
  std::string bad = base + R"(  - name: paris
    endpoints: ["10.0.0.1:443"]
    country: XX
    operator_jurisdiction: EU
    models: []
    colour: blue
)";
  const std::string gateway = errors_of(bad);
  const auto tools = sovgw::policy::parse_clusters_text(bad, "gw.yaml");
  std::string expected;
  for (const auto& d : tools.diagnostics) {
    expected += (expected.empty() ? "" : "\n") + std::string("gw.yaml:") + std::to_string(d.pos.line) + ":" +
                std::to_string(d.pos.column) + ": " + d.message;
  }
  CHECK(tools.diagnostics.size() == 4);
  CHECK(gateway == expected);
  CHECK(gateway.find("gw.yaml:11:14: country must be an ISO 3166-1 alpha-2 code like FR, not 'XX'") !=
        std::string::npos);
  CHECK(gateway.find("gw.yaml:9:5: duplicate cluster name 'paris'") != std::string::npos);
}

TEST_CASE("a key written twice names the line of the first (probe round 35)") {
  const std::string twice = base + "listen: {address: 127.0.0.1, port: 8443}\n";
  const int first = 1 + static_cast<int>(std::count(base.begin(), base.begin() + base.find("listen:"), '\n'));
  const int second = 1 + static_cast<int>(std::count(base.begin(), base.end(), '\n'));
  CHECK(errors_of(twice).find(fmt::format("gw.yaml:{}:1: duplicate key 'listen' in the configuration (first at line {})",
                                          second, first)) != std::string::npos);
}

TEST_CASE("an endpoint listed twice is an error; one server in two countries a warning") {
  std::string twice = base;
  twice.replace(twice.find(R"(["127.0.0.1:9443"])"), 18, R"(["h.example:9443", "H.EXAMPLE:9443"])");
  CHECK(errors_of(twice) == "gw.yaml:5:35: endpoint 'H.EXAMPLE:9443' is listed twice");
  const auto cfg = parse_config(base + R"(  - name: virginia
    endpoints: ["127.0.0.1:9443"]
    country: US
    operator_jurisdiction: US
  - name: lyon
    endpoints: ["127.0.0.1:9443"]
    country: FR
    operator_jurisdiction: EU
)",
                                "gw.yaml");
  REQUIRE(cfg->warnings.size() == 2);  // lyon agrees with paris, not with virginia
  CHECK(
      cfg->warnings[0].format() ==
      "gw.yaml:9:5: warning: cluster 'virginia' (country US, operator_jurisdiction US) lists endpoint "
      "127.0.0.1:9443, which cluster 'paris' declares in FR under EU: one server is in one country under one "
      "operator, so one of the declarations is wrong");
  CHECK(cfg->warnings[1].format().find(
            "gw.yaml:13:5: warning: cluster 'lyon' (country FR, operator_jurisdiction "
            "EU) lists endpoint 127.0.0.1:9443, which cluster 'virginia' declares in US") == 0);
  // Cluster names differ by more than their case (policies name them in routes).
  std::string cased = base +
                      "  - name: PARIS\n    endpoints: [\"127.0.0.2:9443\"]\n    country: FR\n"
                      "    operator_jurisdiction: EU\n";
  CHECK(errors_of(cased) ==
        "gw.yaml:9:5: duplicate cluster name 'PARIS' (names are compared regardless of case)");
}

TEST_CASE("settings allowed but most likely a mistake are warnings") {
  const auto cfg = parse_config(base +
                                    "audit: {db: d, keys: k, max_bytes: 1KiB}\n"
                                    "admin: {token_file: t, min_retention: 0s}\n",
                                "gw.yaml");
  REQUIRE(cfg->warnings.size() == 2);
  CAPTURE(cfg->warnings[0].format());
  CHECK(cfg->warnings[0].format().find("gw.yaml:9:") == 0);
  CHECK(cfg->warnings[0].message.find("audit.max_bytes is under 64MiB") == 0);
  CHECK(cfg->warnings[1].format().find(
            "gw.yaml:10:39: warning: admin.min_retention 0s: the admin token can erase") == 0);
  CHECK(parse_config(
            base + "audit: {db: d, keys: k, max_bytes: 50GiB}\nadmin: {token_file: t, min_retention: 1d}\n",
            "gw.yaml")
            ->warnings.empty());
  // Probe round 46: less kept free than RocksDB needs to resume after a full disk.
  for (const char* value : {"512KiB", "0"}) {
    const auto low =
        parse_config(base + "audit: {db: d, keys: k, min_free_bytes: " + value + "}\n", "gw.yaml");
    REQUIRE(low->warnings.size() == 1);
    CHECK(low->warnings[0].message.find("audit.min_free_bytes is ") == 0);
    CHECK(low->warnings[0].message.find("resumes after a full disk only once 64MiB are free") !=
          std::string::npos);
  }
  CHECK(parse_config(base + "audit: {db: d, keys: k, min_free_bytes: 64MiB}\n", "gw.yaml")->warnings.empty());
}

TEST_CASE("limits_store: redis://HOST:PORT[/DB], with tenants, and its outage mode") {
  const std::string tenants = base + "tenants: t.yaml\n";
  auto cfg = parse_config(tenants +
                              "limits_store: redis://10.0.0.7:6380/2\nlimits_store_outage: open\n"
                              "limits_store_sync_interval: 50ms\n",
                          "gw.yaml");
  CHECK(cfg->limits_store.host == "10.0.0.7");
  CHECK(cfg->limits_store.port == 6380);
  CHECK(cfg->limits_store.db == 2);
  CHECK(cfg->limits_store.budgets_open);
  CHECK(cfg->limits_store.sync_interval == milliseconds(50));
  cfg = parse_config(tenants + "limits_store: redis://[::1]:6379\n", "gw.yaml");
  CHECK(cfg->limits_store.host == "::1");
  CHECK(cfg->limits_store.db == 0);
  CHECK_FALSE(cfg->limits_store.budgets_open);  // closed by default
  CHECK(parse_config(base, "gw.yaml")->limits_store.host.empty());

  for (const char* url : {"rediss://h:1", "redis://h", "redis://:6379", "redis://h:0", "redis://h:6379/16",
                          "redis://h:port", "redis://h:6379/x"}) {
    CAPTURE(url);
    CHECK(errors_of(tenants + "limits_store: " + url + "\n") ==
          fmt::format("gw.yaml:10:15: limits_store must be redis://HOST:PORT[/DB] (DB 0-15), not '{}'", url));
  }
  CHECK(errors_of(base + "limits_store: redis://h:6379\n") ==
        "gw.yaml:9:1: limits_store needs tenants (the limits it shares are the tenants file's)");
  CHECK(errors_of(tenants + "limits_store_outage: maybe\n") ==
        "gw.yaml:10:22: limits_store_outage must be closed or open, not 'maybe'");
  CHECK(errors_of(tenants + "limits_store_sync_interval: 5ms\n") ==
        "gw.yaml:10:29: limits_store_sync_interval must be between 10ms and 10s");
}

TEST_CASE("dns_refresh: how often endpoint names are resolved again") {
  CHECK(parse_config(base, "gw.yaml")->dns_refresh == milliseconds(60000));
  CHECK(parse_config(base + "dns_refresh: 5m\n", "gw.yaml")->dns_refresh == milliseconds(300000));
  CHECK(parse_config(base + "dns_refresh: off\n", "gw.yaml")->dns_refresh == milliseconds(0));
  CHECK(errors_of(base + "dns_refresh: 500ms\n") ==
        "gw.yaml:9:14: dns_refresh must be at least 1s (or off: only on SIGHUP)");
}

TEST_CASE("dns_resolvers: one to three IPv4 or IPv6 name servers, port 53 by default") {
  CHECK(parse_config(base, "gw.yaml")->dns_resolvers.empty());
  const auto cfg =
      parse_config(base + "dns_resolvers: [10.0.0.53, \"127.0.0.1:5353\", \"[::1]:5353\"]\n", "gw.yaml");
  REQUIRE(cfg->dns_resolvers.size() == 3);
  CHECK((cfg->dns_resolvers[0].address == "10.0.0.53" && cfg->dns_resolvers[0].port == 53));
  CHECK((cfg->dns_resolvers[1].address == "127.0.0.1" && cfg->dns_resolvers[1].port == 5353));
  CHECK((cfg->dns_resolvers[2].address == "::1" && cfg->dns_resolvers[2].port == 5353));
  const auto v6 = parse_config(base + "dns_resolvers: [\"2001:db8::53\", \"[fd00::1]\"]\n", "gw.yaml");
  REQUIRE(v6->dns_resolvers.size() == 2);
  CHECK((v6->dns_resolvers[0].address == "2001:db8::53" && v6->dns_resolvers[0].port == 53));
  CHECK((v6->dns_resolvers[1].address == "fd00::1" && v6->dns_resolvers[1].port == 53));
  for (const char* bad : {"10.0.0.1:0", "10.0.0.1:70000", "ns.example", "10.0.0.1:x", "[10.0.0.1]:53", "[::1",
                          "[::1]5353", "[::1]:", "::1:", "::ffff:10.0.0.1:53x", "[]:53"}) {
    CAPTURE(bad);
    CHECK(errors_of(base + "dns_resolvers: [\"" + bad + "\"]\n") ==
          fmt::format("gw.yaml:9:17: dns_resolvers: '{}' is not IPv4[:port], IPv6 or [IPv6]:port", bad));
  }
  CHECK(errors_of(base + "dns_resolvers: []\n") ==
        "gw.yaml:9:16: dns_resolvers must be a list of one to three name servers (IP[:port])");
  CHECK(errors_of(base + "dns_resolvers: [1.1.1.1, 1.1.1.2, 1.1.1.3, 1.1.1.4]\n") ==
        "gw.yaml:9:16: dns_resolvers must be a list of one to three name servers (IP[:port])");
}

TEST_CASE("client_country.from_certificate: off by default, needs tls.client_ca") {
  CHECK_FALSE(parse_config(base, "gw.yaml")->client_country_from_certificate);
  std::string mtls = base;
  mtls.replace(mtls.find("a.key}"), 6, "a.key, client_ca: ca.pem}");
  CHECK(parse_config(mtls + "client_country: {from_certificate: true}\n", "gw.yaml")
            ->client_country_from_certificate);
  CHECK(
      errors_of(base + "client_country: {from_certificate: true}\n") ==
      "gw.yaml:9:18: client_country.from_certificate needs tls.client_ca (only a verified client certificate "
      "names a country)");
  CHECK(errors_of(mtls + "client_country: {from_cert: true}\n") ==
        "gw.yaml:9:18: unknown key 'from_cert' in client_country (known: from_certificate)");
  CHECK(errors_of(mtls + "client_country: true\n") == "gw.yaml:9:17: client_country must be a mapping");
}

TEST_CASE("gateway.location and the clusters' physical-evidence settings") {
  const std::string located = base + R"(    location: {latitude: 48.86, longitude: 2.35}
    max_distance_km: 500
gateway:
  location: {country: FR, latitude: 48.8566, longitude: 2.3522}
)";
  auto cfg = parse_config(located, "gw.yaml");
  REQUIRE(cfg->location);
  CHECK(cfg->location->country == "FR");
  REQUIRE(cfg->location->point);
  CHECK(cfg->location->point->latitude == doctest::Approx(48.8566));
  CHECK(cfg->clusters[0].max_distance_km == 500);
  REQUIRE(cfg->clusters[0].location);
  CHECK(cfg->clusters[0].location->longitude == doctest::Approx(2.35));
  REQUIRE(declared_place(cfg->clusters[0]));
  CHECK(declared_place(cfg->clusters[0])->radius_km == 0);

  auto country_only = parse_config(base + "gateway: {location: {country: DE}}\n", "gw.yaml");
  REQUIRE(country_only->location);
  CHECK_FALSE(country_only->location->point);
  CHECK(country_only->location->place()->radius_km > 0);            // Germany's disc
  CHECK(declared_place(country_only->clusters[0])->radius_km > 0);  // the cluster: France's disc

  CHECK(errors_of(base + "gateway: {location: {country: fr}}\n") ==
        "gw.yaml:9:31: gateway.location.country must be an ISO 3166-1 alpha-2 code like FR, not 'fr'");
  CHECK(errors_of(base + "gateway: {location: {country: FR, latitude: 91, longitude: 2}}\n") ==
        "gw.yaml:9:45: gateway.location.latitude must be decimal degrees within +-90, not '91'");
  CHECK(errors_of(base + "gateway: {location: {country: FR, latitude: 48}}\n") ==
        "gw.yaml:9:21: gateway.location: latitude and longitude go together");
  CHECK(errors_of(base + "gateway: {location: {latitude: 48, longitude: 2}}\n") ==
        "gw.yaml:9:21: gateway.location needs country (where the gateway runs)");
  CHECK(errors_of(base + "gateway: {location: {country: FR, latitude: 2.35, longitude: 48.86}}\n")
            .find("gw.yaml:9:21: gateway.location (2.35, 48.86) is ") == 0);  // swapped: outside France
  CHECK(errors_of(base + "gateway: {place: x}\n").find("gw.yaml:9:11: unknown key 'place' in gateway") == 0);
  CHECK(errors_of(base + "    max_distance_km: 500\n") ==
        "gw.yaml:4:5: cluster 'paris': max_distance_km and location need gateway.location (where the gateway "
        "is: distances are measured from it)");
  CHECK(errors_of(base + "    max_distance_km: 0\n") ==
        "gw.yaml:9:22: max_distance_km must be between 1 and 20038, not 0");
  CHECK(errors_of(base + "    location: {latitude: 48.86}\n") ==
        "gw.yaml:9:15: location needs latitude and longitude");
  CHECK(errors_of(base +
                  "    location: {latitude: 40.71, longitude: -74.0}\ngateway: {location: {country: FR}}\n")
            .find("gw.yaml:9:15: cluster 'paris': location (40.71, -74) is ") == 0);  // New York is not in FR
  // A maximum the declared location can never meet: Paris to a cluster declared in Frankfurt.
  CHECK(errors_of(base + R"(    location: {latitude: 50.11, longitude: 8.68}
    max_distance_km: 100
gateway: {location: {country: FR, latitude: 48.8566, longitude: 2.3522}}
)") == "gw.yaml:4:5: cluster 'paris': its declared location is at least 478 km from the gateway, so no "
       "endpoint "
       "can be proved within max_distance_km 100");
}
