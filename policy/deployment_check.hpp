#pragma once

#include <span>
#include <stop_token>
#include <string>
#include <vector>

#include "policy/diagnostics.hpp"
#include "policy/invariant_checker.hpp"
#include "policy/policy.hpp"

// The one check of a compiled policy against what it will run with: the gateway's clusters and its
// tenants file. `sovgw policy check --clusters CONFIG`, `sovgw config check`, `sovgw serve` at start
// and every SIGHUP reload run it, so a policy gets the same verdict everywhere: the invariants are
// proved (on the configured clusters), every cluster a route names is configured, every restrict
// route admits one and the restricts every request meets admit one together, and every tenant a rule
// or an invariant names is declared in the tenants file (see lint_clusters for its warnings).
// A policy with an error, or an invariant that is not proved, is refused (a reload keeps the last
// good one). Pure; thread-safe on a shared snapshot. docs/policy.md is the reference.
namespace sovgw::policy {

struct deployment {
  // The configured clusters; null when not known (`policy check` without --clusters: route
  // requirements are then proved from the rules alone and routes are not cross-checked).
  const std::vector<cluster_info>* clusters = nullptr;
  // The tenants the tenants file declares, and its name; null without a tenants file (the tenant is
  // then a client certificate's CN, or `default`).
  const std::vector<std::string>* tenants = nullptr;
  std::string tenants_file;
};

struct policy_verdict {
  std::string file;                     // the policy's
  std::vector<diagnostic> diagnostics;  // the cross-checks' errors and warnings
  std::vector<invariant_result> invariants;

  // No error, and every invariant proved.
  [[nodiscard]] bool ok() const noexcept;
  // The diagnostics and, at each invariant that is not proved, an error saying why (with its
  // counterexample): the whole verdict as one list, for logs and `config check`.
  [[nodiscard]] std::vector<diagnostic> all() const;
};

// Every tenant a rule or an invariant names must be one the tenants file declares (`where.tenants`,
// not null): a misspelled name makes a rule that never matches (a pin that pins nobody, a forbid
// that forbids nothing). The only part of check_deployment that depends on the tenants: a policy
// already checked is checked against a new tenants file with this alone, in microseconds.
void check_tenant_names(const compiled_policy& p, const deployment& where, std::vector<diagnostic>& out);

// `stop`: see check_invariants (a gateway that is stopping abandons a reload's proof).
[[nodiscard]] policy_verdict check_deployment(const snapshot& policy, const deployment& where,
                                              std::stop_token stop = {});

}  // namespace sovgw::policy
