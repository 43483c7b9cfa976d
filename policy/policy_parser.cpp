#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "common/printable.hpp"
#include "common/utf8.hpp"
#include "policy/config_values.hpp"
#include "policy/policy_source.hpp"
#include "policy/yaml_util.hpp"

namespace sovgw::policy {
namespace {

// A rule's or an invariant's reason: told to clients (403 bodies), printed by the tools, written
// to logs. A control or bidirectional character in it would act on a terminal or reorder what a
// reader sees (a newline or a tab is fine: a multi-line reason).
std::optional<std::string> reason_text(const YAML::Node& value, source_pos kpos, diagnostics& diags,
                                       std::string_view key) {
  auto text = yaml::scalar(value, kpos, diags, key);
  if (!text) {
    return text;
  }
  for (std::size_t i = 0; i < text->size();) {
    char32_t c = 0;
    const std::size_t n = utf8_sequence_at(*text, i, c);
    if (n != 0 && c != '\n' && c != '\t' && hidden_from_terminals(c)) {
      diags.error(
          yaml::pos_of(value),
          fmt::format("{} holds U+{:04X}, a control or bidirectional character that a terminal or a log "
                      "reader would act on: write the reason as plain text",
                      key, static_cast<std::uint32_t>(c)));
      return std::nullopt;
    }
    i += n == 0 ? 1 : n;
  }
  return text;
}

// A class's `header` value is what a client writes in the Sovereign-Data-Class field, a list the
// gateway splits at commas and trims: an RFC 9110 token (letters, digits, !#$%&'*+-.^_`|~), or no
// client could ever declare it.
void header_value_check(const std::string& value, source_pos pos, diagnostics& diags) {
  constexpr std::string_view specials = "!#$%&'*+-.^_`|~";
  const bool token = !value.empty() && std::all_of(value.begin(), value.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           specials.find(c) != std::string_view::npos;
  });
  if (!token) {
    diags.error(pos,
                "header value '" + value +
                    "' is not a token (letters, digits and !#$%&'*+-.^_`|~, no spaces or commas): a client "
                    "declares a class in the Sovereign-Data-Class field, a comma-separated list");
  }
}

constexpr std::array<std::string_view, attribute_count> attribute_names = {
    "client.country", "client.ip", "tenant", "model", "path", "method", "data.class"};
constexpr std::array<std::string_view, route_attribute_count> route_attribute_names = {
    "cluster", "cluster.country", "cluster.region", "cluster.operator_jurisdiction"};

std::string quoted_list(auto const& names) {
  std::string out;
  for (auto n : names) {
    out += out.empty() ? "" : ", ";
    out += n;
  }
  return out;
}

std::vector<condition_source> parse_conditions(const YAML::Node& node, source_pos owner, diagnostics& diags,
                                               std::string_view what) {
  std::vector<condition_source> out;
  if (!yaml::expect_map(node, owner, diags, what)) {
    return out;
  }
  if (node.size() == 0) {
    diags.error(yaml::pos_of(node).line ? yaml::pos_of(node) : owner, std::string(what) + " is empty");
  }
  yaml::for_each_entry(node, diags, what, {},
                       [&](const std::string& key, source_pos kpos, const YAML::Node& value) {
                         const auto attr = parse_attribute(key);
                         if (!attr) {
                           diags.error(kpos, "unknown attribute '" + key +
                                                 "' (expected one of: " + quoted_list(attribute_names) + ")");
                           return;
                         }
                         out.push_back({*attr, kpos, yaml::value_list(value, kpos, diags, key)});
                       });
  return out;
}

std::vector<route_source> parse_route(const YAML::Node& node, source_pos owner, diagnostics& diags,
                                      std::string_view what) {
  std::vector<route_source> out;
  if (!yaml::expect_map(node, owner, diags, what)) {
    return out;
  }
  if (node.size() == 0) {
    diags.error(yaml::pos_of(node).line ? yaml::pos_of(node) : owner, std::string(what) + " is empty");
  }
  yaml::for_each_entry(
      node, diags, what, {}, [&](const std::string& key, source_pos kpos, const YAML::Node& value) {
        const auto attr = parse_route_attribute(key);
        if (!attr) {
          diags.error(kpos, "unknown route attribute '" + key +
                                "' (expected one of: " + quoted_list(route_attribute_names) + ")");
          return;
        }
        out.push_back({*attr, kpos, yaml::value_list(value, kpos, diags, key)});
      });
  return out;
}

void parse_obligations(const YAML::Node& node, source_pos owner, diagnostics& diags,
                       obligations_source& out) {
  if (!yaml::expect_map(node, owner, diags, "obligations")) {
    return;
  }
  yaml::for_each_entry(node, diags, "obligations", {"redact", "log_payload"},
                       [&](const std::string& key, source_pos kpos, const YAML::Node& value) {
                         if (key == "redact") {
                           out.redact = yaml::value_list(value, kpos, diags, "redact");
                           return;
                         }
                         const auto text = yaml::scalar(value, kpos, diags, "log_payload");
                         if (!text) {
                           return;
                         }
                         if (const auto l = log_payload_named(*text)) {
                           out.log = *l;
                         } else {
                           diags.error(yaml::pos_of(value), "unknown log_payload '" + *text +
                                                                "' (expected sealed, digest or none)");
                         }
                       });
}

void parse_rule(const YAML::Node& node, diagnostics& diags, policy_source& out) {
  const source_pos pos = yaml::pos_of(node);
  if (!yaml::expect_map(node, pos, diags, "a rule")) {
    return;
  }
  rule_source rule;
  rule.pos = pos;
  bool has_id = false;
  bool has_effect = false;
  bool bad_effect = false;
  const std::size_t errors_at_start = diags.error_count();
  yaml::for_each_entry(
      node, diags, "a rule", {"id", "effect", "when", "route", "reason", "obligations", "description"},
      [&](const std::string& key, source_pos kpos, const YAML::Node& value) {
        if (key == "id") {
          if (auto text = yaml::scalar(value, kpos, diags, "id")) {
            rule.id = {*text, yaml::pos_of(value)};
            has_id = true;
          }
        } else if (key == "effect") {
          if (auto text = yaml::scalar(value, kpos, diags, "effect")) {
            has_effect = true;
            if (*text == "permit") {
              rule.effect = rule_effect::permit;
            } else if (*text == "forbid") {
              rule.effect = rule_effect::forbid;
            } else if (*text == "restrict") {
              rule.effect = rule_effect::restrict;
            } else {
              diags.error(yaml::pos_of(value),
                          "unknown effect '" + *text + "' (expected forbid, permit or restrict)");
              has_effect = false;
              bad_effect = true;
            }
          }
        } else if (key == "when") {
          const std::size_t errors_before = diags.error_count();
          rule.when = parse_conditions(value, kpos, diags, "when");
          rule.when_has_errors = diags.error_count() != errors_before;
        } else if (key == "route") {
          rule.has_route = true;
          rule.route_pos = kpos;
          rule.route = parse_route(value, kpos, diags, "route");
        } else if (key == "reason") {
          if (auto text = reason_text(value, kpos, diags, "reason")) {
            rule.reason = *text;
          }
        } else if (key == "obligations") {
          parse_obligations(value, kpos, diags, rule.obligations);
        } else if (key == "description") {
          (void)yaml::scalar(value, kpos, diags, "description");
        }
      });
  // A rule with a mistake anywhere (a misspelled `when:` reads as no condition, so as "every
  // request") is not what its author wrote: it is left out of the unreachable-rule check, so that
  // one mistake is one error.
  rule.when_has_errors = rule.when_has_errors || diags.error_count() != errors_at_start;
  if (!has_id) {
    diags.error(pos, "rule has no 'id'");
    return;
  }
  if (!has_effect && !bad_effect) {
    diags.error(pos, "rule '" + rule.id.text + "' has no 'effect' (forbid, permit or restrict)");
  }
  rule.effect_valid = has_effect;
  out.rules.push_back(std::move(rule));
}

void parse_invariant(const YAML::Node& node, diagnostics& diags, policy_source& out) {
  const source_pos pos = yaml::pos_of(node);
  if (!yaml::expect_map(node, pos, diags, "an invariant")) {
    return;
  }
  invariant_source inv;
  inv.pos = pos;
  bool has_id = false;
  bool has_require = false;
  yaml::for_each_entry(
      node, diags, "an invariant", {"id", "for", "require", "reason", "description"},
      [&](const std::string& key, source_pos kpos, const YAML::Node& value) {
        if (key == "id") {
          if (auto text = yaml::scalar(value, kpos, diags, "id")) {
            inv.id = {*text, yaml::pos_of(value)};
            has_id = true;
          }
        } else if (key == "for") {
          inv.when = parse_conditions(value, kpos, diags, "for");
        } else if (key == "reason" || key == "description") {
          if (auto text = reason_text(value, kpos, diags, key)) {
            inv.reason = *text;
          }
        } else if (key == "require") {
          has_require = true;
          if (!yaml::expect_map(value, kpos, diags, "require")) {
            return;
          }
          yaml::for_each_entry(value, diags, "require", {"effect", "route"},
                               [&](const std::string& rkey, source_pos rpos, const YAML::Node& rvalue) {
                                 if (rkey == "route") {
                                   inv.require_route = parse_route(rvalue, rpos, diags, "route");
                                   return;
                                 }
                                 const auto text = yaml::scalar(rvalue, rpos, diags, "effect");
                                 if (!text) {
                                   return;
                                 }
                                 inv.require_effect_pos = yaml::pos_of(rvalue);
                                 if (*text == "permit") {
                                   inv.require_effect = rule_effect::permit;
                                 } else if (*text == "deny") {
                                   inv.require_effect = rule_effect::forbid;
                                 } else {
                                   diags.error(yaml::pos_of(rvalue), "unknown required effect '" + *text +
                                                                         "' (expected permit or deny)");
                                 }
                               });
          if (value.IsMap() && value.size() == 0) {
            diags.error(yaml::pos_of(value), "require is empty (expected effect and/or route)");
          }
        }
      });
  if (!has_id) {
    diags.error(pos, "invariant has no 'id'");
    return;
  }
  if (!has_require) {
    diags.error(pos, "invariant '" + inv.id.text + "' has no 'require'");
    return;
  }
  out.invariants.push_back(std::move(inv));
}

}  // namespace

std::string_view attribute_name(attribute a) noexcept { return attribute_names[static_cast<std::size_t>(a)]; }

std::optional<attribute> parse_attribute(std::string_view name) noexcept {
  for (std::size_t i = 0; i < attribute_count; ++i) {
    if (attribute_names[i] == name) {
      return static_cast<attribute>(i);
    }
  }
  return std::nullopt;
}

std::string_view route_attribute_name(route_attribute a) noexcept {
  return route_attribute_names[static_cast<std::size_t>(a)];
}

std::optional<route_attribute> parse_route_attribute(std::string_view name) noexcept {
  for (std::size_t i = 0; i < route_attribute_count; ++i) {
    if (route_attribute_names[i] == name) {
      return static_cast<route_attribute>(i);
    }
  }
  return std::nullopt;
}

std::string_view rule_effect_name(rule_effect e) noexcept {
  switch (e) {
    case rule_effect::permit:
      return "permit";
    case rule_effect::forbid:
      return "forbid";
    case rule_effect::restrict:
      return "restrict";
  }
  return "?";
}

std::string_view log_payload_name(log_payload l) noexcept {
  switch (l) {
    case log_payload::unset:
      return "unset";
    case log_payload::sealed:
      return "sealed";
    case log_payload::digest:
      return "digest";
    case log_payload::none:
      return "none";
  }
  return "?";
}

std::optional<log_payload> log_payload_named(std::string_view text) noexcept {
  for (const log_payload l : {log_payload::sealed, log_payload::digest, log_payload::none}) {
    if (text == log_payload_name(l)) {
      return l;
    }
  }
  return std::nullopt;
}

policy_source parse_policy_source(std::string_view text, diagnostics& diags) {
  policy_source out;
  const YAML::Node root = yaml::load(text, diags);
  if (!root.IsDefined()) {
    return out;
  }
  if (!root.IsMap()) {
    diags.error(
        yaml::pos_of(root).line ? yaml::pos_of(root) : source_pos{1, 1},
        "a policy file must be a mapping with 'rules' (got " + std::string(yaml::type_name(root)) + ")");
    return out;
  }
  // A gateway configuration given where a policy file belongs (`audit report --policy sovgw.yaml`,
  // `policy check sovgw.yaml`): one error that says so, and names the policy file it points to,
  // rather than an unknown-key error per top-level key (probe round 39).
  {
    std::vector<std::string> config_keys;
    bool policy_keys = false;
    source_pos first{};
    std::string policy_file;
    for (auto it = root.begin(); it != root.end(); ++it) {
      if (!it->first.IsScalar()) {
        continue;
      }
      const std::string& key = it->first.Scalar();
      if (key == "rules" || key == "country_sets" || key == "data_classes" || key == "invariants") {
        policy_keys = true;
      } else if (key == "listen" || key == "clusters" || key == "tls" || key == "audit" || key == "admin" ||
                 key == "trusted_proxies" || key == "tenants") {
        if (config_keys.empty()) {
          first = yaml::pos_of(it->first);
        }
        config_keys.push_back(key + ":");
      } else if (key == "policy" && it->second.IsScalar()) {
        policy_file = it->second.Scalar();
      }
    }
    if (!policy_keys && !config_keys.empty()) {
      diags.error(
          first.line ? first : source_pos{1, 1},
          fmt::format("this looks like a gateway configuration (it has {}), not a policy file: give the "
                      "policy file {}",
                      fmt::join(config_keys, ", "),
                      policy_file.empty() ? std::string("(a mapping with 'rules'; see docs/policy.md)")
                                          : fmt::format("it names, policy: {}", printable(policy_file))));
      return out;
    }
  }
  bool has_rules = false;
  yaml::for_each_entry(
      root, diags, "the policy", {"version", "country_sets", "data_classes", "rules", "invariants"},
      [&](const std::string& key, source_pos kpos, const YAML::Node& value) {
        if (key == "version") {
          const auto v = yaml::scalar(value, kpos, diags, "version");
          if (v && yaml::quoted_scalar(value)) {
            // As every other number of the files (probe round 49: "1" and '1' loaded, each its own
            // policy version).
            diags.error(yaml::pos_of(value), quoted_number_error("version", *v));
          } else if (v && *v != "1") {
            diags.error(yaml::pos_of(value), "unsupported policy version '" + *v + "' (expected 1)");
          }
        } else if (key == "country_sets") {
          if (!yaml::expect_map(value, kpos, diags, "country_sets")) {
            return;
          }
          yaml::for_each_entry(
              value, diags, "country_sets", {},
              [&](const std::string& name, source_pos npos, const YAML::Node& members) {
                out.country_sets.push_back(
                    {{name, npos}, yaml::value_list(members, npos, diags, "country set " + name)});
              });
        } else if (key == "data_classes") {
          if (!yaml::expect_map(value, kpos, diags, "data_classes")) {
            return;
          }
          yaml::for_each_entry(value, diags, "data_classes", {},
                               [&](const std::string& name, source_pos npos, const YAML::Node& body) {
                                 data_class_source dc{{name, npos}, name, {}};
                                 if (!body.IsNull() && yaml::expect_map(body, npos, diags, "a data class")) {
                                   yaml::for_each_entry(
                                       body, diags, "a data class",
                                       {"header", "detectors", "permit_on_declaration", "description"},
                                       [&](const std::string& k, source_pos p, const YAML::Node& v) {
                                         if (k == "header") {
                                           if (auto h = yaml::scalar(v, p, diags, "header")) {
                                             dc.header = *h;
                                             header_value_check(*h, yaml::pos_of(v), diags);
                                           }
                                         } else if (k == "detectors") {
                                           dc.detectors = yaml::value_list(v, p, diags, "detectors");
                                         } else if (k == "permit_on_declaration") {
                                           const auto b = yaml::scalar(v, p, diags, k);
                                           if (b && yaml::quoted_scalar(v)) {
                                             // As the gateway config reads its booleans: "true"
                                             // quoted is a string (probe round 35).
                                             diags.error(yaml::pos_of(v), quoted_bool_error(k, *b));
                                           } else if (b && *b != "true" && *b != "false") {
                                             diags.error(yaml::pos_of(v),
                                                         "permit_on_declaration must be true "
                                                         "or false, not '" +
                                                             *b + "'");
                                           }
                                           dc.permit_on_declaration = b == "true";
                                         } else {
                                           (void)yaml::scalar(v, p, diags, k);
                                         }
                                       });
                                 }
                                 out.data_classes.push_back(std::move(dc));
                               });
        } else if (key == "rules") {
          has_rules = true;
          if (!yaml::expect_list(value, kpos, diags, "rules")) {
            return;
          }
          for (const auto& item : value) {
            parse_rule(item, diags, out);
          }
        } else if (key == "invariants") {
          if (!yaml::expect_list(value, kpos, diags, "invariants")) {
            return;
          }
          for (const auto& item : value) {
            parse_invariant(item, diags, out);
          }
        }
      });
  if (!has_rules) {
    diags.error(source_pos{1, 1}, "the policy has no 'rules' list");
  }
  return out;
}

}  // namespace sovgw::policy
