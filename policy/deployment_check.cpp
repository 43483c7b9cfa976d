#include "policy/deployment_check.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "common/did_you_mean.hpp"
#include "policy/compiled_policy.hpp"
#include "policy/request_json.hpp"

namespace sovgw::policy {

void check_tenant_names(const compiled_policy& p, const deployment& where, std::vector<diagnostic>& out) {
  const auto slot = static_cast<std::size_t>(attribute::tenant);
  const auto check = [&](const resolved_condition& cond, std::string_view what, const std::string& id) {
    for (std::size_t i = 0; i < cond.written.size(); ++i) {
      const std::string& name = cond.written[i];
      if (std::find(where.tenants->begin(), where.tenants->end(), name) != where.tenants->end()) {
        continue;
      }
      out.push_back({p.file, cond.positions[i], severity::error,
                     fmt::format("{} '{}' names tenant '{}', which the tenants file {} does not declare: it "
                                 "never matches{}",
                                 what, id, name, where.tenants_file, did_you_mean(name, *where.tenants))});
    }
  };
  for (const compiled_rule& r : p.rules) {
    check(r.when[slot], "rule", r.id);
  }
  for (const compiled_invariant& inv : p.invariants) {
    check(inv.when[slot], "invariant", inv.id);
  }
}

bool policy_verdict::ok() const noexcept {
  return std::none_of(diagnostics.begin(), diagnostics.end(),
                      [](const diagnostic& d) { return d.level == severity::error; }) &&
         std::all_of(invariants.begin(), invariants.end(), [](const invariant_result& r) { return r.holds; });
}

std::vector<diagnostic> policy_verdict::all() const {
  std::vector<diagnostic> out = diagnostics;
  for (const invariant_result& r : invariants) {
    if (r.holds) {
      continue;
    }
    std::string why;
    if (r.cancelled) {
      why = "is not proved: the proof was cancelled";
    } else if (r.too_large || !r.counterexample) {
      why = "is not proved: the request domain exceeds the class budget";
    } else {
      why = fmt::format("is violated: counterexample {}; decision: {}; violation: {}",
                        request_to_json(*r.counterexample), r.decision, r.violation);
    }
    out.push_back({file, r.pos, severity::error, fmt::format("invariant '{}' {}", r.id, why)});
  }
  return out;
}

policy_verdict check_deployment(const snapshot& policy, const deployment& where, std::stop_token stop) {
  policy_verdict verdict;
  verdict.file = policy.compiled().file;
  const std::span<const cluster_info> clusters = where.clusters != nullptr
                                                     ? std::span<const cluster_info>(*where.clusters)
                                                     : std::span<const cluster_info>();
  if (where.clusters != nullptr) {
    verdict.diagnostics = lint_clusters(policy, clusters);
  }
  if (where.tenants != nullptr) {
    check_tenant_names(policy.compiled(), where, verdict.diagnostics);
  }
  verdict.invariants = check_invariants(policy, clusters, 20'000'000, std::move(stop));
  return verdict;
}

}  // namespace sovgw::policy
