#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "policy/policy.hpp"

// The spellings a cluster may take for a request's path and model, decided by the policy besides
// the request as sent: many routers match paths case-insensitively (Express, ASP.NET, IIS) or with
// or without a trailing slash, and some servers look model names up without regard to case or by
// their base name (common/model_alias.hpp: Ollama's llama3 for
// registry.ollama.ai/library/llama3:latest, gpt-4o for gpt-4o-2024-08-06 or openai/gpt-4o). A forbid
// that matches a spelling forbids the request; a permitted spelling's restrict rules narrow the
// clusters and add their rules and redact obligations. A spelling that no rule permits changes
// nothing (permits are written for the canonical spelling). The gateway (gateway/pipeline.cpp) and
// the policy tools (`sovgw policy explain|test|diff`) decide a request with this one function.
namespace sovgw::policy {

// How a spelling's path or model differs from the request's.
enum class path_spelling : std::uint8_t {
  as_sent,
  lower,            // in ASCII lower case
  lower_slash_add,  // in lower case, with a trailing slash added
  lower_slash_cut,  // in lower case, without its trailing slash
};
enum class model_spelling : std::uint8_t {
  as_sent,
  lower,      // in ASCII lower case
  base_name,  // model_base_name of the lower case name
};

// One spelling that changed the decision, as decide_spelling_variants met it.
struct spelling_change {
  std::string path;  // the spelling decided
  std::string model;
  path_spelling path_form = path_spelling::as_sent;
  model_spelling model_form = model_spelling::as_sent;
  effect result = effect::deny;  // the spelling's own decision
  deny_cause cause = deny_cause::none;
  std::vector<std::uint32_t> new_rules;  // its matched rules that the decision did not have yet
  std::vector<std::uint32_t> clusters_before;
  std::vector<std::uint32_t> clusters_after;  // the decision's allowed clusters after it
  std::uint32_t redact_added = 0;             // detector bits it added to the obligations
};

// Decides the other spellings of `attrs` (d holds its decision as sent, from policy.decide with the
// same routes) into `d`. Nothing happens to a request already denied. With `changes`, each spelling
// that changed `d` is appended to it (tools; the gateway passes none and allocates nothing once its
// thread-local scratch is warm). With no clusters in `routes`, only the rules decide.
void decide_spelling_variants(const snapshot& policy, const bound_clusters& routes,
                              const request_attributes& attrs, decision& d,
                              std::vector<spelling_change>* changes = nullptr);

// A request decided as the gateway decides it: as sent, then every spelling of it.
struct gateway_decision {
  decision as_sent;
  std::vector<spelling_change> spellings;  // those that changed the decision, in the order decided
  decision final;                          // what the gateway enforces
};
[[nodiscard]] gateway_decision decide_as_gateway(const snapshot& policy, const bound_clusters& routes,
                                                 const request_attributes& attrs);

}  // namespace sovgw::policy
