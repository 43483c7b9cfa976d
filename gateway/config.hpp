#pragma once

// The gateway's configuration: parsed from YAML, validated (unknown keys and bad values reported as
// `file:line:col: message`, all of them in one pass), then frozen as std::shared_ptr<const config>.
// Pure code: no sockets, no TLS; loading certificates is tls_contexts' job.

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/jwk.hpp"
#include "gateway/dns_query.hpp"
#include "gateway/http_parser.hpp"
#include "policy/clusters_config.hpp"
#include "policy/ip_address.hpp"

namespace sovgw::gateway {

using std::chrono::milliseconds;

// The clusters: one schema, shared with the policy tools (policy/clusters_config.hpp).
using policy::cluster_config;
using policy::endpoint_config;
using policy::upstream_tls_config;

struct downstream_tls_config {
  std::string certificate;
  std::string private_key;
  std::string client_ca;  // set: client certificates are requested and verified against it
  bool require_client_certificate = false;
};

struct timeouts_config {
  milliseconds handshake{10000};
  milliseconds request_header{10000};  // from the first byte of a request to its complete head
  milliseconds request_body{60000};    // between body reads
  milliseconds keep_alive_idle{60000};
  milliseconds upstream_connect{5000};
  milliseconds upstream_response{120000};  // request sent -> response head (time to first token)
  milliseconds stream_idle{60000};         // between two reads of a streamed response
  milliseconds drain{15000};
  milliseconds pool_idle{30000};  // idle upstream connections older than this are closed
};

// Geo-tags and RFC 9421 signatures on forwarded requests (docs/signatures.md, docs/http.md).
struct cluster_hmac_key {
  std::string cluster;  // a cluster's name
  std::string file;     // its hmac-sha256 secret (kind hmac-sha256-http-signing)
  policy::source_pos pos;  // where the file is named, for the key's own errors
};
struct signing_config {
  std::string key;  // Ed25519 key file (kind ed25519-http-signing); empty: requests are not signed
  milliseconds lifetime{60000};  // a signature's `expires` is `created` + this
  std::string gateway_id;        // Sovereign-Gateway; empty: the host name
  bool receipts = true;          // sign a receipt on every response head (one more Ed25519 signature)
  std::vector<cluster_hmac_key> cluster_hmac_keys;  // clusters verifying hmac-sha256 instead of Ed25519
  // Public key files (PEM, JWK or JWK Set) served beside signing.key's in the JWK Set: the next key
  // before a rotation, the previous ones after it (docs/signatures.md, "Rotation").
  std::vector<std::string> publish;
  // A secret (kind tenant-pseudonym, `sovgw keys pseudonym-new`) that Sovereign-Tenant and the
  // Idempotency-Key scope are keyed from; empty: from `key`, so they change when it is rotated.
  std::string pseudonym_key;
};

// The Ed25519 verification keys of one signing.publish file; throws std::runtime_error naming the
// file and what is wrong with it (unreadable, not a public key, private key material, a bad member
// of a set).
[[nodiscard]] std::vector<crypto::public_key_result> read_published_keys(const std::string& path);

// Where the gateway is (gateway.location): the origin of every RTT distance bound (docs/evidence.md).
struct gateway_location {
  std::string country;                     // ISO 3166-1 alpha-2, assigned
  std::optional<policy::geo_point> point;  // latitude and longitude, when given
  // The place distance judgements start from: the point, else the country's disc (nullopt: a
  // country policy/geo_distance.hpp has no disc for, and no point).
  [[nodiscard]] std::optional<policy::geo_place> place() const;
};

// Where a cluster's servers are declared to be: its location, else its country's disc (nullopt: none known).
[[nodiscard]] std::optional<policy::geo_place> declared_place(const cluster_config& c);

struct config {
  std::string source;                          // file name, or "<embedded default>"
  std::array<std::uint8_t, 32> text_sha256{};  // of the text parsed: SIGHUP says when the file changed
  // What the file says that is allowed but most likely wrong (`config check` shows them; serve
  // logs them at start and on reload).
  std::vector<policy::diagnostic> warnings;
  // Where each key's value is written ("audit.keys", "admin.token_file"), for problems found when
  // the file it names is read after parsing (a key's mode, a token's length).
  std::map<std::string, policy::source_pos, std::less<>> value_positions;
  [[nodiscard]] policy::source_pos position(std::string_view key) const;  // line 0: not in the file
  // "source:line:col: what" at `key`'s value, or "source: what" for a key the file does not hold.
  [[nodiscard]] std::string at(std::string_view key, std::string_view what) const;
  [[nodiscard]] std::string at(policy::source_pos pos, std::string_view what) const;
  std::string listen_address = "127.0.0.1";
  std::uint16_t listen_port = 8443;
  // Front proxies whose word on the client address is taken (docs/configuration.md): from these
  // peers only, the client address comes from a PROXY protocol v2 header (listen.proxy_protocol)
  // or the right-most untrusted X-Forwarded-For entry.
  std::vector<policy::cidr_block> trusted_proxies;
  bool listen_proxy_protocol = false;  // connections from trusted proxies start with PROXY v2
  // client_country.from_certificate: a verified client certificate's subject C (one, an assigned
  // ISO 3166-1 code) is the client country, source "mtls", ahead of the address. Needs tls.client_ca.
  bool client_country_from_certificate = false;
  downstream_tls_config tls;
  bool admin_enabled = true;
  std::string admin_address = "127.0.0.1";
  std::uint16_t admin_port = 9901;
  // Admin jobs (/admin/*) need `Authorization: Bearer <token>`, the token read from this file
  // (mode 0600 or stricter). Without one, admin jobs are refused, and the listener may only bind
  // a loopback address.
  std::string admin_token_file;
  std::uint64_t admin_min_retention_seconds = 86400;  // retain?older_than below this is refused
  std::size_t admin_max_connections = 16;
  // Host names the admin listener answers besides IP addresses and localhost (DNS rebinding).
  std::vector<std::string> admin_hosts;
  unsigned threads = 0;  // 0: one per core
  std::size_t max_connections = 20000;
  http::limits http;
  timeouts_config timeouts;
  bool access_log = true;
  std::string policy_file;  // residency policy (docs/policy.md); empty: every cluster allowed
  // Endpoint names are resolved again this often (and on SIGHUP); 0 (`dns_refresh: off`): only on SIGHUP.
  milliseconds dns_refresh{60000};
  // dns_resolvers: name servers endpoint names are resolved with (DNS queries, the answers' TTLs
  // honoured, within dns_refresh); empty: the system resolver (getaddrinfo) every dns_refresh.
  std::vector<dns_server> dns_resolvers;
  std::string geo_database;  // a MaxMind DB (.mmdb) for client and endpoint countries; empty: tor-geoipdb
  // Tenants, their API keys and certificate subjects (tenants/tenants.hpp); empty: the tenant is a
  // verified client certificate's CN, else "default", and no key is asked for.
  std::string tenants_file;
  // The shared limits store (`limits_store: redis://HOST:PORT[/DB]`, gateway/limits_store.hpp);
  // empty host: limits are counted in-process only.
  struct limits_store_config {
    std::string host;
    std::uint16_t port = 6379;
    unsigned db = 0;
    bool budgets_open = false;  // limits_store_outage: open (monthly budgets counted locally) | closed
    milliseconds sync_interval{100};
  } limits_store;
  // Audit log (docs/auditing.md); empty db: no audit log.
  std::string audit_db;
  std::string audit_keys;
  milliseconds audit_checkpoint_interval{1000};
  std::string audit_payload = "sealed";  // sealed | digest | none
  bool audit_hash_client_ip = false;
  // The record is durable before the response's last byte (true) or appended after it (false:
  // faster, but a crash can lose the records of the last few milliseconds).
  bool audit_record_before_response = true;
  signing_config signing;
  // Space bounds: no request is forwarded while the audit database holds max_bytes or more, or
  // its file system has less than min_free_bytes free (0: no bound).
  std::uint64_t audit_max_bytes = 0;
  std::uint64_t audit_min_free_bytes = 256ull << 20;
  std::optional<gateway_location>
      location;  // gateway.location; none: RTTs are measured and recorded, not judged
  std::vector<cluster_config> clusters;
};

// Thrown by parse_config with every problem found, one `file:line:col: message` a line.
class config_error : public std::runtime_error {
 public:
  // `files_only`: every problem is a file the configuration names that cannot be opened (the
  // configuration itself is valid): serve exits 3, an environment problem, rather than 2.
  explicit config_error(const std::string& what, bool files_only = false)
      : std::runtime_error(what), files_only_(files_only) {}
  [[nodiscard]] bool files_only() const { return files_only_; }

 private:
  bool files_only_;
};

// Whether parse_config also checks that the files the configuration names and the gateway opens
// at start (TLS certificate, key and client CA, policy, geo database, tenants) can be opened,
// reporting each at its key's position. `serve` and `config check` do; a pure parse does not.
enum class file_checks : bool { skip, check };

[[nodiscard]] std::shared_ptr<const config> parse_config(std::string_view yaml, std::string_view source,
                                                         file_checks files = file_checks::skip);

// The configuration `sovgw serve` uses without --config: the demo's stand-in cluster on loopback,
// dev certificates from certs/out/.
[[nodiscard]] std::string_view embedded_default_config();

using policy::is_loopback_host;

}  // namespace sovgw::gateway
