#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "audit/log_verifier.hpp"
#include "audit/record.hpp"

// The sovereignty report's aggregates: is the log intact, where did requests come from and where
// were they served, under which policy, what was refused and why, per tenant. Computed in the one
// pass over the log that verify_log makes (the verification `sovgw audit verify` does), so the
// figures are those of the records that pass verified. Memory grows with the distinct tenants,
// countries, data classes, rules, clusters and policy versions, never with the number of records.
// Rendering (HTML, JSON) is the CLI's (cli/audit_report_*.cpp).
namespace sovgw::audit {

class store;

struct report_options {
  // The period the aggregates cover (record timestamps; `since` inclusive, `until` exclusive).
  // Verification always covers the whole log.
  std::optional<std::uint64_t> since_us;
  std::optional<std::uint64_t> until_us;
  std::size_t recent_denials = 20;
  // The decisions-over-time series is coarsened (1 s, 10 s, 1 min, 5 min, 15 min, 1 h, ... 1 year
  // buckets) until the period it spans fits in this many buckets: from `since` (else the first
  // request) to `until` (else the last request), so that a period's first or last days without a
  // request show as empty buckets; never past `now_us` (the time the report is made), when given.
  std::size_t max_time_buckets = 96;
  std::optional<std::uint64_t> now_us;
  std::size_t recent_events = 10;
  // The policy file the caller has: its version (SHA-256, as records name it) and its rule ids by
  // effect. A denial decided under that version counts under the rules that made it: the forbid
  // rules its record names; else, when a permit matched, the restrict rules it names (together they
  // left no cluster); else it is a default deny (no permit matched). A denial decided under another
  // version (or without `policy_version`) counts under every rule its record names, its effect
  // unknown: a reload may have renamed, dropped or changed any rule. A rule id the three sets do
  // not hold counts under its own id, whatever the version (never as a default deny).
  std::string policy_version;
  std::unordered_set<std::string> forbid_rules;
  std::unordered_set<std::string> permit_rules;
  std::unordered_set<std::string> restrict_rules;
  verify_options verify{
      .indexes = true, .held = {}, .require_checkpoint = true, .check_times_at_us = std::nullopt};
};

// How a request ended, for the report: denied by the policy (error_kind policy_denied, or a deny /
// forbid decision), failed (any other error_kind: bad requests, clusters unavailable, cut streams)
// or permitted (served).
enum class request_outcome : std::uint8_t { permitted, denied, failed };
[[nodiscard]] const char* to_string(request_outcome o);
[[nodiscard]] request_outcome outcome_of(const record& r);
// Whether the request reached its cluster (so that compute may have run there): the record names
// the endpoint it was sent to; or, for a record that keeps no endpoint (written before the gateway
// kept that evidence), it names a cluster and ended well or in an error that only a cluster that
// was sent the request can cause (upstream_timeout, upstream_reset, upstream_protocol and the
// mid-body ones). A cluster chosen but never connected to (upstream_connect_failed,
// upstream_connect_timeout, upstream_tls_error, cluster_unavailable, ...) was not reached.
[[nodiscard]] bool reached_cluster(const record& r);

struct outcome_counts {
  std::uint64_t permitted = 0;
  std::uint64_t denied = 0;
  std::uint64_t failed = 0;

  void add(request_outcome o);
  [[nodiscard]] std::uint64_t total() const { return permitted + denied + failed; }
};

// Where the requests that came from one client country with one set of data classes went.
inline constexpr const char* destination_refused = "refused";        // denied by the policy
inline constexpr const char* destination_not_served = "not served";  // failed before reaching a cluster
                                                                     // (reached_cluster() is false)
// Permitted, and answered by the gateway itself with no cluster (GET /v1/models).
inline constexpr const char* destination_gateway = "answered by the gateway";
struct flow {
  std::string client_country;  // ISO code, or "unknown"
  std::string destination;     // the cluster's country, or one of the destination_* above
  std::string data_classes;    // the record's classes sorted and joined with "+", empty for none
  std::uint64_t requests = 0;
};

struct time_bucket {
  std::uint64_t start_us = 0;
  outcome_counts outcomes;
};

// The denials a rule made (see report_options::policy_version). A rule id has up to two entries:
// the denials of records decided under the given policy's version, counted by its effects
// (`by_given_policy`), and those of records decided under other versions, which count under every
// rule they name.
struct rule_denials {
  std::string rule_id;
  bool by_given_policy = false;
  std::uint64_t denials = 0;
  std::uint64_t last_us = 0;
};

// A policy version (the policy file's SHA-256; empty: no policy) and when it was in force: the
// first and last request decided under it.
// Refusals no rule made (see report::denials_by_kind), by their error_kind.
struct kind_denials {
  std::string error_kind;
  std::uint64_t denials = 0;
  std::uint64_t last_us = 0;
};

struct policy_version_span {
  std::string version;
  std::uint64_t first_us = 0;
  std::uint64_t last_us = 0;
  std::uint64_t requests = 0;
  // Runs of consecutive requests decided under it (requests without a version do not break a run):
  // over 1 when another version decided requests in between (a switch back). 0 for no version.
  std::uint64_t periods = 0;
};

struct tenant_usage {
  std::string tenant;  // unidentified_tenant (record.hpp): the callers no key or certificate identified
  outcome_counts outcomes;
  std::uint64_t prompt_tokens = 0;  // all, the cluster's counts and the gateway's estimates
  std::uint64_t completion_tokens = 0;
  // Of those, the gateway's estimates: requests whose answer ended without the cluster's usage
  // (their record's note says "tokens estimated"), and their tokens.
  std::uint64_t estimated_requests = 0;
  std::uint64_t estimated_prompt_tokens = 0;
  std::uint64_t estimated_completion_tokens = 0;
  std::uint64_t classified = 0;             // requests carrying at least one data class
  std::optional<std::uint64_t> redactions;  // nullopt: no record in the log carries it (version < 3)
};

// What the log says about one cluster that served requests (reached_cluster()): its declared country and,
// when the records carry them, the endpoints used with where their addresses geolocate (version-2 records)
// and the RTT distance bounds of the TLS endpoints (version 3; docs/evidence.md). nullopt / empty:
// "not recorded". observe_evidence() in report.cpp is the one place that reads them.
inline constexpr std::size_t max_evidence_endpoints = 32;  // listed per cluster; the others counted
struct cluster_evidence {
  std::string cluster;
  std::string declared_country;
  std::uint64_t requests = 0;
  std::uint64_t first_us = 0;
  std::uint64_t last_us = 0;
  std::vector<std::string> endpoints;
  std::uint64_t endpoints_not_listed = 0;  // distinct endpoints beyond max_evidence_endpoints
  // The addresses connections went to, each with where it geolocates ("203.0.113.7 FR"; version-5
  // records), listed like the endpoints.
  std::vector<std::string> addresses;
  std::uint64_t addresses_not_listed = 0;
  std::unordered_set<std::size_t> unlisted;      // hashes of the endpoints and addresses not listed, to count
                                                 // each once (a collision undercounts by one)
  std::optional<std::string> verified_country;   // comma-separated, as the records give them
  std::optional<std::uint64_t> max_distance_km;  // the loosest RTT bound seen: every request is within it
  std::optional<std::uint64_t> min_distance_km;  // the tightest
  std::uint64_t requests_with_bound = 0;
};

struct denial {
  std::uint64_t seq = 0;
  std::uint64_t timestamp_us = 0;
  std::string request_id;
  std::string tenant;
  std::string client_country;
  std::string data_classes;
  std::vector<std::string> rule_ids;
  std::string error_kind;
  std::uint32_t status = 0;
};

struct log_event {
  std::uint64_t seq = 0;
  std::uint64_t timestamp_us = 0;
  std::string tenant;  // the tenant the event concerns (crypto-shredding), or empty
  std::string note;
};

struct report {
  verify_report verification;  // of the whole log, as `sovgw audit verify` makes it
  std::optional<std::uint64_t> since_us;
  std::optional<std::uint64_t> until_us;
  std::uint64_t records_in_period = 0;  // requests and events whose timestamp is in the period
  // Of those, records after the newest checkpoint (stored or held): no signature covers them, so
  // they are counted here and left out of every aggregate below.
  std::uint64_t unsigned_in_period = 0;
  // Of the signed ones, requests the log marks synthetic (audit/synthetic.hpp: written by `sovgw
  // audit append --synthetic`): not gateway traffic, so counted here and left out of every
  // aggregate below.
  std::uint64_t synthetic_in_period = 0;
  std::uint64_t undecodable = 0;  // leaves that are not valid records (verification names them)
  std::uint64_t events = 0;
  std::optional<std::uint64_t> first_us;  // the first and last record in the period
  std::optional<std::uint64_t> last_us;
  outcome_counts outcomes;
  // The period's (signed, gateway) requests by what they kept of their payload: sealed, a digest,
  // nothing (audit.payload, a policy's log_payload), so that lowering it shows.
  verify_report::payload_counts payloads;
  std::uint64_t bucket_us = 0;
  std::vector<time_bucket> series;            // consecutive buckets over the period (report_options)
  std::vector<flow> flows;                    // most requests first
  std::vector<rule_denials> denials_by_rule;  // most denials first
  std::uint64_t default_denials = 0;          // denials no rule made: no permit matched
  // Denials of another error_kind than policy_denied (redaction_unsupported: a `redact` obligation
  // applied and the gateway could not rewrite what it names): the policy allowed a cluster, so the
  // rules their record names (those that matched) did not make them. Counted here, most first,
  // never in denials_by_rule, default_denials or denials_other_versions.
  std::vector<kind_denials> denials_by_kind;
  // Denials decided under another policy version than report_options::policy_version (0 when
  // that is empty): counted under every rule they name.
  std::uint64_t denials_other_versions = 0;
  std::vector<policy_version_span> policy_versions;  // in order of coming into force
  std::vector<tenant_usage> tenants;                 // most requests first
  // Of `tenants`, the ones a key or certificate identified: unidentified_tenant is not a customer.
  [[nodiscard]] std::size_t identified_tenants() const {
    return static_cast<std::size_t>(std::count_if(tenants.begin(), tenants.end(), [](const tenant_usage& t) {
      return t.tenant != unidentified_tenant;
    }));
  }
  std::vector<cluster_evidence> evidence;            // most requests first
  std::vector<denial> recent_denials;                // newest first
  std::vector<log_event> recent_events;              // newest first
};

// One pass: verify_log(s, key, options.verify) with the aggregation riding on its scan of the leaves.
[[nodiscard]] report build_report(const store& s, const crypto::note_verifier& key,
                                  const report_options& options);

// The report of a log whose store is missing while checkpoints kept outside it say it held records
// (verify_missing_store's `verification`): no records to count, and the verification's verdict.
[[nodiscard]] report missing_store_report(const report_options& options, verify_report verification);

}  // namespace sovgw::audit
