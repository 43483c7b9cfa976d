#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "audit/status.hpp"

namespace sovgw::audit {

enum class record_kind : std::uint8_t {
  request = 1,  // one per gateway request, including denies and failures
  event = 2,    // the log's own events: forced open, crypto-shredding, retention
};

enum class payload_mode : std::uint8_t {
  none = 0,    // payload not kept
  digest = 1,  // only SHA-256 of the payload is committed
  sealed = 2,  // payload encrypted and stored; the leaf commits to the ciphertext's SHA-256
};

[[nodiscard]] const char* to_string(record_kind kind);
[[nodiscard]] const char* to_string(payload_mode mode);
[[nodiscard]] bool parse_payload_mode(std::string_view text, payload_mode& out);

// The decisions a request record holds, as the gateway writes them (gateway/request_recorder.cpp):
// "permit"; "deny" (a forbid rule, or no permit left an allowed cluster: `rule_ids` say which);
// "no-policy" (answered without a policy decision: refused before it, or no policy configured);
// "none" (ended before any answer). A log event's decision is empty. The synthetic records
// (audit/synthetic.hpp) use the same words.
inline constexpr std::array<std::string_view, 4> request_decisions = {"permit", "deny", "no-policy", "none"};
inline constexpr std::string_view decision_permit = request_decisions[0];
inline constexpr std::string_view decision_deny = request_decisions[1];
inline constexpr std::string_view decision_no_policy = request_decisions[2];
inline constexpr std::string_view decision_none = request_decisions[3];
[[nodiscard]] bool is_request_decision(std::string_view text);

// The tenant a request record holds when no API key or client certificate identified the caller
// (gateway/request_context.hpp): with a tenants file, a refused request (401 invalid_api_key);
// without one, every request without a certificate. A tenants file may not name a tenant so.
inline constexpr std::string_view unidentified_tenant = "default";

// One audit record: the Merkle leaf. A plain value type; the gateway fills everything except
// `seq` (assigned by the log) and the payload fields (set by the log from the payload).
struct record {
  std::uint64_t seq = 0;
  std::uint64_t timestamp_us = 0;  // Unix time, microseconds
  record_kind kind = record_kind::request;
  std::string request_id;
  std::string tenant;
  std::string client_country;  // ISO 3166-1 alpha-2, or empty when unknown
  std::string country_source;  // how: "geoip:socket", "proxy-protocol", "trusted-xff", "trusted-forwarded",
                               // "mtls", "none"
  std::string client_ip;       // the address, or "b2:<hex>" (keyed BLAKE2b) when hashed by config
  std::string method;
  std::string path;
  std::string model;
  std::vector<std::string> data_classes;
  std::string decision;  // one of request_decisions (empty for an event)
  std::vector<std::string> rule_ids;
  std::string policy_version;
  std::string cluster;
  std::string cluster_country;
  std::uint32_t status = 0;  // HTTP status sent to the client
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t latency_us = 0;
  std::uint64_t prompt_tokens = 0;
  std::uint64_t completion_tokens = 0;
  std::string
      error_kind;  // empty on success, e.g. "upstream_timeout", "policy_denied" (docs/auditing.md lists them)
  payload_mode payload = payload_mode::none;
  std::vector<std::uint8_t> payload_digest;  // 32 bytes when payload != none
  // Events: what happened; requests: a remark (tokens estimated, fields cut). Never personal data.
  std::string note;
  // Evidence of what was forwarded (gateway/geo_tags.hpp); empty when the request was not forwarded
  // or not signed. A record with any of them is encoded as version 2.
  std::string endpoint;          // the cluster endpoint used, host:port
  std::string endpoint_country;  // where its addresses geolocate, as the gateway's geo database says
  std::string signature_keyid;   // the keyid the forwarded request was signed with
  std::string key_id;            // the id (first 17 characters) of the tenant API key the client presented
  std::string forwarded_digest;  // the Content-Digest of the body as forwarded (after redaction)
  // Physical evidence (docs/evidence.md): the round trip of the TLS handshake on the connection the
  // request went over (0: not measured), and the distance it bounds the TLS endpoint to
  // (ceil(rtt/2 x 200 km/ms)). A record with either, or with redactions, is encoded as version 3.
  std::uint64_t endpoint_rtt_us = 0;
  std::uint32_t distance_bound_km = 0;
  std::uint32_t redactions = 0;  // findings the `redact` obligation replaced before forwarding
  // The address the connection that carried the request was made to ("203.0.113.7", "2001:db8::7"),
  // and where that one address geolocates: `endpoint` may be a name resolving to several addresses
  // in several countries. A record with an address is encoded as version 5.
  std::string endpoint_address;
  std::string endpoint_address_country;
  // The commitment to a data key (payload_vault.hpp): the first records a writer seals under a new
  // data key version of r.tenant carry that version, the lowercase hex SHA-256 of the key as stored
  // (sealed to the auditor) and the base64 auditor X25519 public key it was sealed to, so that the
  // signed log, not the database, says which key each payload was sealed under and to whom. A
  // record with a commitment is encoded as version 6.
  std::uint32_t data_key_version = 0;
  std::string data_key_digest;
  std::string auditor_key;

  friend bool operator==(const record&, const record&) = default;
};

// The error_kind of a record made from an in-flight note at start-up: the gateway stopped (a crash,
// a kill) while the request was forwarded, before its record was made durable. When its answer
// ended is not known (the record's time is when the request came).
inline constexpr std::string_view gateway_stopped_error_kind = "gateway_stopped";

// A request record's note when the gateway estimated its tokens: the answer ended without the
// cluster's usage (docs/configuration.md, "Usage accounting").
inline constexpr std::string_view tokens_estimated_note =
    "tokens estimated: the answer ended without the cluster's usage";
// ... when the cluster reported one of the counts: which one the gateway estimated (probe round 30:
// an auditor read a cluster's count as the gateway's estimate).
inline constexpr std::string_view prompt_tokens_estimated_note =
    "tokens estimated: the prompt's; the completion's as the cluster reported it";
inline constexpr std::string_view completion_tokens_estimated_note =
    "tokens estimated: the completion's; the prompt's as the cluster reported it";
// ... when the request read a stored response back (GET): the counts are the stored response's as
// the cluster reported them, charged when it was generated, not again by the read.
inline constexpr std::string_view stored_usage_note =
    "tokens of a stored response read back, as the cluster reported them: charged when it was generated, "
    "not by this read";
// A gateway_stopped record's tokens are the estimate its in-flight note was made with (the prompt's,
// and the completion's reservation), or 0 from gateways before that: the gateway's, either way.
[[nodiscard]] inline bool tokens_estimated(const record& r) {
  return r.note.starts_with("tokens estimated") || r.error_kind == gateway_stopped_error_kind;
}
[[nodiscard]] inline bool prompt_tokens_estimated(const record& r) {
  return tokens_estimated(r) && r.note != completion_tokens_estimated_note;
}
[[nodiscard]] inline bool completion_tokens_estimated(const record& r) {
  return tokens_estimated(r) && r.note != prompt_tokens_estimated_note;
}

// Every string field of a record (not its lists), for the checks that treat them alike.
template <typename record_t>
[[nodiscard]] auto string_fields(record_t& r) {
  using string_t = std::conditional_t<std::is_const_v<record_t>, const std::string, std::string>;
  return std::array<string_t*, 23>{&r.request_id,
                                   &r.tenant,
                                   &r.client_country,
                                   &r.country_source,
                                   &r.client_ip,
                                   &r.method,
                                   &r.path,
                                   &r.model,
                                   &r.decision,
                                   &r.policy_version,
                                   &r.cluster,
                                   &r.cluster_country,
                                   &r.error_kind,
                                   &r.note,
                                   &r.endpoint,
                                   &r.endpoint_country,
                                   &r.signature_keyid,
                                   &r.key_id,
                                   &r.forwarded_digest,
                                   &r.endpoint_address,
                                   &r.endpoint_address_country,
                                   &r.data_key_digest,
                                   &r.auditor_key};
}

// Calls `fn(std::string&)` with every text field of `r`: its strings and the entries of its lists.
template <typename fn_t>
void for_each_text(record& r, fn_t&& fn) {
  for (std::string* s : string_fields(r)) {
    fn(*s);
  }
  for (auto* list : {&r.data_classes, &r.rule_ids}) {
    for (auto& s : *list) {
      fn(s);
    }
  }
}

// Encoding version 1 (deterministic; the same record always gives the same bytes):
//   u8 version=1, u64 seq, u64 timestamp_us, u8 kind, then the strings request_id, tenant,
//   client_country, country_source, client_ip, method, path, model, list data_classes, decision,
//   list rule_ids, policy_version, cluster, cluster_country, u32 status, u64 bytes_in, bytes_out,
//   latency_us, prompt_tokens, completion_tokens, string error_kind, u8 payload mode, bytes
//   payload_digest, string note. Integers big-endian; strings and bytes as u32 length || bytes;
//   lists as u16 count || strings. Limits: a string at most 16 KiB, a list at most 256 entries,
//   a record at most 256 KiB.
//   Version 2 is version 1 followed by the strings endpoint, endpoint_country, signature_keyid,
//   forwarded_digest;
//   it is written only for a record that has one of them, so other records keep their version-1 bytes.
//   Version 3 is version 2 followed by u64 endpoint_rtt_us, u32 distance_bound_km, u32 redactions;
//   written only for a record with one of them non-zero (older records stay readable as they are).
//   Version 4 is version 3 followed by the string key_id; written only for a record with a key id.
//   Version 5 is version 4 followed by the strings endpoint_address, endpoint_address_country;
//   written only for a record with an endpoint address (its key_id may then be empty).
//   Version 6 is version 5 followed by u32 data_key_version and the strings data_key_digest,
//   auditor_key; written only for a record with a data key commitment (its version 5 fields may
//   then be empty): data_key_version >= 1, data_key_digest 64 lowercase hex digits, auditor_key the
//   base64 of 32 bytes.
inline constexpr std::uint8_t record_format_version = 1;
inline constexpr std::uint8_t record_format_version_evidence = 2;
inline constexpr std::uint8_t record_format_version_distance = 3;
inline constexpr std::uint8_t record_format_version_key = 4;
inline constexpr std::uint8_t record_format_version_address = 5;
inline constexpr std::uint8_t record_format_version_data_key = 6;
[[nodiscard]] inline bool is_record_format_version(std::uint8_t v) {
  return v >= record_format_version && v <= record_format_version_data_key;
}
inline constexpr std::size_t record_seq_offset = 1;  // where the big-endian seq sits in the encoding
inline constexpr std::size_t max_string_size = 16 * 1024;
inline constexpr std::size_t max_list_size = 256;
inline constexpr std::size_t max_record_size = 256 * 1024;

// Checks the limits above and the payload fields' consistency.
[[nodiscard]] status validate(const record& r);

// Cuts over-long fields so that a record always fits (strings to 8 KiB, list entries to 256 bytes,
// lists to 256 entries) rather than losing it; notes the cut in `note`. True if anything was cut.
bool clamp_to_limits(record& r);
[[nodiscard]] std::vector<std::uint8_t> encode(const record& r);
// A stored string's bytes, as decode() and the hashes take them.
[[nodiscard]] inline std::span<const std::uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
// Strict: rejects unknown versions, bad enum values, over-long fields and trailing bytes.
[[nodiscard]] result<record> decode(std::span<const std::uint8_t> bytes);
// The same into `out`, reusing its strings' storage (no allocation once they are large enough: a
// verifier decodes every record with one). On error `out` holds part of the record.
[[nodiscard]] status decode_into(std::span<const std::uint8_t> bytes, record& out);

// The fields the log's indexes are keyed by, read in place from an encoding (views into it).
struct index_fields {
  std::uint64_t timestamp_us = 0;
  std::string_view request_id;
  std::string_view tenant;
  std::string_view client_country;
  std::string_view decision;
};
// False when the bytes are not a record encoding (any version) that reaches the decision field. Checks no
// more than that (decode() is the strict reader); allocates nothing.
[[nodiscard]] bool read_index_fields(std::span<const std::uint8_t> bytes, index_fields& out);

// The associated data that binds an encrypted payload to its record: the encoding of the record
// with seq = 0, no payload digest and no data key commitment (those are only known after
// encryption), domain-separated.
[[nodiscard]] std::vector<std::uint8_t> payload_associated_data(const record& r);

}  // namespace sovgw::audit
