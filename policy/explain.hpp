#pragma once

#include <span>
#include <string>

#include "policy/policy.hpp"
#include "policy/spelling_variants.hpp"

// Human and JSON traces of one decision: every rule with whether it matched (or the first attribute
// that failed, with the request's value and the rule's values), the clusters and why each was kept or
// rejected, and the outcome. Pure functions; `d` must come from `policy.decide(request, clusters)`.
namespace sovgw::policy {

struct resolved_condition;
struct compiled_policy;

[[nodiscard]] std::string explain_text(const snapshot& policy, const request_values& request,
                                       std::span<const cluster_info> clusters, const decision& d);
[[nodiscard]] std::string explain_json(const snapshot& policy, const request_values& request,
                                       std::span<const cluster_info> clusters, const decision& d);

// A decision as the gateway makes it (decide_as_gateway, spelling_variants.hpp): the rules traced
// for the request as sent, then each spelling of its path and model that changed the outcome, then
// the final decision, clusters and obligations (what the gateway enforces). `geo`, when not empty,
// says which geo database located client.ip.
[[nodiscard]] std::string explain_text(const snapshot& policy, const request_values& request,
                                       std::span<const cluster_info> clusters, const gateway_decision& d,
                                       std::string_view geo = {});
[[nodiscard]] std::string explain_json(const snapshot& policy, const request_values& request,
                                       std::span<const cluster_info> clusters, const gateway_decision& d,
                                       std::string_view geo = {});

// One spelling's line: "model 'gpt-4o' (base name of 'gpt-4o-2024-08-06'): restrict gpt4o-pinned
// matches -> clusters narrowed to [us-east-1]".
[[nodiscard]] std::string spelling_change_text(const snapshot& policy, const request_values& request,
                                               std::span<const cluster_info> clusters,
                                               const spelling_change& change);

// One line: "permit [rule-a, rule-b] clusters [c1, c2]" or "deny (forbidden) [rule-x]".
[[nodiscard]] std::string decision_summary(const snapshot& policy, std::span<const cluster_info> clusters,
                                           const decision& d);

// A decision's merged obligations in one line: "redact [iban, payment_card]; log_payload digest", or
// "none" (redact names in detector order; no log_payload part when no rule sets one).
[[nodiscard]] std::string obligations_text(const obligations& duties);

// Which of a request's data classes a condition sees: all of them (forbid and restrict rules, an
// invariant's `for`), or those that can grant (permit rules: the detected classes and the declared
// ones the policy marks permit_on_declaration).
enum class class_view : std::uint8_t { all, granting };

// The request's data classes as `view` sees them (detected first, no duplicates).
[[nodiscard]] std::vector<std::string> visible_classes(const compiled_policy& policy,
                                                       const request_values& request, class_view view);

// Whether a condition on `attr` admits the request (the same semantics as decide()).
[[nodiscard]] bool condition_admits(const compiled_policy& policy, const resolved_condition& condition,
                                    attribute attr, const request_values& request, class_view view);

}  // namespace sovgw::policy
