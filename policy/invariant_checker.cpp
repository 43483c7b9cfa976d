#include "policy/invariant_checker.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <set>

#include "common/ascii.hpp"
#include "common/did_you_mean.hpp"
#include "common/utf8.hpp"
#include "policy/compiled_policy.hpp"
#include "policy/explain.hpp"

namespace sovgw::policy {
namespace {

struct class_sets {
  std::vector<std::string> declared;
  std::vector<std::string> detected;
};

struct domain {
  std::vector<std::string> countries;
  std::vector<std::optional<ip_address>> ips;
  std::vector<std::string> tenants;
  std::vector<std::string> models;
  std::vector<std::string> paths;
  std::vector<std::string> methods;
  std::vector<class_sets> classes;
  bool exhaustive = true;
};

std::vector<const resolved_condition*> conditions_of(const compiled_policy& p, attribute a) {
  std::vector<const resolved_condition*> out;
  const auto slot = static_cast<std::size_t>(a);
  for (const auto& r : p.rules) {
    if (r.when[slot].constrained) {
      out.push_back(&r.when[slot]);
    }
  }
  for (const auto& inv : p.invariants) {
    if (inv.when[slot].constrained) {
      out.push_back(&inv.when[slot]);
    }
  }
  return out;
}

std::vector<std::string> country_classes(const compiled_policy& p) {
  const auto conds = conditions_of(p, attribute::client_country);
  std::map<std::string, std::string> by_signature;
  std::vector<std::string> out;
  const auto consider = [&](country_id id) {
    std::string sig;
    for (const auto* c : conds) {
      sig.push_back(c->countries->test(id) ? '1' : '0');
    }
    if (by_signature.emplace(sig, country_name(id)).second) {
      out.push_back(country_name(id));
    }
  };
  const country_set& all = all_countries();
  for (std::size_t id = all._Find_first(); id < country_slots; id = all._Find_next(id)) {
    consider(static_cast<country_id>(id));
  }
  consider(*pack_country("AP"));  // a code geo data returns that ISO does not assign
  return out;
}

template <typename key_t>
void add_ip_classes(const std::vector<const resolved_condition*>& conds, bool v4,
                    std::vector<std::optional<ip_address>>& out) {
  std::vector<key_t> bounds;
  for (const auto* c : conds) {
    for (const auto& b : c->cidrs) {
      if (b.base.v4 != v4) {
        continue;
      }
      bounds.push_back(static_cast<key_t>(b.first()));
      if (static_cast<key_t>(b.last()) != static_cast<key_t>(~key_t{0})) {
        bounds.push_back(static_cast<key_t>(b.last() + 1));
      }
    }
  }
  if (bounds.empty()) {
    return;
  }
  bounds.push_back(0);
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  for (const key_t b : bounds) {
    out.push_back(ip_address{b, v4});
  }
}

// An IPv6 address that carries an IPv4 one (find_embedded_ipv4) matches the IPv4 blocks holding
// that address as well as the IPv6 blocks holding itself (decide). Where no IPv6 block reaches
// into an embedding range it decides as its IPv4 address does, which the IPv4 classes cover; where
// one does (a rule on 2002::/16, or on ::/0), each IPv4 class (ips[1..v4_end)) is tried in that
// form too, so that a rule on the IPv6 range and one on an IPv4 block can meet.
void add_embedding_classes(const std::vector<const resolved_condition*>& conds, std::size_t v4_end,
                           std::vector<std::optional<ip_address>>& out) {
  struct form {
    cidr_block range;
    u128 (*embed)(u128 v4);
  };
  static const form forms[] = {
      {{{u128{0xffff0000} << 32, false}, 96}, [](u128 a) { return (u128{0xffff0000} << 32) | a; }},
      {{{0, false}, 96}, [](u128 a) { return a; }},
      {{{u128{0x0064ff9b} << 96, false}, 96}, [](u128 a) { return (u128{0x0064ff9b} << 96) | a; }},
      {{{u128{0x2002} << 112, false}, 16}, [](u128 a) { return (u128{0x2002} << 112) | (a << 80); }},
      {{{u128{0x20010000} << 96, false}, 32},
       [](u128 a) { return (u128{0x20010000} << 96) | (~a & 0xffffffffu); }},
  };
  const std::size_t v6_end = out.size();
  for (const form& f : forms) {
    const bool reached = std::any_of(conds.begin(), conds.end(), [&](const resolved_condition* c) {
      return std::any_of(c->cidrs.begin(), c->cidrs.end(), [&](const cidr_block& b) {
        return !b.base.v4 && (b.contains(f.range) || f.range.contains(b));
      });
    });
    for (std::size_t i = 1; reached && i < v4_end && i < v6_end; ++i) {
      out.push_back(ip_address{f.embed(out[i]->value), false});
    }
  }
}

std::vector<std::string> string_classes(const compiled_policy& p, attribute a, const char* const* others,
                                        bool& exhaustive) {
  const auto conds = conditions_of(p, a);
  std::set<std::string> exact;
  std::vector<glob_pattern> globs;
  for (const auto* c : conds) {
    exact.insert(c->exact.begin(), c->exact.end());
    for (const auto& g : c->globs) {
      globs.push_back(g);
      exhaustive = exhaustive && (g.is_prefix() || g.text() == "*");
    }
  }
  std::vector<std::string> out(exact.begin(), exact.end());
  if (conds.empty()) {
    return {""};
  }
  const auto deepest_prefix = [&](const std::string& s) {
    std::size_t best = std::string::npos;
    for (std::size_t i = 0; i < globs.size(); ++i) {
      if (globs[i].matches(s) && (best == std::string::npos ||
                                  globs[i].literal_prefix().size() > globs[best].literal_prefix().size())) {
        best = i;
      }
    }
    return best;
  };
  for (std::size_t i = 0; i < globs.size(); ++i) {
    for (const char fill : {'~', '_', 'x'}) {
      const std::string sample = globs[i].sample(fill);
      const auto deepest = deepest_prefix(sample);
      if (!exact.count(sample) && deepest != std::string::npos &&
          globs[deepest].literal_prefix() == globs[i].literal_prefix()) {
        if (std::find(out.begin(), out.end(), sample) == out.end()) {
          out.push_back(sample);
        }
        break;
      }
    }
  }
  for (const char* const* o = others; *o; ++o) {
    const std::string other = *o;
    if (!exact.count(other) &&
        std::none_of(globs.begin(), globs.end(), [&](const glob_pattern& g) { return g.matches(other); })) {
      out.push_back(other);
      break;
    }
  }
  return out;
}

// How a request can carry a data class: not at all, declared by the client (who may claim any set
// of classes it likes), or detected in the body (only when some detector finds the class). For a
// permit_on_declaration class a declaration already counts like detection, so two states suffice.
enum class class_state : std::uint8_t { absent, declared, detected };

std::vector<class_state> states_of(const compiled_policy& p, const std::string& name) {
  const std::uint32_t c = p.data_class_index.at(name);
  if (p.data_class_detectors[c] != 0 && !p.data_class_permit_on_declaration[c]) {
    return {class_state::absent, class_state::declared, class_state::detected};
  }
  return {class_state::absent, class_state::declared};
}

class_sets with_states(const std::vector<std::string>& names, const std::vector<class_state>& states) {
  class_sets out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (states[i] == class_state::declared) {
      out.declared.push_back(names[i]);
    } else if (states[i] == class_state::detected) {
      out.detected.push_back(names[i]);
    }
  }
  return out;
}

// Every combination of the states of the classes the policy mentions while there are at most 4096;
// beyond that a sample: each class alone and each pair in each of their states, all declared, all
// in their strongest state.
std::vector<class_sets> data_class_states(const compiled_policy& p, bool& exhaustive) {
  std::set<std::string> mentioned;
  for (const auto* c : conditions_of(p, attribute::data_class)) {
    mentioned.insert(c->exact.begin(), c->exact.end());
  }
  const std::vector<std::string> names(mentioned.begin(), mentioned.end());
  std::vector<std::vector<class_state>> options;
  std::uint64_t combinations = 1;
  for (const auto& n : names) {
    options.push_back(states_of(p, n));
    combinations = std::min<std::uint64_t>(combinations * options.back().size(), 1u << 20);
  }
  std::vector<class_sets> out;
  std::vector<class_state> states(names.size(), class_state::absent);
  if (combinations <= 4096) {
    std::vector<std::size_t> at(names.size(), 0);
    for (std::uint64_t n = 0; n < combinations; ++n) {
      for (std::size_t i = 0; i < names.size(); ++i) {
        states[i] = options[i][at[i]];
      }
      out.push_back(with_states(names, states));
      for (std::size_t k = names.size(); k-- > 0;) {
        if (++at[k] < options[k].size()) {
          break;
        }
        at[k] = 0;
      }
    }
    return out;
  }
  exhaustive = false;
  out.push_back({});
  for (std::size_t i = 0; i < names.size(); ++i) {
    for (const class_state si : options[i]) {
      for (std::size_t j = i; j < names.size(); ++j) {
        for (const class_state sj : j == i ? std::vector<class_state>{si} : options[j]) {
          if (si == class_state::absent || sj == class_state::absent) {
            continue;
          }
          std::fill(states.begin(), states.end(), class_state::absent);
          states[i] = si;
          states[j] = sj;
          out.push_back(with_states(names, states));
        }
      }
    }
  }
  std::fill(states.begin(), states.end(), class_state::declared);
  out.push_back(with_states(names, states));
  for (std::size_t i = 0; i < names.size(); ++i) {
    states[i] = options[i].back();
  }
  out.push_back(with_states(names, states));
  return out;
}

domain build_domain(const compiled_policy& p) {
  domain d;
  d.countries = country_classes(p);
  d.ips.push_back(std::nullopt);
  const auto ip_conds = conditions_of(p, attribute::client_ip);
  add_ip_classes<std::uint32_t>(ip_conds, true, d.ips);
  const std::size_t v4_end = d.ips.size();
  add_ip_classes<u128>(ip_conds, false, d.ips);
  add_embedding_classes(ip_conds, v4_end, d.ips);
  static const char* const tenant_others[] = {"(other)", nullptr};
  static const char* const model_others[] = {"(other)", "~", nullptr};
  static const char* const path_others[] = {"/(other)", "/~", nullptr};
  static const char* const method_others[] = {"TRACE", nullptr};
  d.tenants = string_classes(p, attribute::tenant, tenant_others, d.exhaustive);
  d.models = string_classes(p, attribute::model, model_others, d.exhaustive);
  d.paths = string_classes(p, attribute::path, path_others, d.exhaustive);
  d.methods = string_classes(p, attribute::method, method_others, d.exhaustive);
  d.classes = data_class_states(p, d.exhaustive);
  return d;
}

// With clusters, the models also fall into classes by which clusters serve them: every exact model
// a cluster names, a sample of each of its globs, and a model no cluster serves (denied no_cluster,
// which a permit invariant must see).
void add_cluster_models(std::span<const cluster_info> clusters, std::vector<std::string>& models) {
  const auto add = [&](std::string model) {
    if (std::find(models.begin(), models.end(), model) == models.end()) {
      models.push_back(std::move(model));
    }
  };
  for (const cluster_info& c : clusters) {
    for (const std::string& m : c.models) {
      add(glob_pattern::is_glob(m) ? glob_pattern(m).sample('~') : m);
    }
  }
  for (const char* unserved : {"(unserved)", "~", "(unserved)~"}) {
    if (std::none_of(clusters.begin(), clusters.end(),
                     [&](const cluster_info& c) { return serves_model(c.models, unserved); })) {
      add(unserved);
      return;
    }
  }
}

// The values an invariant's `for` admits. On data.class it admits a request whether the class is
// declared or detected (class_view::all).
template <typename value_t, typename setter_t>
std::vector<value_t> filter(const compiled_policy& p, const std::vector<value_t>& values,
                            const resolved_condition& cond, attribute a, setter_t&& set) {
  std::vector<value_t> out;
  for (const auto& v : values) {
    request_values r;
    set(r, v);
    if (condition_admits(p, cond, a, r, class_view::all)) {
      out.push_back(v);
    }
  }
  return out;
}

std::string names_of(const std::set<std::string>& s) {
  std::string out;
  for (const auto& v : s) {
    out += (out.empty() ? "" : ", ") + v;
  }
  return out;
}

std::string countries_text(const country_set& s) {
  std::string out;
  for (std::size_t id = s._Find_first(); id < country_slots; id = s._Find_next(id)) {
    out += (out.empty() ? "" : ", ") + country_name(static_cast<country_id>(id));
  }
  return out;
}

// Symbolic route check: the intersection of the matched restricts must lie inside the requirement.
std::string symbolic_route_violation(const compiled_policy& p, const resolved_route& need,
                                     const decision& d) {
  for (std::size_t a = 0; a < route_attribute_count; ++a) {
    if (!need.constrained[a]) {
      continue;
    }
    const auto attr = static_cast<route_attribute>(a);
    bool any = false;
    country_set countries;
    std::set<std::string> names;
    for (const auto r : d.matched_rules) {
      const auto& rule = p.rules[r];
      if (rule.effect != rule_effect::restrict || !rule.route.constrained[a]) {
        continue;
      }
      if (attr == route_attribute::country || attr == route_attribute::jurisdiction) {
        const auto& s = attr == route_attribute::country ? *rule.route.countries : *rule.route.jurisdictions;
        countries = any ? (countries & s) : s;
      } else {
        const auto& list = attr == route_attribute::cluster ? rule.route.clusters : rule.route.regions;
        std::set<std::string> next(list.begin(), list.end());
        if (any) {
          std::set<std::string> both;
          std::set_intersection(names.begin(), names.end(), next.begin(), next.end(),
                                std::inserter(both, both.end()));
          next = std::move(both);
        }
        names = std::move(next);
      }
      any = true;
    }
    const std::string attr_name(route_attribute_name(attr));
    if (!any) {
      return fmt::format("no matched restrict rule constrains {}: the request may be routed to any cluster",
                         attr_name);
    }
    if (attr == route_attribute::country || attr == route_attribute::jurisdiction) {
      const auto& allowed = attr == route_attribute::country ? *need.countries : *need.jurisdictions;
      const country_set outside = countries & ~allowed;
      if (outside.any()) {
        return fmt::format("{} may be {} (outside [{}])", attr_name, countries_text(outside),
                           fmt::join(need.written[a], ", "));
      }
    } else {
      const auto& allowed = attr == route_attribute::cluster ? need.clusters : need.regions;
      std::set<std::string> outside;
      for (const auto& n : names) {
        if (std::find(allowed.begin(), allowed.end(), n) == allowed.end()) {
          outside.insert(n);
        }
      }
      if (!outside.empty()) {
        return fmt::format("{} may be {} (outside [{}])", attr_name, names_of(outside),
                           fmt::join(need.written[a], ", "));
      }
    }
  }
  return {};
}

std::string violation_of(const compiled_policy& p, const compiled_invariant& inv,
                         std::span<const cluster_info> clusters, const decision& d) {
  if (inv.require_effect == effect::deny && d.result == effect::permit) {
    return "the request is permitted";
  }
  if (inv.require_effect == effect::permit && d.result == effect::deny) {
    return fmt::format("the request is denied ({})", deny_cause_name(d.cause));
  }
  if (!inv.has_route || d.result != effect::permit) {
    return {};
  }
  if (clusters.empty()) {
    return symbolic_route_violation(p, inv.require_route, d);
  }
  for (const auto c : d.allowed_clusters) {
    const auto& cluster = clusters[c];
    if (!p.route_admits(inv.require_route, cluster)) {
      return fmt::format(
          "the request may be routed to cluster {} (country {}, region {}, operator_jurisdiction {})",
          cluster.name, cluster.country, cluster.region.empty() ? "-" : cluster.region,
          cluster.operator_jurisdiction);
    }
  }
  return {};
}

invariant_result check_one(const snapshot& policy, const domain& dom, const compiled_invariant& inv,
                           std::span<const cluster_info> clusters, std::uint64_t max_classes,
                           const std::stop_token& stop) {
  const compiled_policy& p = policy.compiled();
  invariant_result result;
  result.id = inv.id;
  result.pos = inv.pos;
  result.exhaustive = dom.exhaustive;
  const auto countries = filter(p, dom.countries, inv.when[0], attribute::client_country,
                                [](request_values& r, const std::string& v) { r.client_country = v; });
  const auto ips = filter(p, dom.ips, inv.when[1], attribute::client_ip,
                          [](request_values& r, const std::optional<ip_address>& v) { r.client_ip = v; });
  const auto tenants = filter(p, dom.tenants, inv.when[2], attribute::tenant,
                              [](request_values& r, const std::string& v) { r.tenant = v; });
  const auto models = filter(p, dom.models, inv.when[3], attribute::model,
                             [](request_values& r, const std::string& v) { r.model = v; });
  const auto paths = filter(p, dom.paths, inv.when[4], attribute::path,
                            [](request_values& r, const std::string& v) { r.path = v; });
  const auto methods = filter(p, dom.methods, inv.when[5], attribute::method,
                              [](request_values& r, const std::string& v) { r.method = v; });
  const auto classes =
      filter(p, dom.classes, inv.when[6], attribute::data_class, [](request_values& r, const class_sets& v) {
        r.declared_classes = v.declared;
        r.detected_classes = v.detected;
      });
  const std::array<std::size_t, attribute_count> sizes = {countries.size(), ips.size(),   tenants.size(),
                                                          models.size(),    paths.size(), methods.size(),
                                                          classes.size()};
  std::uint64_t total = 1;
  for (const auto s : sizes) {
    total = s == 0 ? 0 : (total > max_classes ? total : total * s);
  }
  if (total > max_classes) {
    result.too_large = true;
    result.classes_checked = 0;
    return result;
  }
  std::array<std::size_t, attribute_count> at{};
  request_values r;
  std::vector<std::string_view> class_storage;
  decision d;
  for (std::uint64_t n = 0; n < total; ++n) {
    if (n % 4096 == 0 && stop.stop_requested()) {
      result.cancelled = true;
      return result;
    }
    r.client_country = countries[at[0]];
    r.client_ip = ips[at[1]];
    r.tenant = tenants[at[2]];
    r.model = models[at[3]];
    r.path = paths[at[4]];
    r.method = methods[at[5]];
    r.declared_classes = classes[at[6]].declared;
    r.detected_classes = classes[at[6]].detected;
    policy.decide(r.view(class_storage), clusters, d);
    ++result.classes_checked;
    std::string why = violation_of(p, inv, clusters, d);
    if (!why.empty()) {
      result.counterexample = r;
      result.violation = std::move(why);
      result.decision = decision_summary(policy, clusters, d);
      return result;
    }
    for (std::size_t k = attribute_count; k-- > 0;) {
      if (++at[k] < sizes[k]) {
        break;
      }
      at[k] = 0;
    }
  }
  result.holds = true;
  return result;
}

}  // namespace

std::vector<invariant_result> check_invariants(const snapshot& policy, std::span<const cluster_info> clusters,
                                               std::uint64_t max_classes, std::stop_token stop) {
  const compiled_policy& p = policy.compiled();
  std::vector<invariant_result> out;
  if (p.invariants.empty()) {
    return out;
  }
  domain dom = build_domain(p);
  if (!clusters.empty()) {
    add_cluster_models(clusters, dom.models);
  }
  for (const auto& inv : p.invariants) {
    out.push_back(check_one(policy, dom, inv, clusters, max_classes, stop));
    if (out.back().cancelled) {
      break;
    }
  }
  return out;
}

namespace {

// Whether a model pattern a rule names and one a cluster serves (exact names or globs) may meet
// in some request: a glob against a name by matching; two globs when their literal beginnings
// agree (a coarse test: it errs towards "they may").
bool may_meet(std::string_view rule_model, std::string_view cluster_model) {
  const bool rule_glob = glob_pattern::is_glob(rule_model);
  const bool cluster_glob = glob_pattern::is_glob(cluster_model);
  if (!rule_glob || !cluster_glob) {
    return rule_glob ? glob_or_exact_match(rule_model, cluster_model)
                     : glob_or_exact_match(cluster_model, rule_model);
  }
  const std::string_view a = rule_model.substr(0, rule_model.find_first_of("*?"));
  const std::string_view b = cluster_model.substr(0, cluster_model.find_first_of("*?"));
  return a.starts_with(b) || b.starts_with(a);
}

// "; did you mean 'gpt-4o'?" when `model` looks like a typo of a model a cluster serves: one edit
// apart, or the same letters with two swapped ("gtp-4o"); globs compared without their wildcards.
// Closer than did_you_mean's two edits, which would take a safeguard for a model not served yet
// ("gpt-5") for a typo of one that is ("gpt-4o").
std::string typo_of(const std::string& model, std::span<const cluster_info> clusters) {
  const auto bare = [](std::string s) {
    s.erase(std::remove_if(s.begin(), s.end(), [](char c) { return c == '*' || c == '?'; }), s.end());
    return s;
  };
  const std::string a = bare(ascii_lowered(model));
  for (const cluster_info& c : clusters) {
    for (const std::string& served : c.models) {
      const std::string b = bare(ascii_lowered(served));
      const std::size_t d = edit_distance(a, b);
      bool swapped = false;
      if (d == 2 && a.size() == b.size()) {
        std::string sa = a;
        std::string sb = b;
        std::sort(sa.begin(), sa.end());
        std::sort(sb.begin(), sb.end());
        swapped = sa == sb;
      }
      if (!b.empty() && (d == 1 || swapped)) {
        return fmt::format("; did you mean '{}'?", served);
      }
    }
  }
  return {};
}

// Warnings for the models a rule names:
//  - one no configured cluster serves: a permit for it denies (no_cluster); a forbid or restrict
//    naming one that a cluster serves in another letter case never applies to a request a cluster
//    serves, which is how a model written in the wrong case (models are compared exactly) silently
//    drops a rule and its obligations. Globs, forbids and restricts are otherwise left alone: a
//    pattern may match a model a cluster will serve later, and a forbid for a model nobody serves
//    is a safeguard;
//  - a restrict whose route admits none of the clusters that serve a model it names. A restrict
//    whose route admits no cluster at all is already an error of its own (lint_clusters), so it
//    gets no warning per model.
void lint_rule_models(const compiled_policy& p, const compiled_rule& rule,
                      std::span<const cluster_info> clusters, std::vector<diagnostic>& out) {
  const resolved_condition& models = rule.when[static_cast<std::size_t>(attribute::model)];
  const auto serving = [&](const std::string& model, bool admitted_only) {
    return std::any_of(clusters.begin(), clusters.end(), [&](const cluster_info& c) {
      return std::any_of(c.models.begin(), c.models.end(),
                         [&](const std::string& m) { return may_meet(model, m); }) &&
             (!admitted_only || p.route_admits(rule.route, c));
    });
  };
  // A model a cluster serves that `model` names in another letter case, if any.
  const auto other_case = [&](const std::string& model) -> std::string {
    const std::string low = ascii_lowered(model);
    for (const cluster_info& c : clusters) {
      for (const std::string& m : c.models) {
        if (may_meet(low, ascii_lowered(m))) {
          return m;
        }
      }
    }
    return {};
  };
  const bool route_admits_any = std::any_of(
      clusters.begin(), clusters.end(), [&](const cluster_info& c) { return p.route_admits(rule.route, c); });
  for (std::size_t i = 0; i < models.written.size(); ++i) {
    const std::string& model = models.written[i];
    if (!serving(model, false)) {
      const std::string near = other_case(model);
      // A typo: a model that a cluster serves is a letter or two away (probe round 29: a restrict on
      // 'gtp-4o' let gpt-4o go anywhere, without a word). A restrict for a model nobody serves
      // restricts nothing, whatever its spelling; a forbid may be a safeguard for a model served
      // later, so it is named only when it looks like a typo.
      const std::string typo = near.empty() ? typo_of(model, clusters) : std::string();
      const bool warn = !near.empty() || !typo.empty() ||
                        (rule.effect == rule_effect::permit && !glob_pattern::is_glob(model)) ||
                        rule.effect == rule_effect::restrict;
      if (!warn) {
        continue;
      }
      const std::string hint =
          !near.empty()
              ? fmt::format(" (models are compared exactly, in their letter case: a cluster serves '{}')", near)
              : typo;
      out.push_back(
          {p.file, models.positions[i], severity::warning,
           rule.effect == rule_effect::permit
               ? fmt::format("permit rule '{}' names model '{}', which no configured cluster serves: "
                             "requests for it are denied (no_cluster){}",
                             rule.id, model, hint)
               : fmt::format("{} rule '{}' names model '{}', which no configured cluster serves: the "
                             "rule never applies to a request a cluster serves{}",
                             rule_effect_name(rule.effect), rule.id, model, hint)});
    } else if (rule.effect == rule_effect::restrict && route_admits_any && !glob_pattern::is_glob(model) &&
               !serving(model, true)) {
      out.push_back(
          {p.file, models.positions[i], severity::warning,
           fmt::format("restrict rule '{}': no configured cluster that serves '{}' is admitted by its "
                       "route, so the requests for it this rule matches are always denied "
                       "(no_cluster); a forbid says so plainly",
                       rule.id, model)});
    }
  }
  // A region no cluster is in: a route that names it admits fewer clusters than it says.
  const auto slot = static_cast<std::size_t>(route_attribute::region);
  for (std::size_t i = 0; i < rule.route.written[slot].size(); ++i) {
    const std::string& region = rule.route.written[slot][i];
    if (std::none_of(clusters.begin(), clusters.end(),
                     [&](const cluster_info& c) { return c.region == region; })) {
      out.push_back({p.file, rule.route.positions[slot][i], severity::warning,
                     fmt::format("route of rule '{}' names region '{}', which no configured cluster is in{}",
                                 rule.id, region, non_ascii_note(region))});
    }
  }
}

// Restricts that every request meets (no `when`) intersect: when each admits some cluster but
// together they admit none, every request is denied. The error is at the rule that closes the last
// cluster; a single restrict that admits none is lint_clusters' own error, reported once there.
// A restrict with a `when` meets them too: when it admits clusters but none of theirs, every
// request it matches is denied (a warning: a forbid says so plainly; probe round 22, a tenant's
// pin copied as `cluster.country: [US]` beside an EEA-only restrict denied the tenant everything).
void lint_unconditional_restricts(const compiled_policy& p, std::span<const cluster_info> clusters,
                                  std::vector<diagnostic>& out) {
  std::vector<bool> open(clusters.size(), true);
  std::vector<std::string> ids;
  for (const auto& rule : p.rules) {
    const bool every_request = std::none_of(rule.when.begin(), rule.when.end(),
                                            [](const resolved_condition& c) { return c.constrained; });
    if (rule.effect != rule_effect::restrict || !every_request) {
      continue;
    }
    ids.push_back(fmt::format("'{}'", rule.id));
    bool open_before = false;
    bool open_after = false;
    bool admits_alone = false;
    for (std::size_t c = 0; c < clusters.size(); ++c) {
      const bool admits = p.route_admits(rule.route, clusters[c]);
      admits_alone = admits_alone || admits;
      open_before = open_before || open[c];
      open[c] = open[c] && admits;
      open_after = open_after || open[c];
    }
    if (open_before && !open_after && admits_alone) {
      out.push_back({p.file, rule.pos, severity::error,
                     fmt::format("restrict rules {} apply to every request and together admit none of the {} "
                                 "configured clusters: every request is denied (no_cluster)",
                                 fmt::join(ids, ", "), clusters.size())});
    }
  }
  if (ids.empty() || std::none_of(open.begin(), open.end(), [](bool o) { return o; })) {
    return;  // none, or they deny everything already (the error above)
  }
  for (const auto& rule : p.rules) {
    const bool conditional = std::any_of(rule.when.begin(), rule.when.end(),
                                         [](const resolved_condition& c) { return c.constrained; });
    if (rule.effect != rule_effect::restrict || !conditional) {
      continue;
    }
    bool admits_alone = false;
    bool admits_with = false;
    for (std::size_t c = 0; c < clusters.size(); ++c) {
      const bool admits = p.route_admits(rule.route, clusters[c]);
      admits_alone = admits_alone || admits;
      admits_with = admits_with || (admits && open[c]);
    }
    if (admits_alone && !admits_with) {
      out.push_back(
          {p.file, rule.pos, severity::warning,
           fmt::format("restrict rule '{}' admits none of the clusters that {} {} admit{} for every "
                       "request: every request it matches is denied (no_cluster); a forbid says "
                       "so plainly",
                       rule.id, ids.size() == 1 ? "rule" : "rules", fmt::join(ids, ", "),
                       ids.size() == 1 ? "s" : "")});
    }
  }
}

}  // namespace

std::vector<diagnostic> lint_clusters(const snapshot& policy, std::span<const cluster_info> clusters) {
  const compiled_policy& p = policy.compiled();
  std::vector<diagnostic> out;
  for (const auto& rule : p.rules) {
    if (rule.effect != rule_effect::restrict) {
      continue;
    }
    const auto slot = static_cast<std::size_t>(route_attribute::cluster);
    bool unknown_name = false;
    for (std::size_t i = 0; i < rule.route.clusters.size(); ++i) {
      const std::string& name = rule.route.clusters[i];
      const bool known = std::any_of(clusters.begin(), clusters.end(),
                                     [&](const cluster_info& c) { return c.name == name; });
      if (!known) {
        unknown_name = true;
        std::vector<std::string> names;
        for (const cluster_info& c : clusters) {
          names.push_back(c.name);
        }
        out.push_back(
            {p.file, rule.route.positions[slot][i], severity::error,
             fmt::format("route of rule '{}' names cluster '{}', which the config does not define{}{}",
                         rule.id, name, non_ascii_note(name), did_you_mean(name, names))});
      }
    }
    // A misspelled cluster name is the one mistake: that the route then admits nothing is its
    // consequence, said first (at the rule's line) it would hide the cause (probe round 25).
    const bool any = std::any_of(clusters.begin(), clusters.end(),
                                 [&](const cluster_info& c) { return p.route_admits(rule.route, c); });
    if (!any && !unknown_name) {
      out.push_back({p.file, rule.pos, severity::error,
                     fmt::format("route of restrict rule '{}' admits none of the {} configured clusters",
                                 rule.id, clusters.size())});
    }
  }
  for (const auto& rule : p.rules) {
    lint_rule_models(p, rule, clusters, out);
  }
  // An invariant about models no cluster serves holds over no request a cluster serves: "proved"
  // says nothing (probe round 29: 'gtp-4o' for gpt-4o was proved, while gpt-4o went to the US).
  for (const compiled_invariant& inv : p.invariants) {
    const resolved_condition& models = inv.when[static_cast<std::size_t>(attribute::model)];
    if (!models.constrained || models.written.empty()) {
      continue;
    }
    const bool any_served = std::any_of(models.written.begin(), models.written.end(), [&](const std::string& m) {
      return std::any_of(clusters.begin(), clusters.end(), [&](const cluster_info& c) {
        return std::any_of(c.models.begin(), c.models.end(),
                           [&](const std::string& served) { return may_meet(m, served); });
      });
    });
    if (!any_served) {
      out.push_back({p.file, models.positions[0], severity::warning,
                     fmt::format("invariant '{}' is about model{} {}, which no configured cluster serves: it "
                                 "holds vacuously, over no request a cluster serves{}",
                                 inv.id, models.written.size() == 1 ? "" : "s",
                                 fmt::format("'{}'", fmt::join(models.written, "', '")),
                                 typo_of(models.written[0], clusters))});
    }
  }
  lint_unconditional_restricts(p, clusters, out);
  return out;
}

}  // namespace sovgw::policy
