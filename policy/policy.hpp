#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "policy/countries.hpp"
#include "policy/diagnostics.hpp"
#include "policy/glob.hpp"
#include "policy/ip_address.hpp"
#include "policy/policy_source.hpp"

// The policy core's public API: compile a policy file into an immutable snapshot, then decide().
//
//   policy_store store;                                   // policy_store.hpp: atomic swap on reload
//   if (auto r = store.reload("policy.yaml"); !r.ok) { print format_diagnostics(r.diagnostics); }
//   auto snap = store.current();                          // hold it for the whole request
//   bound_clusters routes(*snap, clusters);               // once per (snapshot, cluster list)
//   decision d;                                           // reuse per thread: no allocation once warm
//   snap->decide(request, routes, d);                     // d.result, d.matched_rules, d.allowed_clusters
//
// Semantics: default deny; any matching `forbid` denies; at least one matching `permit` is needed;
// all matching `restrict` rules intersect their route constraints. A data class the client only
// declares never satisfies a permit unless the class is permit_on_declaration (request_attributes). When
// decide() is given clusters, the allowed clusters are those that serve the request's model and satisfy every
// matched restrict; if none remains the request is denied (fail closed). With no clusters, only the rules
// decide. docs/policy.md is the language reference.
namespace sovgw::policy {

// One request's attributes. Views: the caller keeps the strings alive for the duration of decide().
//
// Data classes (names as the policy's data_classes define them) come from two sources that are
// trusted differently. A class the client DECLARES (the Sovereign-Data-Class header) is the client's
// own claim: it makes forbid and restrict rules match (it can only narrow what is allowed), but it
// satisfies a permit rule's data.class only when the policy marks the class permit_on_declaration.
// A class the gateway DETECTS in the body satisfies every rule. A class may be in both lists.
struct request_attributes {
  std::string_view client_country;  // "DE", "private", "unknown"; empty means unknown
  std::optional<ip_address> client_ip;
  std::string_view tenant;
  std::string_view model;
  std::string_view path;
  std::string_view method;
  std::span<const std::string_view> declared_classes;  // claimed by the client
  std::span<const std::string_view> detected_classes;  // found by the gateway's detectors
  // The model whose name the clusters' `models:` are matched against, when it is not `model`: the
  // gateway decides other spellings of a request's model (lower case, its base name) by the rules,
  // while the clusters that can serve it stay those that serve the name as sent.
  std::string_view serving_model;
  [[nodiscard]] std::string_view model_served() const {
    return serving_model.empty() ? model : serving_model;
  }
};

// An owning request (tests, CLI, tools); view() borrows from it.
struct request_values {
  std::string client_country;
  std::optional<ip_address> client_ip;
  std::string tenant;
  std::string model;
  std::string path;
  std::string method;
  std::vector<std::string> declared_classes;
  std::vector<std::string> detected_classes;

  // `class_storage` holds the class views (both lists) for as long as the result is used.
  [[nodiscard]] request_attributes view(std::vector<std::string_view>& class_storage) const;
};

// A cluster as the policy sees it (the gateway converts its own config into this).
struct cluster_info {
  std::string name;
  std::string country;                // ISO 3166-1 alpha-2
  std::string region;                 // free text, e.g. "eu-west"
  std::string operator_jurisdiction;  // a country code or a set name (EU, EEA, or a policy set)
  std::vector<std::string> models;    // exact names or globs
};

enum class effect : std::uint8_t { permit, deny };
enum class deny_cause : std::uint8_t { none, forbidden, no_permit, no_cluster };
[[nodiscard]] std::string_view deny_cause_name(deny_cause c) noexcept;

struct obligations {
  std::uint32_t redact = 0;  // bit i = known_detectors()[i]
  log_payload log = log_payload::unset;

  [[nodiscard]] std::vector<std::string_view> redact_names() const;
};

inline constexpr std::uint32_t no_rule = 0xffffffffu;

// The result of decide(). Holds indexes and views into the snapshot that produced it: valid while
// that snapshot is alive (keep the shared_ptr). Reuse one object per thread to avoid allocation.
struct decision {
  effect result = effect::deny;
  deny_cause cause = deny_cause::no_permit;
  std::vector<std::uint32_t> matched_rules;     // rule indexes (file order); snapshot::rule(i).id
  std::vector<std::uint32_t> allowed_clusters;  // indexes into the clusters passed to decide()
  obligations duties;
  std::string_view reason;                 // the deciding rule's reason, or a fixed text for default deny
  std::uint32_t nearest_permit = no_rule;  // on default deny: the permit that came closest...
  attribute failed_attribute{};            // ...and the first attribute it failed on
  std::string_view policy_version;
};

struct compiled_policy;
class snapshot;

// A cluster list compiled against one snapshot: each restrict rule's route becomes a bitmask of the
// clusters it admits, so routing costs a few AND operations per decision. Build it once per
// (snapshot, cluster list) pair (at config load and after every policy reload); immutable and
// shareable between threads afterwards. Used with a snapshot of another policy version it falls
// back to the unbound evaluation (correct, slower).
class bound_clusters {
 public:
  bound_clusters(const snapshot& policy, std::vector<cluster_info> clusters);

  [[nodiscard]] std::span<const cluster_info> clusters() const noexcept { return clusters_; }

 private:
  friend class snapshot;
  std::string version_;  // the content hash it was bound to (same text = same rule indexes)
  std::vector<cluster_info> clusters_;
  std::size_t words_;
  std::vector<std::uint32_t> restrict_slot_;  // per rule: its row in admitted_ (restrict rules only)
  std::vector<std::uint64_t> admitted_;
  std::vector<glob_pattern> model_patterns_;    // every cluster's models, precompiled...
  std::vector<std::uint32_t> pattern_cluster_;  // ...and the cluster each belongs to
};

// An immutable compiled policy. All const members are thread-safe; decide() allocates nothing once
// `out` has grown to its working size (it uses a small thread-local scratch area).
class snapshot {
 public:
  explicit snapshot(std::unique_ptr<const compiled_policy> compiled);
  ~snapshot();
  snapshot(const snapshot&) = delete;
  snapshot& operator=(const snapshot&) = delete;

  // Evaluates cluster routes directly from `clusters` (tools, tests; a few route checks per cluster).
  void decide(const request_attributes& request, std::span<const cluster_info> clusters, decision& out) const;
  // The hot path: routes from precompiled masks; `out.allowed_clusters` index clusters.clusters().
  void decide(const request_attributes& request, const bound_clusters& clusters, decision& out) const;
  [[nodiscard]] decision decide(const request_attributes& request,
                                std::span<const cluster_info> clusters) const;

  // Content hash: lower-case hex SHA-256 of the policy file's bytes.
  [[nodiscard]] const std::string& version() const noexcept;
  [[nodiscard]] std::size_t rule_count() const noexcept;
  [[nodiscard]] std::string_view rule_id(std::uint32_t index) const noexcept;
  [[nodiscard]] std::size_t memory_bytes() const noexcept;
  [[nodiscard]] const compiled_policy& compiled() const noexcept { return *compiled_; }

  // Data classes as declared by the policy, for the classify stage: the class a data-class header
  // value declares (empty if none), and the detectors (bit i = known_detectors()[i]) whose findings
  // put a request in each class.
  [[nodiscard]] std::string_view data_class_for_header(std::string_view header_value) const noexcept;
  [[nodiscard]] std::span<const std::string> data_class_names() const noexcept;
  // The header values that declare the classes, in data_class_names() order.
  [[nodiscard]] std::span<const std::string> data_class_headers() const noexcept;
  // The union of every rule's `redact` obligation (bit i = known_detectors()[i]).
  [[nodiscard]] std::uint32_t redact_detectors() const noexcept;
  [[nodiscard]] std::uint32_t data_class_detectors(std::string_view data_class) const noexcept;

 private:
  bool match_rules(const request_attributes& request, decision& out) const;
  static void settle_route(decision& out) noexcept;
  static void find_nearest_permit(const compiled_policy& p, const std::uint64_t* const* bits, decision& out);

  std::unique_ptr<const compiled_policy> compiled_;
};

struct compile_result {
  std::shared_ptr<const snapshot> policy;  // null when there were errors
  std::vector<diagnostic> diagnostics;     // errors and warnings, all of them

  [[nodiscard]] bool ok() const noexcept { return policy != nullptr; }
};

// Parses, checks and compiles. Reports every error found (unknown keys, attributes, country codes,
// set names, detectors, data classes; duplicate ids; empty value sets; unreachable rules; ...) as
// `file_name:line:col`. Never throws on bad input.
[[nodiscard]] compile_result compile_policy(std::string_view text, const std::string& file_name);
// Reads the file first (an unreadable file is one diagnostic).
[[nodiscard]] compile_result compile_policy_file(const std::filesystem::path& path);

}  // namespace sovgw::policy
