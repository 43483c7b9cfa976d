#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "policy/countries.hpp"
#include "policy/glob.hpp"
#include "policy/ip_address.hpp"
#include "policy/policy.hpp"
#include "policy/policy_source.hpp"

// The compiled form of a policy (what a snapshot owns). Exposed for the explainer, the invariant
// checker, tests and benchmarks; the gateway only needs policy.hpp. Immutable once built.
namespace sovgw::policy {

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
template <typename value_t>
using string_map = std::unordered_map<std::string, value_t, string_hash, std::equal_to<>>;

// The empty set, shared by every unconstrained condition.
[[nodiscard]] inline const country_set& no_countries() noexcept {
  static const country_set empty;
  return empty;
}

// One attribute's resolved condition. Unconstrained means "any value".
struct resolved_condition {
  bool constrained = false;
  const country_set* countries = &no_countries();  // client.country (interned in country_storage)
  std::vector<cidr_block> cidrs;                   // client.ip
  std::vector<std::string> exact;                  // tenant, model, path, method, data.class
  std::vector<glob_pattern> globs;                 // model, path
  std::vector<std::string> written;                // the values as written (for explanations)
  std::vector<source_pos> positions;               // where each of `written` is in the file

  // Does a concrete (string) value satisfy it? For client.country the value is a country name.
  [[nodiscard]] bool admits_string(attribute attr, std::string_view value) const;
};

using resolved_when = std::array<resolved_condition, attribute_count>;

struct resolved_route {
  std::array<bool, route_attribute_count> constrained{};
  std::vector<std::string> clusters;
  std::vector<std::string> regions;
  const country_set* countries = &no_countries();
  const country_set* jurisdictions = &no_countries();
  std::array<std::vector<std::string>, route_attribute_count> written;
  std::array<std::vector<source_pos>, route_attribute_count> positions;  // of each written value
};

struct compiled_rule {
  std::string id;
  rule_effect effect = rule_effect::permit;
  std::string reason;
  source_pos pos;
  resolved_when when;
  resolved_route route;
  obligations duties;
};

struct compiled_invariant {
  std::string id;
  source_pos pos;
  std::string reason;
  resolved_when when;
  std::optional<effect> require_effect;
  bool has_route = false;
  resolved_route require_route;
};

// Bitsets over rule indexes, all of the same width, deduplicated.
struct bitset_pool {
  static constexpr std::uint32_t dense = 0xffffffffu;

  std::size_t words = 0;
  std::vector<std::uint64_t> bits;
  // Sets with at most a quarter of their words non-zero also list those words, so that a decision
  // driven by a sparse set (a tenant's rules) touches only them.
  std::vector<std::uint32_t> sparse_begin;  // per set: offset into sparse_words, or `dense`
  std::vector<std::uint32_t> sparse_size;
  std::vector<std::uint32_t> sparse_words;

  [[nodiscard]] const std::uint64_t* get(std::uint32_t id) const noexcept { return bits.data() + id * words; }
  [[nodiscard]] std::size_t count() const noexcept { return words ? bits.size() / words : 0; }
};

// Index of a string attribute: exact values (each already OR-ed with the globs that match it) and
// the globs for values the policy never names.
struct string_index {
  string_map<std::uint32_t> exact;
  std::vector<glob_pattern> globs;
  std::vector<std::uint32_t> glob_sets;  // bitset of rules listing that glob (without wildcard rules)
  std::uint32_t other = 0;               // bitset for a value nothing names: the unconstrained rules
};

template <typename key_t>
struct prefix_table {
  std::vector<key_t> starts;  // step function, starts[0] == 0
  std::vector<std::uint32_t> sets;
  [[nodiscard]] std::uint32_t find(key_t key) const noexcept;
};

struct compiled_policy {
  std::string version;
  std::string file;
  std::vector<compiled_rule> rules;
  std::vector<compiled_invariant> invariants;
  std::vector<rule_effect> effects;  // effects[i] == rules[i].effect, dense for the hot path
  // Bitsets index rules by an internal position that groups each tenant's rules together.
  std::vector<std::uint32_t> rule_at;        // position -> rule index (file order)
  std::vector<std::uint32_t> rule_position;  // rule index -> position
  string_map<country_set> country_sets;      // built-in and policy sets
  std::deque<country_set> country_storage;   // the sets conditions and routes point to (deduplicated)
  std::vector<std::string> data_class_names;
  std::vector<std::string> data_class_headers;
  std::vector<std::uint32_t> data_class_detectors;             // bit i = known_detectors()[i]
  std::vector<std::uint8_t> data_class_permit_on_declaration;  // 1: a declaration satisfies permits

  bitset_pool pool;
  std::uint32_t permit_mask = 0;
  std::uint32_t forbid_mask = 0;
  std::array<std::uint32_t, country_slots> country_index{};
  prefix_table<std::uint32_t> ip_v4;
  prefix_table<u128> ip_v6;
  std::uint32_t ip_absent = 0;
  string_index tenant;
  string_index model;
  string_index path;
  string_index method;
  string_map<std::uint32_t> data_class_index;  // class name -> index
  std::vector<std::uint32_t> data_class_sets;  // per class: rules naming it (without wildcard rules)
  // Per class: the rules a client's declaration of it matches: data_class_sets without the permit
  // rules, unless the class is permit_on_declaration.
  std::vector<std::uint32_t> data_class_declared_sets;
  std::uint32_t data_class_any = 0;  // rules that do not constrain data.class

  // Whether a class the client declares (not detected) may satisfy permit rules.
  [[nodiscard]] bool permit_on_declaration(std::string_view data_class) const;

  // Resolves a cluster's operator_jurisdiction (code or set name); empty set if unknown.
  [[nodiscard]] country_set jurisdiction_of(std::string_view text) const;
  [[nodiscard]] bool route_admits(const resolved_route& route, const cluster_info& cluster) const;
};

[[nodiscard]] bool glob_or_exact_match(std::string_view pattern, std::string_view text) noexcept;
// Whether a cluster serving `models` (exact names or globs) serves a request for `model`. A request
// that names no model (GET /, a health check) is not a request for a model: every cluster serves
// it, as the gateway's route does (the endpoints that run a model refuse a body that names none).
[[nodiscard]] bool serves_model(std::span<const std::string> models, std::string_view model) noexcept;

}  // namespace sovgw::policy
