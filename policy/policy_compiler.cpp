#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "common/ascii.hpp"
#include "common/model_alias.hpp"
#include "common/regular_file.hpp"
#include "common/tenant_name.hpp"
#include "common/utf8.hpp"
#include "crypto/hex.hpp"
#include "crypto/sha256.hpp"
#include "policy/compiled_policy.hpp"
#include "policy/geo_db.hpp"
#include "policy/policy.hpp"
#include "policy/request_json.hpp"
#include "policy/special_purpose.hpp"

namespace sovgw::policy {
namespace {

bool valid_identifier(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == ':';
  });
}

bool valid_set_name(std::string_view s) {
  return s.size() >= 3 && s[0] >= 'A' && s[0] <= 'Z' && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
         });
}

std::string at_line(source_pos pos) { return "line " + std::to_string(pos.line); }

class compiler {
 public:
  compiler(const policy_source& src, diagnostics& diags) : src_(src), diags_(diags) {}

  std::unique_ptr<compiled_policy> run() {
    out_ = std::make_unique<compiled_policy>();
    out_->country_sets.emplace("EU", eu_countries());
    out_->country_sets.emplace("EEA", eea_countries());
    resolve_country_sets();
    resolve_data_classes();
    for (const auto& rule : src_.rules) {
      compile_rule(rule);
    }
    check_unreachable();
    for (const auto& inv : src_.invariants) {
      compile_invariant(inv);
    }
    return std::move(out_);
  }

 private:
  // --- country sets -------------------------------------------------------------------------------
  void resolve_country_sets() {
    for (std::size_t i = 0; i < src_.country_sets.size(); ++i) {
      const auto& set = src_.country_sets[i];
      if (set.name.text == "EU" || set.name.text == "EEA") {
        diags_.error(set.name.pos, "country set '" + set.name.text + "' is built in and cannot be redefined");
      } else if (!valid_set_name(set.name.text)) {
        diags_.error(set.name.pos, "country set name '" + set.name.text +
                                       "' must be upper case letters, digits or '_', at least 3 characters");
      } else {
        set_index_.emplace(set.name.text, i);
      }
    }
    std::vector<int> state(src_.country_sets.size(), 0);
    for (const auto& [name, index] : set_index_) {
      std::vector<std::string> chain;
      resolve_set(index, state, chain);
    }
  }

  country_set resolve_set(std::size_t index, std::vector<int>& state, std::vector<std::string>& chain) {
    const auto& set = src_.country_sets[index];
    if (state[index] == 2) {
      return out_->country_sets.at(set.name.text);
    }
    if (state[index] == 1) {
      return {};
    }
    state[index] = 1;
    chain.push_back(set.name.text);
    country_set result;
    for (const auto& member : set.members) {
      const auto it = set_index_.find(member.text);
      if (it != set_index_.end() && state[it->second] == 1) {
        std::string path;
        for (const auto& c : chain) {
          path += c + " -> ";
        }
        diags_.error(member.pos,
                     "country set '" + set.name.text + "' includes itself (" + path + member.text + ")");
        continue;
      }
      if (it != set_index_.end()) {
        result |= resolve_set(it->second, state, chain);
        continue;
      }
      if (auto c = country_value(member, true)) {
        result |= *c;
      }
    }
    chain.pop_back();
    state[index] = 2;
    out_->country_sets[set.name.text] = result;
    return result;
  }

  // A country code, `private`/`unknown` (when allowed), a built-in set or a resolved policy set.
  std::optional<country_set> country_value(const sourced& v, bool allow_special) {
    if (const auto it = out_->country_sets.find(v.text); it != out_->country_sets.end()) {
      return it->second;
    }
    if (set_index_.count(v.text)) {
      return country_set{};  // a set still being resolved: its cycle is reported there
    }
    const auto id = pack_country(v.text);
    if (id && (*id >= country_private ? allow_special : is_assigned_country(*id))) {
      country_set s;
      s.set(*id);
      return s;
    }
    if (id && *id >= country_private) {
      diags_.error(v.pos,
                   "'" + v.text + "' is not allowed here (only client.country may be private or unknown)");
    } else if (v.text.size() == 2) {
      diags_.error(v.pos, "unknown country code '" + v.text + "' (not an ISO 3166-1 alpha-2 code" +
                              std::string(country_code_hint(v.text)) + ")" + non_ascii_note(v.text));
    } else {
      // A country's name is the likeliest mistake here (probe round 35: `Russia`).
      diags_.error(v.pos, "unknown country set '" + v.text +
                              "' (a country is written as its ISO 3166-1 alpha-2 code, such as RU; sets "
                              "built in: EU, EEA; define others under country_sets)" +
                              non_ascii_note(v.text));
    }
    return std::nullopt;
  }

  // --- data classes -------------------------------------------------------------------------------
  void resolve_data_classes() {
    std::map<std::string, source_pos> headers;
    for (const auto& dc : src_.data_classes) {
      if (!valid_identifier(dc.name.text)) {
        diags_.error(dc.name.pos,
                     "data class name '" + dc.name.text + "' must be letters, digits, '_', '-' or '.'");
        continue;
      }
      if (const auto [it, fresh] = headers.emplace(dc.header, dc.name.pos); !fresh) {
        diags_.error(dc.name.pos, "data class '" + dc.name.text + "' uses header value '" + dc.header +
                                      "' already used at " + at_line(it->second));
      }
      std::uint32_t detectors = 0;
      for (const auto& d : dc.detectors) {
        if (const auto index = detector_index(d.text)) {
          detectors |= 1u << *index;
        } else {
          diags_.error(d.pos, "unknown detector '" + d.text + "'" + detectors_hint());
        }
      }
      out_->data_class_detectors.push_back(detectors);
      out_->data_class_permit_on_declaration.push_back(dc.permit_on_declaration ? 1 : 0);
      out_->data_class_index.emplace(dc.name.text, static_cast<std::uint32_t>(out_->data_class_names.size()));
      out_->data_class_names.push_back(dc.name.text);
      out_->data_class_headers.push_back(dc.header);
    }
  }

  static std::string detectors_hint() {
    std::string out = " (known: ";
    for (std::size_t i = 0; i < known_detectors().size(); ++i) {
      out += (i ? ", " : "") + std::string(known_detectors()[i]);
    }
    return out + ")";
  }

  // --- conditions ---------------------------------------------------------------------------------
  resolved_when resolve_when(const std::vector<condition_source>& conditions) {
    resolved_when when;
    for (const auto& cond : conditions) {
      auto& rc = when[static_cast<std::size_t>(cond.attr)];
      rc.constrained = true;
      for (const auto& v : cond.values) {
        rc.written.push_back(v.text);
        rc.positions.push_back(v.pos);
        resolve_value(cond.attr, v, rc);
      }
    }
    return when;
  }

  void resolve_value(attribute attr, const sourced& v, resolved_condition& rc) {
    switch (attr) {
      case attribute::client_country:
        if (auto c = country_value(v, true)) {
          rc.countries = intern_countries(*rc.countries | *c);
        }
        return;
      case attribute::client_ip: {
        std::string error;
        if (auto block = parse_cidr(v.text, error)) {
          rc.cidrs.push_back(*block);
        } else {
          diags_.error(v.pos, "bad CIDR in client.ip: " + error);
        }
        return;
      }
      case attribute::tenant:
        if (glob_pattern::is_glob(v.text)) {
          diags_.error(v.pos, "tenant '" + v.text + "': globs are only allowed for model and path");
          return;
        }
        if (const std::string problem = tenant_name_problem(v.text); !problem.empty()) {
          diags_.error(v.pos, "tenant '" + v.text + "' is not a tenant name: " + problem);
          return;
        }
        rc.exact.push_back(v.text);
        return;
      case attribute::model:
      case attribute::path:
        if (attr == attribute::path && v.text.front() != '/' && v.text.front() != '*') {
          diags_.error(v.pos, "path '" + v.text + "' must start with '/'");
          return;
        }
        if (attr == attribute::model && !glob_pattern::is_glob(v.text)) {
          warn_model_alias(v);
        }
        // A model name that shows as another (gрt-4o with a Cyrillic р, a zero-width space) meets
        // only requests spelt with that very character (probe round 44: a forbid that never matched).
        if (const std::string where = first_non_ascii(v.text); !where.empty()) {
          diags_.warning(v.pos, std::string(attribute_name(attr)) + " '" + v.text + "' holds " + where +
                                    ", not an ASCII character: it meets only requests spelt with that "
                                    "character; if it should read as ASCII, retype it");
        }
        if (const std::size_t at = v.text.find_first_of("[]{}"); at != std::string::npos) {
          diags_.warning(v.pos, std::string(attribute_name(attr)) + " '" + v.text + "': '" + v.text[at] +
                                    "' is matched as itself (globs have only * and ?, no classes or "
                                    "alternatives: write each value in the list)");
        } else if (v.text.find("**") != std::string::npos) {
          diags_.warning(v.pos, std::string(attribute_name(attr)) + " '" + v.text +
                                    "': '**' is the same as '*' (which already matches '/' too)");
        }
        if (attr == attribute::path) {
          if (const std::string problem = request_path_problem(v.text, true); !problem.empty()) {
            diags_.warning(v.pos, "path " + problem);
          }
        }
        if (glob_pattern::is_glob(v.text)) {
          rc.globs.emplace_back(v.text);
        } else {
          rc.exact.push_back(v.text);
        }
        return;
      case attribute::method:
        if (std::find(http_methods.begin(), http_methods.end(), v.text) == http_methods.end()) {
          diags_.error(v.pos, "unknown HTTP method '" + v.text +
                                  "' (expected upper case: GET, POST, PUT, PATCH, "
                                  "DELETE, HEAD, OPTIONS)");
          return;
        }
        // A HEAD runs the GET handler on the servers clusters are built with (Starlette, Express,
        // Flask, Go's mux), which drop only the body: a rule on GET decides HEAD as well, or a
        // forbid on GET is one HEAD away (probe round 40).
        for (const std::string_view m :
             {std::string_view(v.text), std::string_view(v.text == "GET" ? "HEAD" : "")}) {
          if (!m.empty() && std::find(rc.exact.begin(), rc.exact.end(), m) == rc.exact.end()) {
            rc.exact.emplace_back(m);
          }
        }
        return;
      case attribute::data_class:
        if (!out_->data_class_index.count(v.text)) {
          diags_.error(v.pos, "unknown data class '" + v.text + "'" +
                                  (first_non_ascii(v.text).empty() ? " (declare it under data_classes)"
                                                                   : non_ascii_note(v.text)));
          return;
        }
        rc.exact.push_back(v.text);
        return;
    }
  }

  resolved_route resolve_route(const std::vector<route_source>& route) {
    resolved_route out;
    for (const auto& r : route) {
      const auto index = static_cast<std::size_t>(r.attr);
      out.constrained[index] = true;
      for (const auto& v : r.values) {
        out.written[index].push_back(v.text);
        out.positions[index].push_back(v.pos);
        switch (r.attr) {
          case route_attribute::cluster:
            out.clusters.push_back(v.text);
            break;
          case route_attribute::region:
            out.regions.push_back(v.text);
            break;
          case route_attribute::country:
            if (auto c = country_value(v, false)) {
              out.countries = intern_countries(*out.countries | *c);
            }
            break;
          case route_attribute::jurisdiction:
            if (auto c = country_value(v, false)) {
              out.jurisdictions = intern_countries(*out.jurisdictions | *c);
            }
            break;
        }
      }
    }
    return out;
  }

  // A rule's or an invariant's id, unique regardless of case as cluster and tenant names are:
  // denials, audit records and reports that name 'Forbid-Sanctioned' and 'forbid-sanctioned' read
  // as one rule to a person (probe round 37).
  void note_id(std::map<std::string, sourced>& ids, std::string_view what, const sourced& id) {
    const auto [it, fresh] = ids.emplace(ascii_lowered(id.text), id);
    if (fresh) {
      return;
    }
    if (it->second.text == id.text) {
      diags_.error(id.pos, fmt::format("duplicate {} id '{}' (first defined at {})", what, id.text,
                                       at_line(it->second.pos)));
    } else {
      diags_.error(id.pos, fmt::format("{} id '{}' differs from '{}' ({}) only in case: name them apart",
                                       what, id.text, it->second.text, at_line(it->second.pos)));
    }
  }

  // --- rules --------------------------------------------------------------------------------------
  void compile_rule(const rule_source& src) {
    if (!valid_identifier(src.id.text)) {
      diags_.error(src.id.pos, "rule id '" + src.id.text +
                                   "' must be ASCII letters, digits, '_', '-', '.' or ':'" +
                                   non_ascii_note(src.id.text));
    }
    note_id(rule_ids_, "rule", src.id);
    if (!src.effect_valid) {
      return;
    }
    compiled_rule rule;
    rule.id = src.id.text;
    rule.effect = src.effect;
    rule.pos = src.pos;
    rule.reason = src.reason.empty() ? "rule " + src.id.text : src.reason;
    const std::size_t errors_before = diags_.error_count();
    rule.when = resolve_when(src.when);
    if (src.effect != rule_effect::permit) {
      fold_spellings(rule.when);
    }
    const bool when_has_errors = src.when_has_errors || diags_.error_count() != errors_before;
    if (src.effect == rule_effect::restrict && !src.has_route) {
      diags_.error(src.pos, "restrict rule '" + src.id.text + "' needs a 'route'");
    }
    if (src.effect != rule_effect::restrict && src.has_route) {
      diags_.error(src.route_pos, "'route' is only allowed on restrict rules ('" + src.id.text + "' is " +
                                      std::string(rule_effect_name(src.effect)) + ")");
    }
    rule.route = resolve_route(src.route);
    for (const auto& d : src.obligations.redact) {
      if (const auto index = detector_index(d.text); index && d.text == "opaque_content") {
        diags_.error(d.pos,
                     "'opaque_content' cannot be redacted: it is content the gateway cannot read "
                     "(images, audio, files, token ids, a client's own chat template)");
      } else if (index && d.text == "remote_tools") {
        diags_.error(d.pos,
                     "'remote_tools' cannot be redacted: it is a tool the cluster runs by calling "
                     "out (remote MCP servers, web search), not text");
      } else if (index) {
        rule.duties.redact |= 1u << *index;
      } else {
        diags_.error(d.pos, "unknown detector '" + d.text + "'" + detectors_hint());
      }
    }
    rule.duties.log = src.obligations.log;
    if (src.effect == rule_effect::permit) {
      check_permit_classes(src, rule);
    }
    check_private_addresses(src, rule);
    if (src.effect == rule_effect::forbid && (rule.duties.redact || rule.duties.log != log_payload::unset)) {
      diags_.warning(src.pos, "obligations on forbid rule '" + src.id.text + "' never apply");
    }
    out_->rules.push_back(std::move(rule));
    // A rule whose `when` had a mistake (an unknown attribute, dropped) may match more than its
    // author wrote: checking what it makes unreachable would only add wrong errors.
    broken_.push_back(when_has_errors);
  }

  // A forbid's or restrict's model and path values also meet the request's spellings in lower case
  // (policy/spelling_variants.hpp: a cluster that folds case runs /V1/Chat/... and GPT-4O as the
  // canonical ones): written with a capital (the vendor's Llama-Guard-*, Google's
  // :streamGenerateContent), they are held in lower case too, or those spellings would never meet
  // them (probe round 45: a proved `require: {effect: deny}` the gateway did not enforce). Permits
  // stay as written: a permit is for the canonical spelling.
  static void fold_spellings(resolved_when& when) {
    for (const attribute attr : {attribute::model, attribute::path}) {
      resolved_condition& c = when[static_cast<std::size_t>(attr)];
      std::string lower;
      const std::size_t exact = c.exact.size();
      for (std::size_t i = 0; i < exact; ++i) {
        if (ascii_lower_into(c.exact[i], lower) &&
            std::find(c.exact.begin(), c.exact.end(), lower) == c.exact.end()) {
          c.exact.push_back(lower);
        }
      }
      const std::size_t globs = c.globs.size();
      for (std::size_t i = 0; i < globs; ++i) {
        if (ascii_lower_into(c.globs[i].text(), lower) &&
            std::none_of(c.globs.begin(), c.globs.end(),
                         [&](const glob_pattern& g) { return g.text() == lower; })) {
          c.globs.emplace_back(lower);
        }
      }
    }
  }

  // A model written as an alias (`llama3:latest`, `library/llama3`) meets only that spelling: a
  // request for the base name, which Ollama serves as the same model, does not meet it.
  void warn_model_alias(const sourced& v) {
    std::string lower;
    (void)ascii_lower_into(v.text, lower);
    const std::string_view base = model_base_name(lower);
    // Ollama's defaults only: a publisher's or provider's name (meta-llama/llama-3.1-8b) is how vLLM
    // serves a model, and writing it so is no mistake.
    const bool ollama_default = lower.ends_with(":latest") || lower.starts_with("library/") ||
                                lower.find("registry.ollama.ai/") != std::string::npos;
    if (ollama_default && base.size() != lower.size()) {
      const std::string b(base);
      diags_.warning(v.pos,
                     "model '" + v.text + "' is one alias of '" + b +
                         "' (Ollama fills in its registry, 'library/' and ':latest'): a request for '" + b +
                         "' does not meet it; write '" + b + "', which every alias meets");
    }
  }

  // client.ip listing only special-purpose blocks (10.0.0.0/8, fc00::/7, ...), which are always
  // client.country `private`, beside a client.country without `private`: the rule never matches
  // (probe round 22: `client.ip: [10.0.0.0/8]` with `client.country: [US]` passed).
  void check_private_addresses(const rule_source& src, const compiled_rule& rule) {
    const auto& ips = rule.when[static_cast<std::size_t>(attribute::client_ip)];
    const auto& countries = rule.when[static_cast<std::size_t>(attribute::client_country)];
    if (!ips.constrained || ips.cidrs.empty() || !countries.constrained) {
      return;
    }
    if (!countries.countries->test(country_private) &&
        std::all_of(ips.cidrs.begin(), ips.cidrs.end(), geo_db::always_private)) {
      diags_.warning(src.pos, "rule '" + src.id.text +
                                  "' can never match: its client.ip lists only special-purpose addresses, "
                                  "whose client.country is always 'private', which its client.country does "
                                  "not list");
      return;
    }
    // The reverse (probe round 41: `client.ip: [85.214.0.0/16]` with `client.country: [private]`
    // drew no word): only addresses that are never `private`, beside `private` alone.
    if (countries.countries->test(country_private) && countries.countries->count() == 1 &&
        std::all_of(ips.cidrs.begin(), ips.cidrs.end(), never_private)) {
      diags_.warning(src.pos, "rule '" + src.id.text +
                                  "' can never match: its client.ip lists only globally reachable "
                                  "addresses, whose client.country is never 'private' (only special-purpose "
                                  "addresses are), and its client.country lists only 'private'");
    }
  }

  // A permit's data.class condition is met by detected classes, and by declared ones only when the
  // class is permit_on_declaration: warn about the latter (any client may claim it), and a permit
  // that can never match (only classes nobody detects and no declaration grants) is an error.
  void check_permit_classes(const rule_source& src, const compiled_rule& rule) {
    const auto& cond = rule.when[static_cast<std::size_t>(attribute::data_class)];
    if (!cond.constrained || cond.exact.empty()) {
      return;
    }
    std::vector<std::string> declarable;
    bool reachable = false;
    for (const auto& name : cond.exact) {
      const std::uint32_t c = out_->data_class_index.at(name);
      if (out_->data_class_permit_on_declaration[c]) {
        declarable.push_back(name);
      }
      reachable =
          reachable || out_->data_class_permit_on_declaration[c] || out_->data_class_detectors[c] != 0;
    }
    if (!reachable) {
      diags_.error(src.pos, "permit rule '" + src.id.text + "' can never match: no detector finds " +
                                quoted_names(cond.exact) +
                                " and a client's declaration satisfies a permit only for a class marked "
                                "permit_on_declaration");
    } else if (!declarable.empty()) {
      diags_.warning(src.pos,
                     "permit rule '" + src.id.text + "' is granted by a client's own declaration of " +
                         quoted_names(declarable) +
                         " (permit_on_declaration): any client may declare it, whatever its body holds");
    }
  }

  static std::string quoted_names(const std::vector<std::string>& names) {
    std::string out;
    for (std::size_t i = 0; i < names.size(); ++i) {
      out += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + ("'" + names[i] + "'");
    }
    return out;
  }

  static bool string_values_subsumed(const resolved_condition& outer, const resolved_condition& inner) {
    for (const auto& v : inner.exact) {
      const bool hit =
          std::find(outer.exact.begin(), outer.exact.end(), v) != outer.exact.end() ||
          std::any_of(outer.globs.begin(), outer.globs.end(), [&](const auto& g) { return g.matches(v); });
      if (!hit) {
        return false;
      }
    }
    for (const auto& g : inner.globs) {
      const bool hit = std::any_of(outer.globs.begin(), outer.globs.end(),
                                   [&](const glob_pattern& o) { return o.covers(g); });
      if (!hit) {
        return false;
      }
    }
    return true;
  }

  // Every request matching `inner` also matches `outer`.
  static bool subsumes(const resolved_when& outer, const resolved_when& inner) {
    for (std::size_t a = 0; a < attribute_count; ++a) {
      const auto& o = outer[a];
      const auto& i = inner[a];
      if (!o.constrained) {
        continue;
      }
      if (!i.constrained) {
        return false;
      }
      switch (static_cast<attribute>(a)) {
        case attribute::client_country:
          if ((*i.countries & ~*o.countries).any()) {
            return false;
          }
          break;
        case attribute::client_ip:
          for (const auto& block : i.cidrs) {
            if (std::none_of(o.cidrs.begin(), o.cidrs.end(),
                             [&](const auto& ob) { return ob.contains(block); })) {
              return false;
            }
          }
          break;
        default:
          if (!string_values_subsumed(o, i)) {
            return false;
          }
      }
    }
    return true;
  }

  static unsigned constrained_mask(const resolved_when& when) {
    unsigned mask = 0;
    for (std::size_t a = 0; a < attribute_count; ++a) {
      mask |= when[a].constrained ? 1u << a : 0u;
    }
    return mask;
  }

  // A forbid can only cover a rule that constrains at least the same attributes; forbids naming
  // tenants are bucketed by tenant so large multi-tenant policies stay fast to check.
  void check_unreachable() {
    constexpr auto tenant_slot = static_cast<std::size_t>(attribute::tenant);
    std::vector<std::size_t> untenanted;
    std::map<std::string, std::vector<std::size_t>, std::less<>> by_tenant;
    std::vector<unsigned> masks(out_->rules.size());
    for (std::size_t i = 0; i < out_->rules.size(); ++i) {
      const auto& rule = out_->rules[i];
      masks[i] = constrained_mask(rule.when);
      if (rule.effect != rule_effect::forbid || broken_[i]) {
        continue;
      }
      if (rule.when[tenant_slot].constrained) {
        for (const auto& t : rule.when[tenant_slot].exact) {
          by_tenant[t].push_back(i);
        }
      } else {
        untenanted.push_back(i);
      }
    }
    for (std::size_t i = 0; i < out_->rules.size(); ++i) {
      const auto& rule = out_->rules[i];
      // A rule with a mistake of its own matches nothing as it reads now (a misspelled data class
      // leaves an empty set, which any forbid subsumes): its mistake is the one error to report.
      if (rule.effect == rule_effect::forbid || broken_[i]) {
        continue;
      }
      const auto covers = [&](std::size_t f) {
        return (masks[f] & ~masks[i]) == 0 && subsumes(out_->rules[f].when, rule.when);
      };
      std::optional<std::size_t> by;
      for (std::size_t f : untenanted) {
        if (covers(f)) {
          by = f;
          break;
        }
      }
      const auto& tenants = rule.when[tenant_slot].exact;
      if (!by && rule.when[tenant_slot].constrained && !tenants.empty()) {
        if (const auto it = by_tenant.find(tenants.front()); it != by_tenant.end()) {
          for (std::size_t f : it->second) {
            if (covers(f)) {
              by = f;
              break;
            }
          }
        }
      }
      if (by) {
        const auto& forbid = out_->rules[*by];
        diags_.error(rule.pos, "rule '" + rule.id +
                                   "' is unreachable: every request it matches is denied by " +
                                   "forbid rule '" + forbid.id + "' (" + at_line(forbid.pos) + ")");
      }
    }
  }

  void compile_invariant(const invariant_source& src) {
    note_id(invariant_ids_, "invariant", src.id);
    compiled_invariant inv;
    inv.id = src.id.text;
    inv.pos = src.pos;
    inv.reason = src.reason;
    inv.when = resolve_when(src.when);
    if (src.require_effect) {
      inv.require_effect = *src.require_effect == rule_effect::permit ? effect::permit : effect::deny;
    }
    inv.has_route = !src.require_route.empty();
    inv.require_route = resolve_route(src.require_route);
    if (inv.require_effect == effect::deny && inv.has_route) {
      diags_.error(src.require_effect_pos,
                   "invariant '" + src.id.text + "' requires deny and a route; pick one");
    }
    out_->invariants.push_back(std::move(inv));
  }

  const country_set* intern_countries(const country_set& set) {
    const auto [it, fresh] = interned_.try_emplace(set.to_string(), nullptr);
    if (fresh) {
      it->second = &out_->country_storage.emplace_back(set);
    }
    return it->second;
  }

  const policy_source& src_;
  diagnostics& diags_;
  std::unordered_map<std::string, const country_set*> interned_;
  std::unique_ptr<compiled_policy> out_;
  std::map<std::string, std::size_t, std::less<>> set_index_;
  std::map<std::string, sourced> rule_ids_;  // by id in lower case (note_id)
  std::vector<bool> broken_;  // by index of out_->rules: its `when` had an error
  std::map<std::string, sourced> invariant_ids_;
};

// --- indexes ----------------------------------------------------------------------------------------

using dense_bits = std::vector<std::uint64_t>;

class index_builder {
 public:
  explicit index_builder(compiled_policy& p)
      : p_(p), words_(std::max<std::size_t>(1, (p.rules.size() + 63) / 64)) {
    p_.pool.words = words_;
  }

  void run() {
    order_rules();
    dense_bits permit(words_, 0);
    dense_bits forbid(words_, 0);
    for (std::size_t r = 0; r < p_.rules.size(); ++r) {
      p_.effects.push_back(p_.rules[r].effect);
      if (p_.rules[r].effect == rule_effect::permit) {
        set(permit, r);
      } else if (p_.rules[r].effect == rule_effect::forbid) {
        set(forbid, r);
      }
    }
    p_.permit_mask = intern(permit);
    p_.forbid_mask = intern(forbid);
    build_countries();
    build_ip();
    build_strings(attribute::tenant, p_.tenant);
    build_strings(attribute::model, p_.model);
    build_strings(attribute::path, p_.path);
    build_strings(attribute::method, p_.method);
    build_data_classes();
  }

 private:
  // Rule r's bit sits at its internal position (see order_rules).
  void set(dense_bits& bits, std::size_t r) const {
    const std::size_t i = p_.rule_position[r];
    bits[i / 64] |= std::uint64_t{1} << (i % 64);
  }

  // Bit positions group each tenant's rules together (rules that name no tenant first), so the
  // candidate words of a request are few and adjacent whatever the policy's size.
  void order_rules() {
    constexpr auto tenant_slot = static_cast<std::size_t>(attribute::tenant);
    std::vector<std::uint32_t> order(p_.rules.size());
    for (std::uint32_t r = 0; r < order.size(); ++r) {
      order[r] = r;
    }
    const auto key = [&](std::uint32_t r) -> std::string_view {
      const auto& c = p_.rules[r].when[tenant_slot];
      return c.constrained && !c.exact.empty() ? std::string_view(c.exact.front()) : std::string_view();
    };
    std::stable_sort(order.begin(), order.end(),
                     [&](std::uint32_t a, std::uint32_t b) { return key(a) < key(b); });
    p_.rule_at = order;
    p_.rule_position.assign(order.size(), 0);
    for (std::uint32_t i = 0; i < order.size(); ++i) {
      p_.rule_position[order[i]] = i;
    }
  }

  dense_bits dense(std::uint32_t set_id) const {
    const std::uint64_t* bits = p_.pool.get(set_id);
    return dense_bits(bits, bits + words_);
  }

  std::uint32_t intern(const dense_bits& bits) {
    std::string key(reinterpret_cast<const char*>(bits.data()), bits.size() * 8);
    const auto [it, fresh] = dedup_.try_emplace(std::move(key), static_cast<std::uint32_t>(p_.pool.count()));
    if (fresh) {
      p_.pool.bits.insert(p_.pool.bits.end(), bits.begin(), bits.end());
      std::vector<std::uint32_t> nonzero;
      for (std::size_t w = 0; w < bits.size(); ++w) {
        if (bits[w]) {
          nonzero.push_back(static_cast<std::uint32_t>(w));
        }
      }
      if (nonzero.size() * 4 <= bits.size()) {
        p_.pool.sparse_begin.push_back(static_cast<std::uint32_t>(p_.pool.sparse_words.size()));
        p_.pool.sparse_words.insert(p_.pool.sparse_words.end(), nonzero.begin(), nonzero.end());
      } else {
        p_.pool.sparse_begin.push_back(bitset_pool::dense);
      }
      p_.pool.sparse_size.push_back(static_cast<std::uint32_t>(nonzero.size()));
    }
    return it->second;
  }

  dense_bits unconstrained(attribute a) const {
    dense_bits bits(words_, 0);
    for (std::size_t r = 0; r < p_.rules.size(); ++r) {
      if (!p_.rules[r].when[static_cast<std::size_t>(a)].constrained) {
        set(bits, r);
      }
    }
    return bits;
  }

  void build_countries() {
    const dense_bits any = unconstrained(attribute::client_country);
    std::vector<dense_bits> per_country(country_slots, any);
    for (std::size_t r = 0; r < p_.rules.size(); ++r) {
      const auto& c = p_.rules[r].when[0];
      if (!c.constrained) {
        continue;
      }
      for (std::size_t id = c.countries->_Find_first(); id < country_slots;
           id = c.countries->_Find_next(id)) {
        set(per_country[id], r);
      }
    }
    for (std::size_t id = 0; id < country_slots; ++id) {
      p_.country_index[id] = intern(per_country[id]);
    }
  }

  template <typename key_t>
  void build_prefix_table(bool v4, const dense_bits& any, prefix_table<key_t>& table) {
    std::vector<key_t> bounds{0};
    for (const auto& rule : p_.rules) {
      for (const auto& block : rule.when[1].cidrs) {
        if (block.base.v4 != v4) {
          continue;
        }
        bounds.push_back(static_cast<key_t>(block.first()));
        const key_t last = static_cast<key_t>(block.last());
        if (last != static_cast<key_t>(~key_t{0})) {
          bounds.push_back(static_cast<key_t>(last + 1));
        }
      }
    }
    std::sort(bounds.begin(), bounds.end());
    bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
    std::vector<dense_bits> sets(bounds.size(), any);
    for (std::size_t r = 0; r < p_.rules.size(); ++r) {
      for (const auto& block : p_.rules[r].when[1].cidrs) {
        if (block.base.v4 != v4) {
          continue;
        }
        auto lo = std::lower_bound(bounds.begin(), bounds.end(), static_cast<key_t>(block.first())) -
                  bounds.begin();
        for (auto i = static_cast<std::size_t>(lo);
             i < bounds.size() && bounds[i] <= static_cast<key_t>(block.last()); ++i) {
          set(sets[i], r);
        }
      }
    }
    for (std::size_t i = 0; i < bounds.size(); ++i) {
      const std::uint32_t id = intern(sets[i]);
      if (!table.sets.empty() && table.sets.back() == id) {
        continue;
      }
      table.starts.push_back(bounds[i]);
      table.sets.push_back(id);
    }
  }

  void build_ip() {
    const dense_bits any = unconstrained(attribute::client_ip);
    p_.ip_absent = intern(any);
    build_prefix_table<std::uint32_t>(true, any, p_.ip_v4);
    build_prefix_table<u128>(false, any, p_.ip_v6);
  }

  void build_strings(attribute a, string_index& index) {
    const auto slot = static_cast<std::size_t>(a);
    const dense_bits any = unconstrained(a);
    index.other = intern(any);
    std::map<std::string, dense_bits> exact;
    std::map<std::string, dense_bits> globs;
    for (std::size_t r = 0; r < p_.rules.size(); ++r) {
      const auto& c = p_.rules[r].when[slot];
      for (const auto& v : c.exact) {
        auto [it, fresh] = exact.try_emplace(v, any);
        set(it->second, r);
      }
      for (const auto& g : c.globs) {
        auto [it, fresh] = globs.try_emplace(g.text(), words_, 0);
        set(it->second, r);
      }
    }
    for (auto& [text, bits] : globs) {
      index.globs.emplace_back(text);
      index.glob_sets.push_back(intern(bits));
    }
    for (auto& [value, bits] : exact) {
      for (std::size_t g = 0; g < index.globs.size(); ++g) {
        if (index.globs[g].matches(value)) {
          const auto* extra = p_.pool.get(index.glob_sets[g]);
          for (std::size_t w = 0; w < words_; ++w) {
            bits[w] |= extra[w];
          }
        }
      }
      index.exact.emplace(value, intern(bits));
    }
  }

  void build_data_classes() {
    const dense_bits any = unconstrained(attribute::data_class);
    p_.data_class_any = intern(any);
    std::vector<dense_bits> per_class(p_.data_class_names.size(), dense_bits(words_, 0));
    for (std::size_t r = 0; r < p_.rules.size(); ++r) {
      for (const auto& v : p_.rules[r].when[6].exact) {
        set(per_class[p_.data_class_index.at(v)], r);
      }
    }
    const dense_bits& permits = dense(p_.permit_mask);
    for (std::size_t c = 0; c < per_class.size(); ++c) {
      p_.data_class_sets.push_back(intern(per_class[c]));
      if (!p_.data_class_permit_on_declaration[c]) {
        for (std::size_t w = 0; w < words_; ++w) {
          per_class[c][w] &= ~permits[w];
        }
      }
      p_.data_class_declared_sets.push_back(intern(per_class[c]));
    }
  }

  compiled_policy& p_;
  std::size_t words_;
  std::unordered_map<std::string, std::uint32_t> dedup_;
};

}  // namespace

compile_result compile_policy(std::string_view text, const std::string& file_name) {
  diagnostics diags(file_name);
  const policy_source src = parse_policy_source(text, diags);
  auto compiled = compiler(src, diags).run();
  compile_result result;
  if (!diags.has_errors()) {
    compiled->file = file_name;
    compiled->version = crypto::to_hex(crypto::sha256(text));
    index_builder(*compiled).run();
    result.policy = std::make_shared<const snapshot>(std::move(compiled));
  }
  result.diagnostics = diags.take();
  return result;
}

compile_result compile_policy_file(const std::filesystem::path& path) {
  auto text = read_regular_file(path.string(), max_policy_bytes, "policy file");
  if (!text.is_ok()) {
    compile_result result;
    result.diagnostics.push_back({path.string(), {}, severity::error, text.error().message()});
    return result;
  }
  return compile_policy(*text, path.string());
}

}  // namespace sovgw::policy
