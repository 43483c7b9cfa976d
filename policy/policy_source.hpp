#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/diagnostics.hpp"

// The policy file as written (after YAML parsing, before name resolution), every value with its
// source position so that later stages can report `file:line:col` errors. Plain data.
namespace sovgw::policy {

enum class attribute : std::uint8_t { client_country, client_ip, tenant, model, path, method, data_class };
inline constexpr std::size_t attribute_count = 7;
[[nodiscard]] std::string_view attribute_name(attribute a) noexcept;
[[nodiscard]] std::optional<attribute> parse_attribute(std::string_view name) noexcept;

enum class route_attribute : std::uint8_t { cluster, country, region, jurisdiction };
inline constexpr std::size_t route_attribute_count = 4;
[[nodiscard]] std::string_view route_attribute_name(route_attribute a) noexcept;
[[nodiscard]] std::optional<route_attribute> parse_route_attribute(std::string_view name) noexcept;

// The methods a policy's `method` may name, upper case as on the wire (the gateway answers no other).
inline constexpr std::array<std::string_view, 7> http_methods = {"GET",    "POST", "PUT",    "PATCH",
                                                                 "DELETE", "HEAD", "OPTIONS"};

enum class rule_effect : std::uint8_t { permit, forbid, restrict };
[[nodiscard]] std::string_view rule_effect_name(rule_effect e) noexcept;

// How much of the payload the audit record may keep. When several matched rules say something,
// the one that keeps the least wins (data minimisation): none > digest > sealed.
enum class log_payload : std::uint8_t { unset, sealed, digest, none };
[[nodiscard]] std::string_view log_payload_name(log_payload l) noexcept;
// The log_payload a policy or a test names: sealed, digest or none (nullopt for anything else).
[[nodiscard]] std::optional<log_payload> log_payload_named(std::string_view text) noexcept;

// The detector names a policy may refer to, from the detector table in classify/detector_list.hpp
// (the detectors themselves live in classify/).
[[nodiscard]] const std::vector<std::string_view>& known_detectors() noexcept;
[[nodiscard]] std::optional<unsigned> detector_index(std::string_view name) noexcept;
// The names of the detectors in a bit set (bit i = known_detectors()[i]), in index order.
[[nodiscard]] std::vector<std::string_view> detector_names(std::uint32_t bits);

struct sourced {
  std::string text;
  source_pos pos;
};

struct condition_source {
  attribute attr{};
  source_pos pos;
  std::vector<sourced> values;
};

struct route_source {
  route_attribute attr{};
  source_pos pos;
  std::vector<sourced> values;
};

struct obligations_source {
  std::vector<sourced> redact;
  log_payload log = log_payload::unset;
};

struct rule_source {
  sourced id;
  source_pos pos;
  rule_effect effect = rule_effect::permit;
  bool effect_valid = true;      // false: an unknown effect was reported; only the id is checked
  bool when_has_errors = false;  // a problem was reported in the rule (its `when` may be missing)
  std::vector<condition_source> when;
  std::vector<route_source> route;
  bool has_route = false;
  source_pos route_pos;
  std::string reason;
  obligations_source obligations;
};

struct country_set_source {
  sourced name;
  std::vector<sourced> members;
};

struct data_class_source {
  sourced name;
  std::string header;  // value of the data-class request header that declares it
  std::vector<sourced> detectors;
  bool permit_on_declaration = false;  // a client's declaration may satisfy permit rules
};

struct invariant_source {
  sourced id;
  source_pos pos;
  std::vector<condition_source> when;         // the `for:` block
  std::optional<rule_effect> require_effect;  // permit or forbid (written `deny`)
  source_pos require_effect_pos;
  std::vector<route_source> require_route;
  std::string reason;
};

struct policy_source {
  std::vector<country_set_source> country_sets;
  std::vector<data_class_source> data_classes;
  std::vector<rule_source> rules;
  std::vector<invariant_source> invariants;
};

// Parses the YAML structure; reports every structural error (syntax, unknown keys, wrong types,
// empty value sets, bad effects) to `diags` and keeps going. Never throws on bad input.
[[nodiscard]] policy_source parse_policy_source(std::string_view text, diagnostics& diags);

}  // namespace sovgw::policy
