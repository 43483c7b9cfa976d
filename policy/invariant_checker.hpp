#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <vector>

#include "policy/clusters_config.hpp"
#include "policy/policy.hpp"

// Proves a policy's invariants. Once compiled, every attribute's domain is finite: the values the
// policy mentions plus "anything else" (countries grouped by the sets they belong to, IPs by the
// elementary ranges the CIDRs cut, strings by the exact values and globs that match them, each data
// class by how it is carried: absent, declared by the client or detected). Declared classes are
// adversarial: the client may declare any set, so every combination is tried. The checker evaluates
// decide() on one representative request per equivalence class (restricted to the classes the
// invariant's `for` admits; a `for` on data.class admits the class declared or detected) and stops
// at the first concrete counterexample. Pure; thread-safe on a shared snapshot.
//
// Without clusters the route requirement is checked symbolically (the matched restrict rules must
// constrain the route to the required values, whatever clusters exist); with clusters it is checked
// on the concrete allowed clusters decide() returns.
namespace sovgw::policy {

struct invariant_result {
  std::string id;
  source_pos pos;
  bool holds = false;
  bool exhaustive = true;  // false when a domain was sampled (globs with inner wildcards, more than
                           // 4096 combinations of data-class states)
  bool too_large = false;  // not checked: more than the class budget
  bool cancelled = false;  // not finished: `stop` was requested
  std::uint64_t classes_checked = 0;
  std::optional<request_values> counterexample;
  std::string violation;  // why the counterexample violates the invariant
  std::string decision;   // decision_summary of the counterexample
};

// A stop requested on `stop` ends the proof early (the invariant being proved is `cancelled`, the
// rest are not tried): a gateway that is stopping does not wait for a reload's proof.
[[nodiscard]] std::vector<invariant_result> check_invariants(const snapshot& policy,
                                                             std::span<const cluster_info> clusters,
                                                             std::uint64_t max_classes = 20'000'000,
                                                             std::stop_token stop = {});

// Cross-checks a policy against configured clusters: every cluster named in a route exists, every
// restrict route admits at least one cluster. (The clusters' own values were checked when they were
// parsed: see clusters_config.hpp.)
[[nodiscard]] std::vector<diagnostic> lint_clusters(const snapshot& policy,
                                                    std::span<const cluster_info> clusters);

}  // namespace sovgw::policy
