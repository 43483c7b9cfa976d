#include "policy/spelling_variants.hpp"

#include <algorithm>
#include <array>

#include "common/ascii.hpp"
#include "common/model_alias.hpp"

namespace sovgw::policy {

void decide_spelling_variants(const snapshot& policy, const bound_clusters& routes,
                              const request_attributes& attrs, decision& d,
                              std::vector<spelling_change>* changes) {
  if (d.result != effect::permit) {
    return;
  }
  const bool with_clusters = !routes.clusters().empty();
  static thread_local decision variant_decision;
  static thread_local std::string model_lower;
  static thread_local std::string path_lower;
  static thread_local std::string path_slash;
  // The rules of a spelling that narrowed the clusters join the decision's: they are why a
  // cluster was left out, or none is left (probe round 39: a restrict that matched only the lower
  // case spelling was missing from the refusal and the record).
  const auto add_rules = [&] {
    for (const std::uint32_t r : variant_decision.matched_rules) {
      const auto at = std::lower_bound(d.matched_rules.begin(), d.matched_rules.end(), r);
      if (at == d.matched_rules.end() || *at != r) {
        d.matched_rules.insert(at, r);
      }
    }
  };
  const auto consider = [&](const request_attributes& a) {
    policy.decide(a, routes, variant_decision);
    if (variant_decision.result != effect::permit) {
      if (variant_decision.cause == deny_cause::forbidden) {
        d = variant_decision;
      } else if (variant_decision.cause == deny_cause::no_cluster) {
        // Permitted, but its restrict rules leave none of the clusters that serve the request: a
        // restrict on llama-* (to FR) holds for meta/llama-3 that only a US cluster serves.
        d.allowed_clusters.clear();
        add_rules();
      }
      return;
    }
    add_rules();
    std::erase_if(d.allowed_clusters, [&](std::uint32_t c) {
      return std::find(variant_decision.allowed_clusters.begin(), variant_decision.allowed_clusters.end(),
                       c) == variant_decision.allowed_clusters.end();
    });
    d.duties.redact |= variant_decision.duties.redact;
    // And its payload logging, the strictest (probe round 45: a restrict met only as MISTRAL-SMALL
    // redacted, but its log_payload: none was dropped).
    d.duties.log = std::max(d.duties.log, variant_decision.duties.log);
  };
  // What a spelling changed in `d`, for the tools that show it.
  const auto record = [&](const request_attributes& a, path_spelling pf, model_spelling mf,
                          const decision& before) {
    spelling_change c{.path = std::string(a.path),
                      .model = std::string(a.model),
                      .path_form = pf,
                      .model_form = mf,
                      .result = variant_decision.result,
                      .cause = variant_decision.cause,
                      .new_rules = {},
                      .clusters_before = before.allowed_clusters,
                      .clusters_after = d.allowed_clusters,
                      .redact_added = d.duties.redact & ~before.duties.redact};
    for (const std::uint32_t r : variant_decision.matched_rules) {
      if (std::find(before.matched_rules.begin(), before.matched_rules.end(), r) ==
          before.matched_rules.end()) {
        c.new_rules.push_back(r);
      }
    }
    if (d.result != before.result || c.clusters_before != c.clusters_after || c.redact_added != 0 ||
        !c.new_rules.empty()) {
      changes->push_back(std::move(c));
    }
  };
  // Every combination of the path's spellings (as sent, in lower case, in lower case with the
  // trailing slash added or removed) and the model's (as sent, in lower case), but the request's own: a
  // cluster that folds both would otherwise get a request no spelling the policy saw was forbidden
  // (/V1/CHAT/... for GPT-4O against a forbid on /v1/chat/* and gpt-4o).
  std::array<std::string_view, 3> paths{attrs.path};
  std::array<path_spelling, 3> path_forms{path_spelling::as_sent};
  std::size_t path_count = 1;
  if (ascii_lower_into(attrs.path, path_lower)) {
    path_forms[path_count] = path_spelling::lower;
    paths[path_count++] = path_lower;
  }
  path_slash = path_lower;  // ascii_lower_into writes it either way
  if (!attrs.path.ends_with('/')) {
    path_slash += '/';  // /admin for /admin/
    path_forms[path_count] = path_spelling::lower_slash_add;
    paths[path_count++] = path_slash;
  } else if (attrs.path.size() > 1) {
    path_slash.pop_back();  // /v1/embeddings/ for /v1/embeddings
    path_forms[path_count] = path_spelling::lower_slash_cut;
    paths[path_count++] = path_slash;
  }
  std::array<std::string_view, 3> models{attrs.model};
  std::array<model_spelling, 3> model_forms{model_spelling::as_sent};
  std::size_t model_count = 1;
  if (ascii_lower_into(attrs.model, model_lower)) {
    model_forms[model_count] = model_spelling::lower;
    models[model_count++] = model_lower;
  }
  if (const std::string_view base = model_base_name(model_lower); base.size() != model_lower.size()) {
    model_forms[model_count] = model_spelling::base_name;
    models[model_count++] = base;  // llama3 for llama3:latest (common/model_alias.hpp)
  }
  request_attributes a = attrs;
  a.serving_model = attrs.model;  // a spelling's rules narrow the clusters; which serve it stays the name's
  decision before;
  for (std::size_t p = 0; p < path_count; ++p) {
    for (std::size_t m = 0; m < model_count && d.result == effect::permit; ++m) {
      if (p == 0 && m == 0) {
        continue;  // the request as sent: decided already
      }
      a.path = paths[p];
      a.model = models[m];
      if (changes != nullptr) {
        before = d;
      }
      consider(a);
      if (changes != nullptr) {
        record(a, path_forms[p], model_forms[m], before);
      }
    }
  }
  if (d.result == effect::permit && with_clusters && d.allowed_clusters.empty()) {
    d.result = effect::deny;
    d.cause = deny_cause::no_cluster;
    d.reason = "no cluster is allowed for every spelling of the request path and model";
  }
}

gateway_decision decide_as_gateway(const snapshot& policy, const bound_clusters& routes,
                                   const request_attributes& attrs) {
  gateway_decision out;
  policy.decide(attrs, routes, out.as_sent);
  out.final = out.as_sent;
  decide_spelling_variants(policy, routes, attrs, out.final, &out.spellings);
  return out;
}

}  // namespace sovgw::policy
