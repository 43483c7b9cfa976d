#pragma once

// Internal helpers for reading YAML with positions (yaml-cpp marks are 0-based; we report 1-based).
#include <yaml-cpp/yaml.h>

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "policy/diagnostics.hpp"
#include "policy/policy_source.hpp"

namespace sovgw::policy::yaml {

inline source_pos pos_of(const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0) {
    return {};
  }
  return {mark.line + 1, mark.column + 1};
}

inline source_pos pos_of(const YAML::Node& node) {
  return node.IsDefined() ? pos_of(node.Mark()) : source_pos{};
}

inline std::string_view type_name(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Null:
      return "empty";
    default:
      return "undefined";
  }
}

// Parses a whole document; on a syntax error reports it and returns an undefined node.
inline YAML::Node load(std::string_view text, diagnostics& diags) {
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::ParserException& e) {
    diags.error(pos_of(e.mark), "YAML syntax error: " + e.msg);
  } catch (const YAML::Exception& e) {
    diags.error(pos_of(e.mark), std::string("YAML error: ") + e.msg);
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

// Iterates a mapping's entries, reporting non-scalar and duplicate keys and keys not in `allowed`
// (when `allowed` is non-empty). fn(key, key_pos, value) is called for each accepted key.
template <typename fn_t>
void for_each_entry(const YAML::Node& map, diagnostics& diags, std::string_view what,
                    const std::vector<std::string_view>& allowed, fn_t&& fn) {
  std::set<std::string, std::less<>> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    const YAML::Node key = it->first;
    const source_pos kpos = pos_of(key);
    if (!key.IsScalar()) {
      diags.error(kpos, "expected a key name in " + std::string(what));
      continue;
    }
    const std::string name = key.Scalar();
    if (!seen.insert(name).second) {
      diags.error(kpos, "duplicate key '" + name + "' in " + std::string(what));
      continue;
    }
    if (!allowed.empty()) {
      bool ok = false;
      for (auto a : allowed) {
        ok = ok || a == name;
      }
      if (!ok) {
        std::string list;
        for (auto a : allowed) {
          list += list.empty() ? "" : ", ";
          list += a;
        }
        diags.error(
            kpos, "unknown key '" + name + "' in " + std::string(what) + " (expected one of: " + list + ")");
        continue;
      }
    }
    fn(name, kpos, it->second);
  }
}

// A scalar, or a list of scalars, as sourced strings. Reports (and returns empty for) anything else,
// including an empty list or null ("empty value set").
inline std::vector<sourced> value_list(const YAML::Node& node, source_pos owner, diagnostics& diags,
                                       std::string_view what) {
  std::vector<sourced> out;
  if (node.IsScalar()) {
    out.push_back({node.Scalar(), pos_of(node)});
    if (out.back().text.empty()) {
      diags.error(pos_of(node), "empty value in " + std::string(what));
      out.clear();
    }
    return out;
  }
  if (node.IsSequence()) {
    for (const auto& item : node) {
      if (!item.IsScalar() || item.Scalar().empty()) {
        diags.error(pos_of(item), "expected a non-empty scalar value in " + std::string(what) + ", got " +
                                      std::string(item.IsScalar() ? "an empty string" : type_name(item)));
        continue;
      }
      out.push_back({item.Scalar(), pos_of(item)});
    }
    if (node.size() == 0) {
      diags.error(pos_of(node).line ? pos_of(node) : owner, "empty value set for " + std::string(what));
    }
    return out;
  }
  diags.error(
      node.IsNull() ? owner : pos_of(node),
      "empty value set for " + std::string(what) +
          (node.IsNull() ? std::string()
                         : " (expected a value or a list, got " + std::string(type_name(node)) + ")"));
  return out;
}

inline bool expect_map(const YAML::Node& node, source_pos owner, diagnostics& diags, std::string_view what) {
  if (node.IsMap()) {
    return true;
  }
  diags.error(node.IsNull() ? owner : pos_of(node),
              std::string(what) + " must be a mapping, got " + std::string(type_name(node)));
  return false;
}

inline bool expect_list(const YAML::Node& node, source_pos owner, diagnostics& diags, std::string_view what) {
  if (node.IsSequence()) {
    return true;
  }
  diags.error(node.IsNull() ? owner : pos_of(node),
              std::string(what) + " must be a list, got " + std::string(type_name(node)));
  return false;
}

inline std::optional<std::string> scalar(const YAML::Node& node, source_pos owner, diagnostics& diags,
                                         std::string_view what) {
  if (node.IsScalar()) {
    return node.Scalar();
  }
  diags.error(node.IsNull() ? owner : pos_of(node),
              std::string(what) + " must be a scalar, got " + std::string(type_name(node)));
  return std::nullopt;
}

}  // namespace sovgw::policy::yaml
