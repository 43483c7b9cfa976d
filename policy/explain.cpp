#include "policy/explain.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>

#include "policy/compiled_policy.hpp"
#include "policy/request_json.hpp"

namespace sovgw::policy {
namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) {
    out += (out.empty() ? "" : ", ") + s;
  }
  return out;
}

std::string request_value(attribute attr, const request_values& r) {
  switch (attr) {
    case attribute::client_country:
      return r.client_country.empty() ? "unknown" : r.client_country;
    case attribute::client_ip:
      return r.client_ip ? format_ip(*r.client_ip) : "(none)";
    case attribute::tenant:
      return r.tenant.empty() ? "(none)" : r.tenant;
    case attribute::model:
      return r.model.empty() ? "(none)" : r.model;
    case attribute::path:
      return r.path.empty() ? "(none)" : r.path;
    case attribute::method:
      return r.method.empty() ? "(none)" : r.method;
    case attribute::data_class:
      break;  // depends on the rule: see failure_text
  }
  return {};
}

class_view view_of(const compiled_rule& rule) {
  return rule.effect == rule_effect::permit ? class_view::granting : class_view::all;
}

// The first attribute of `rule` the request fails, if any.
std::optional<attribute> first_failure(const compiled_policy& p, const compiled_rule& rule,
                                       const request_values& r) {
  for (std::size_t a = 0; a < attribute_count; ++a) {
    if (!condition_admits(p, rule.when[a], static_cast<attribute>(a), r, view_of(rule))) {
      return static_cast<attribute>(a);
    }
  }
  return std::nullopt;
}

std::string failure_text(const compiled_policy& p, const compiled_rule& rule, attribute attr,
                         const request_values& r) {
  const std::string written = join(rule.when[static_cast<std::size_t>(attr)].written);
  if (attr != attribute::data_class) {
    return fmt::format("{} {} not in [{}]", attribute_name(attr), request_value(attr, r), written);
  }
  std::string text =
      fmt::format("data.class [{}] not in [{}]", join(visible_classes(p, r, view_of(rule))), written);
  std::vector<std::string> ignored;
  if (view_of(rule) == class_view::granting) {
    for (const auto& c : r.declared_classes) {
      if (!p.permit_on_declaration(c) &&
          std::find(r.detected_classes.begin(), r.detected_classes.end(), c) == r.detected_classes.end()) {
        ignored.push_back(c);
      }
    }
  }
  if (!ignored.empty()) {
    text += fmt::format(
        " (declared [{}]: a declaration grants no permit unless the class is "
        "permit_on_declaration)",
        join(ignored));
  }
  return text;
}

std::string route_text(const resolved_route& route) {
  std::string out;
  for (std::size_t a = 0; a < route_attribute_count; ++a) {
    if (route.constrained[a]) {
      out += fmt::format("{}{} in [{}]", out.empty() ? "" : ", ",
                         route_attribute_name(static_cast<route_attribute>(a)), join(route.written[a]));
    }
  }
  return out;
}

std::string cluster_rejection(const compiled_policy& p, const cluster_info& c, const request_values& r,
                              const decision& d) {
  if (!serves_model(c.models, r.model)) {
    return fmt::format("does not serve model {}", r.model);
  }
  for (const auto idx : d.matched_rules) {
    const auto& rule = p.rules[idx];
    if (rule.effect == rule_effect::restrict && !p.route_admits(rule.route, c)) {
      return fmt::format("rejected by {} ({})", rule.id, route_text(rule.route));
    }
  }
  return {};
}

obligations redact_only(std::uint32_t detectors) {
  obligations o;
  o.redact = detectors;
  return o;
}

std::string duties_line(const obligations& o) {
  std::string out;
  const auto names = o.redact_names();
  if (!names.empty()) {
    out = "redact [";
    for (std::size_t i = 0; i < names.size(); ++i) {
      out += (i ? ", " : "") + std::string(names[i]);
    }
    out += "]";
  }
  if (o.log != log_payload::unset) {
    out += fmt::format("{}log_payload {}", out.empty() ? "" : "; ", log_payload_name(o.log));
  }
  return out.empty() ? "none" : out;
}

}  // namespace

std::string obligations_text(const obligations& duties) { return duties_line(duties); }

std::vector<std::string> visible_classes(const compiled_policy& p, const request_values& r, class_view view) {
  std::vector<std::string> out = r.detected_classes;
  for (const auto& c : r.declared_classes) {
    if ((view == class_view::all || p.permit_on_declaration(c)) &&
        std::find(out.begin(), out.end(), c) == out.end()) {
      out.push_back(c);
    }
  }
  return out;
}

bool condition_admits(const compiled_policy& p, const resolved_condition& c, attribute attr,
                      const request_values& r, class_view view) {
  if (!c.constrained) {
    return true;
  }
  switch (attr) {
    case attribute::client_country:
      return c.admits_string(attr, r.client_country);
    case attribute::client_ip:
      return r.client_ip && std::any_of(c.cidrs.begin(), c.cidrs.end(), [&](const cidr_block& b) {
               return b.contains(*r.client_ip) || b.contains_embedded(*r.client_ip);
             });
    case attribute::tenant:
      return c.admits_string(attr, r.tenant);
    case attribute::model:
      return c.admits_string(attr, r.model);
    case attribute::path:
      return c.admits_string(attr, r.path);
    case attribute::method:
      return c.admits_string(attr, r.method);
    case attribute::data_class:
      return std::any_of(r.detected_classes.begin(), r.detected_classes.end(),
                         [&](const std::string& dc) { return c.admits_string(attr, dc); }) ||
             std::any_of(r.declared_classes.begin(), r.declared_classes.end(), [&](const std::string& dc) {
               return (view == class_view::all || p.permit_on_declaration(dc)) && c.admits_string(attr, dc);
             });
  }
  return false;
}

std::string decision_summary(const snapshot& policy, std::span<const cluster_info> clusters,
                             const decision& d) {
  std::vector<std::string> rules;
  for (const auto r : d.matched_rules) {
    rules.emplace_back(policy.rule_id(r));
  }
  if (d.result == effect::deny) {
    return fmt::format("deny ({}) rules [{}]", deny_cause_name(d.cause), join(rules));
  }
  std::vector<std::string> names;
  for (const auto c : d.allowed_clusters) {
    names.push_back(clusters[c].name);
  }
  return fmt::format("permit rules [{}] clusters [{}]", join(rules), clusters.empty() ? "any" : join(names));
}

std::string spelling_change_text(const snapshot& policy, const request_values& request,
                                 std::span<const cluster_info> clusters, const spelling_change& c) {
  std::vector<std::string> parts;
  switch (c.path_form) {
    case path_spelling::as_sent:
      break;
    case path_spelling::lower:
      parts.push_back(fmt::format("path '{}' (lower case of '{}')", c.path, request.path));
      break;
    case path_spelling::lower_slash_add:
      parts.push_back(
          fmt::format("path '{}' ('{}' in lower case, with a trailing slash)", c.path, request.path));
      break;
    case path_spelling::lower_slash_cut:
      parts.push_back(
          fmt::format("path '{}' ('{}' in lower case, without its trailing slash)", c.path, request.path));
      break;
  }
  switch (c.model_form) {
    case model_spelling::as_sent:
      break;
    case model_spelling::lower:
      parts.push_back(fmt::format("model '{}' (lower case of '{}')", c.model, request.model));
      break;
    case model_spelling::base_name:
      parts.push_back(fmt::format("model '{}' (base name of '{}')", c.model, request.model));
      break;
  }
  std::vector<std::string> rules;
  for (const auto r : c.new_rules) {
    rules.push_back(
        fmt::format("{} {}", rule_effect_name(policy.compiled().rules[r].effect), policy.rule_id(r)));
  }
  std::string out = fmt::format("{}: {}", fmt::join(parts, " and "),
                                rules.empty() ? std::string("no new rule matches")
                                              : join(rules) + (rules.size() == 1 ? " matches" : " match"));
  const auto names = [&](const std::vector<std::uint32_t>& indexes) {
    std::vector<std::string> n;
    for (const auto i : indexes) {
      n.push_back(clusters[i].name);
    }
    return "[" + join(n) + "]";
  };
  std::vector<std::string> effects;
  if (c.result == effect::deny && c.cause == deny_cause::forbidden) {
    effects.emplace_back("request denied (forbidden)");
  } else if (c.clusters_after.empty() && !c.clusters_before.empty()) {
    effects.push_back(fmt::format("no cluster left (were {})", names(c.clusters_before)));
  } else if (c.clusters_after != c.clusters_before) {
    effects.push_back("clusters narrowed to " + names(c.clusters_after));
  }
  if (c.redact_added != 0) {
    effects.push_back(fmt::format("obligations add {}", duties_line(redact_only(c.redact_added))));
  }
  if (effects.empty()) {
    effects.emplace_back("its rules join the decision's");
  }
  return out + " -> " + join(effects);
}

namespace {

std::string explain_text_of(const snapshot& policy, const request_values& request,
                            std::span<const cluster_info> clusters, const decision& as_sent,
                            std::span<const spelling_change> spellings, const decision& d,
                            std::string_view geo) {
  const compiled_policy& p = policy.compiled();
  std::string out = fmt::format("policy   {} (version {})\nrequest  {}\n", p.file, p.version.substr(0, 16),
                                request_to_text(request));
  if (!geo.empty()) {
    out += fmt::format("geo      {}\n", geo);
  }
  out += spellings.empty() ? "rules\n" : "rules (the request as sent)\n";
  for (std::uint32_t i = 0; i < p.rules.size(); ++i) {
    const auto& rule = p.rules[i];
    const bool matched = std::find(as_sent.matched_rules.begin(), as_sent.matched_rules.end(), i) !=
                         as_sent.matched_rules.end();
    std::string status = "match";
    if (!matched) {
      const auto fail = first_failure(p, rule, request);
      status = fail ? "no match: " + failure_text(p, rule, *fail, request) : "no match";
      if (std::any_of(spellings.begin(), spellings.end(), [&](const spelling_change& c) {
            return std::find(c.new_rules.begin(), c.new_rules.end(), i) != c.new_rules.end();
          })) {
        status += " (a spelling of the request matches it: below)";
      }
    } else if (rule.effect == rule_effect::restrict) {
      status += ": route " + route_text(rule.route);
    }
    out += fmt::format("  {:<8} {:<32} line {:<4} {}\n", rule_effect_name(rule.effect), rule.id,
                       rule.pos.line, status);
  }
  if (!spellings.empty()) {
    out += "also decided as a cluster may read it\n";
    for (const spelling_change& c : spellings) {
      out += "  " + spelling_change_text(policy, request, clusters, c) + "\n";
    }
  }
  if (!clusters.empty()) {
    out += "clusters\n";
    for (std::uint32_t c = 0; c < clusters.size(); ++c) {
      const bool allowed =
          std::find(d.allowed_clusters.begin(), d.allowed_clusters.end(), c) != d.allowed_clusters.end();
      std::string why = allowed ? "allowed"
                        : d.result == effect::deny && d.cause != deny_cause::no_cluster
                            ? "not considered (request denied)"
                            : cluster_rejection(p, clusters[c], request, d);
      out += fmt::format("  {:<24} {}\n", clusters[c].name, why);
    }
  }
  out += fmt::format("decision {}\n", d.result == effect::permit ? "PERMIT" : "DENY");
  if (d.result == effect::deny) {
    out += fmt::format("  cause: {}\n", deny_cause_name(d.cause));
  }
  out += fmt::format("  reason: {}\n", d.reason);
  std::vector<std::string> rules;
  for (const auto r : d.matched_rules) {
    rules.emplace_back(policy.rule_id(r));
  }
  out += fmt::format("  matched rules: [{}]\n", join(rules));
  if (d.result == effect::permit) {
    std::vector<std::string> names;
    for (const auto c : d.allowed_clusters) {
      names.push_back(clusters[c].name);
    }
    out += fmt::format("  allowed clusters: {}\n",
                       clusters.empty() ? "(no clusters given)" : "[" + join(names) + "]");
    out += fmt::format("  obligations: {}\n", duties_line(d.duties));
  }
  if (d.cause == deny_cause::no_permit) {
    if (d.nearest_permit == no_rule) {
      out += "  nearest permit: none (the policy has no permit rule)\n";
    } else {
      const auto& rule = p.rules[d.nearest_permit];
      out += fmt::format("  nearest permit: {} (line {}) failed on {}\n", rule.id, rule.pos.line,
                         failure_text(p, rule, d.failed_attribute, request));
    }
  }
  return out;
}

boost::json::array cluster_names(std::span<const cluster_info> clusters,
                                 const std::vector<std::uint32_t>& indexes) {
  boost::json::array out;
  for (const auto c : indexes) {
    out.emplace_back(clusters[c].name);
  }
  return out;
}

boost::json::array rule_ids(const snapshot& policy, const std::vector<std::uint32_t>& indexes) {
  boost::json::array out;
  for (const auto r : indexes) {
    out.emplace_back(policy.rule_id(r));
  }
  return out;
}

boost::json::object explain_json_of(const snapshot& policy, const request_values& request,
                                    std::span<const cluster_info> clusters, const decision& d) {
  const compiled_policy& p = policy.compiled();
  boost::json::object o;
  o["policy"] = p.file;
  o["version"] = p.version;
  o["request"] = boost::json::parse(request_to_json(request));
  o["effect"] = d.result == effect::permit ? "permit" : "deny";
  o["cause"] = deny_cause_name(d.cause);
  o["reason"] = d.reason;
  boost::json::array matched;
  for (const auto r : d.matched_rules) {
    matched.emplace_back(policy.rule_id(r));
  }
  o["matched_rules"] = std::move(matched);
  boost::json::array trace;
  for (std::uint32_t i = 0; i < p.rules.size(); ++i) {
    const auto& rule = p.rules[i];
    boost::json::object t;
    t["id"] = rule.id;
    t["effect"] = rule_effect_name(rule.effect);
    t["line"] = rule.pos.line;
    const bool matched_rule =
        std::find(d.matched_rules.begin(), d.matched_rules.end(), i) != d.matched_rules.end();
    t["matched"] = matched_rule;
    if (!matched_rule) {
      if (const auto fail = first_failure(p, rule, request)) {
        t["failed_attribute"] = attribute_name(*fail);
        t["detail"] = failure_text(p, rule, *fail, request);
      }
    }
    trace.emplace_back(std::move(t));
  }
  o["rules"] = std::move(trace);
  boost::json::array allowed;
  for (const auto c : d.allowed_clusters) {
    allowed.emplace_back(clusters[c].name);
  }
  o["allowed_clusters"] = std::move(allowed);
  boost::json::object duties;
  boost::json::array redact;
  for (const auto n : d.duties.redact_names()) {
    redact.emplace_back(n);
  }
  duties["redact"] = std::move(redact);
  duties["log_payload"] = log_payload_name(d.duties.log);
  o["obligations"] = std::move(duties);
  if (d.cause == deny_cause::no_permit && d.nearest_permit != no_rule) {
    const auto& rule = p.rules[d.nearest_permit];
    boost::json::object n;
    n["rule"] = rule.id;
    n["line"] = rule.pos.line;
    n["failed_attribute"] = attribute_name(d.failed_attribute);
    n["detail"] = failure_text(p, rule, d.failed_attribute, request);
    o["nearest_permit"] = std::move(n);
  }
  return o;
}

}  // namespace

std::string explain_text(const snapshot& policy, const request_values& request,
                         std::span<const cluster_info> clusters, const decision& d) {
  return explain_text_of(policy, request, clusters, d, {}, d, {});
}

std::string explain_text(const snapshot& policy, const request_values& request,
                         std::span<const cluster_info> clusters, const gateway_decision& d,
                         std::string_view geo) {
  return explain_text_of(policy, request, clusters, d.as_sent, d.spellings, d.final, geo);
}

std::string explain_json(const snapshot& policy, const request_values& request,
                         std::span<const cluster_info> clusters, const decision& d) {
  return boost::json::serialize(explain_json_of(policy, request, clusters, d)) + "\n";
}

// The final decision at the top level (what the gateway enforces); the rules' trace is the request's
// as sent, `as_sent` its decision, `spellings` what each spelling changed.
std::string explain_json(const snapshot& policy, const request_values& request,
                         std::span<const cluster_info> clusters, const gateway_decision& d,
                         std::string_view geo) {
  boost::json::object o = explain_json_of(policy, request, clusters, d.final);
  auto& rules = o["rules"].as_array();
  for (std::uint32_t i = 0; i < rules.size(); ++i) {
    const bool as_sent = std::find(d.as_sent.matched_rules.begin(), d.as_sent.matched_rules.end(), i) !=
                         d.as_sent.matched_rules.end();
    rules[i].as_object()["matched"] = as_sent;
    if (as_sent) {
      rules[i].as_object().erase("failed_attribute");
      rules[i].as_object().erase("detail");
    } else if (const auto fail = first_failure(policy.compiled(), policy.compiled().rules[i], request)) {
      rules[i].as_object()["failed_attribute"] = attribute_name(*fail);
      rules[i].as_object()["detail"] =
          failure_text(policy.compiled(), policy.compiled().rules[i], *fail, request);
    }
  }
  boost::json::object sent;
  sent["effect"] = d.as_sent.result == effect::permit ? "permit" : "deny";
  sent["cause"] = deny_cause_name(d.as_sent.cause);
  sent["matched_rules"] = rule_ids(policy, d.as_sent.matched_rules);
  sent["allowed_clusters"] = cluster_names(clusters, d.as_sent.allowed_clusters);
  o["as_sent"] = std::move(sent);
  boost::json::array spellings;
  for (const spelling_change& c : d.spellings) {
    boost::json::object v;
    v["path"] = c.path;
    v["model"] = c.model;
    v["effect"] = c.result == effect::permit ? "permit" : "deny";
    v["cause"] = deny_cause_name(c.cause);
    v["new_rules"] = rule_ids(policy, c.new_rules);
    v["clusters_before"] = cluster_names(clusters, c.clusters_before);
    v["clusters_after"] = cluster_names(clusters, c.clusters_after);
    boost::json::array redact;
    for (const auto n : redact_only(c.redact_added).redact_names()) {
      redact.emplace_back(n);
    }
    v["redact_added"] = std::move(redact);
    v["text"] = spelling_change_text(policy, request, clusters, c);
    spellings.emplace_back(std::move(v));
  }
  o["spellings"] = std::move(spellings);
  if (!geo.empty()) {
    o["geo_database"] = geo;
  }
  return boost::json::serialize(o) + "\n";
}

}  // namespace sovgw::policy
