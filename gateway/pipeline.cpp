#include "gateway/pipeline.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <string>

#include "classify/detectors.hpp"
#include "classify/json_body.hpp"
#include "classify/json_edit.hpp"
#include "common/ascii.hpp"
#include "common/printable.hpp"
#include "crypto/structured_field.hpp"
#include "gateway/client_address.hpp"
#include "gateway/geo_tags.hpp"
#include "gateway/log.hpp"
#include "gateway/pipeline_classify.hpp"
#include "policy/compiled_policy.hpp"
#include "policy/countries.hpp"
#include "policy/deployment_check.hpp"
#include "policy/diagnostics.hpp"
#include "policy/ip_address.hpp"
#include "policy/policy_source.hpp"
#include "policy/spelling_variants.hpp"

namespace sovgw::gateway {

pipeline::pipeline(std::shared_ptr<const config> cfg, std::shared_ptr<geo_store> geo) : cfg_(std::move(cfg)) {
  for (const cluster_config& c : cfg_->clusters) {
    models_.emplace_back(c.models.begin(), c.models.end());
    cluster_infos_.push_back({c.name, c.country, c.region, c.operator_jurisdiction, c.models});
  }
  if (!cfg_->limits_store.host.empty()) {
    limiter_.share(cfg_->limits_store.budgets_open ? tenants::budget_outage::open
                                                   : tenants::budget_outage::closed);
  }
  if (std::string errors = reload_tenants(); !errors.empty()) {
    throw config_error(errors.substr(0, errors.find_last_not_of('\n') + 1));
  }
  if (cfg_->policy_file.empty()) {
    return;
  }
  geo_ = geo ? std::move(geo) : std::make_shared<geo_store>(*cfg_);
  (void)geo_->get();  // loaded now: identify() only reads it
  if (std::string errors = reload_policy(); !errors.empty()) {
    throw config_error(errors.substr(0, errors.find_last_not_of('\n') + 1));
  }
}

namespace {

// The tenant names a policy is checked against (policy/deployment_check.hpp).
std::vector<std::string> tenant_names_of(const tenants::table& table) {
  std::vector<std::string> names;
  names.reserve(table.tenants().size());
  for (const tenants::tenant& t : table.tenants()) {
    names.push_back(t.name);
  }
  return names;
}

}  // namespace

std::string pipeline::reload_policy(std::stop_token stop, const tenants::table* with, bool* unchanged) {
  if (cfg_->policy_file.empty()) {
    return {};
  }
  // Checked against the clusters and the live tenants (or those about to be) as `sovgw policy
  // check --clusters` checks it.
  const std::shared_ptr<const tenants::table> live = with != nullptr ? nullptr : tenants_.load();
  const tenants::table* table = with != nullptr ? with : live.get();
  const std::vector<std::string> tenant_names = table ? tenant_names_of(*table) : std::vector<std::string>();
  const policy::deployment where{&cluster_infos_, table ? &tenant_names : nullptr, cfg_->tenants_file};
  // An unchanged file keeps the live policy, already checked against these clusters (they are the
  // configuration's, which a reload does not read again): only its tenant names are checked again.
  policy::reload_result r = store_.reload(
      cfg_->policy_file,
      [&](const policy::snapshot& s) { return policy::check_deployment(s, where, stop).all(); },
      [&](const policy::snapshot& s) {
        std::vector<policy::diagnostic> errors;
        if (where.tenants != nullptr) {
          policy::check_tenant_names(s.compiled(), where, errors);
        }
        return errors;
      });
  if (!r.ok) {
    return policy::format_diagnostics(r.diagnostics);
  }
  if (unchanged != nullptr) {
    *unchanged = r.unchanged;
  }
  if (r.unchanged) {
    return {};
  }
  std::shared_ptr<const policy::snapshot> snap = store_.current();
  auto b =
      std::make_shared<binding>(binding{snap, policy::bound_clusters(*snap, cluster_infos_), {}, 0, 0, {}});
  std::erase_if(r.diagnostics,
                [](const policy::diagnostic& d) { return d.level != policy::severity::warning; });
  b->warnings = std::move(r.diagnostics);
  b->redactors = snap->redact_detectors();
  std::uint32_t missing = b->redactors & ~classify::implemented_detectors();
  for (std::string_view name : snap->data_class_names()) {
    if (const std::uint32_t d = snap->data_class_detectors(name); d != 0) {
      b->detected_classes.emplace_back(name, d);
      b->detectors |= d;
      missing |= d & ~classify::implemented_detectors();
    }
  }
  binding_.store(std::shared_ptr<const binding>(std::move(b)));
  // Say which detectors the policy names but the gateway lacks, rather than let them never fire.
  if (missing != 0) {
    log_line("warn", "the policy names detectors this gateway does not implement yet; they never fire")
        .str("policy", cfg_->policy_file)
        .str("policy_version", snap->version())
        .str("detectors", fmt::format("{}", fmt::join(policy::detector_names(missing), ", ")))
        .emit();
  }
  return {};
}

std::string pipeline::check_live_policy(const tenants::table& with) const {
  const std::shared_ptr<const binding> b = binding_.load();
  if (cfg_->policy_file.empty() || !b) {
    return {};
  }
  // The live policy passed check_deployment with these clusters: only its tenant names depend on
  // the tenants file.
  const std::vector<std::string> tenant_names = tenant_names_of(with);
  const policy::deployment where{&cluster_infos_, &tenant_names, cfg_->tenants_file};
  std::vector<policy::diagnostic> errors;
  policy::check_tenant_names(b->policy->compiled(), where, errors);
  return policy::format_diagnostics(errors);
}

std::string pipeline::policy_version() const {
  std::shared_ptr<const binding> b = binding_.load();
  return b ? b->policy->version() : std::string();
}

std::vector<policy::diagnostic> pipeline::policy_warnings() const {
  std::shared_ptr<const binding> b = binding_.load();
  return b ? b->warnings : std::vector<policy::diagnostic>();
}

namespace {

// The client address the policy matches `client.ip` against: none on a PROXY LOCAL connection,
// where the address is the balancer's own and says nothing of the client (as its country).
std::optional<policy::ip_address> policy_client_ip(const request_context& ctx) {
  if (ctx.client_country_source == country_source_name(address_source::proxy_local)) {
    return std::nullopt;
  }
  return policy::parse_ip(ctx.client_ip);
}

// The classes a Sovereign-Data-Classes field names (`declared=("health"), detected=("contact")`, as
// a gateway in front of this one writes it), added to `out`; anything else in it, or a class the
// policy does not define, is refused as a declaration the gateway cannot read.
stage_result forwarded_data_classes(std::string_view value, const policy::snapshot& p,
                                    std::vector<std::string>& out) {
  const auto refuse = [&](std::string why) {
    return stage_result::respond(
        outcome::unknown_data_class,
        fmt::format("Sovereign-Data-Classes: {} (a client declares data classes in {}; this field is what a "
                    "gateway forwards: declared=(...), detected=(...), lists of the policy's class names)",
                    why, data_class_header));
  };
  std::vector<std::string> repeated;
  const auto dict = crypto::sf::parse_dictionary(value, repeated);
  if (!dict.ok()) {
    return refuse("not a structured-field dictionary");
  }
  if (!repeated.empty()) {
    return refuse(fmt::format("'{}' is given twice", printable(repeated.front())));  // the last would win
  }
  for (const crypto::sf::dictionary_member& m : dict.value()) {
    const auto* list = std::get_if<crypto::sf::inner_list>(&m.value);
    if ((m.key != "declared" && m.key != "detected") || list == nullptr) {
      return refuse(fmt::format("'{}' is not declared=(...) or detected=(...)", printable(m.key)));
    }
    for (const crypto::sf::item& i : list->items) {
      const auto* name = std::get_if<std::string>(&i.value);
      const auto names = p.data_class_names();
      if (name == nullptr || std::find(names.begin(), names.end(), *name) == names.end()) {
        return refuse(name == nullptr
                          ? std::string("a class that is not a string")
                          : fmt::format("'{}' is not a data class of the policy", printable(*name)));
      }
      if (std::find(out.begin(), out.end(), *name) == out.end()) {
        out.push_back(*name);
      }
    }
  }
  return stage_result::next();
}

// The data classes a request declares in `Sovereign-Data-Class` fields: comma-separated values
// (tokens or quoted strings), each one a class's `header` value in the policy. An unknown value is
// an error: a client that labels its data must not have the label silently dropped.
stage_result declared_data_classes(const http::message_head& head, const policy::snapshot& p,
                                   std::vector<std::string>& out) {
  out.clear();
  for (const http::field& f : head.fields) {
    if (f.id == http::field_id::sovereign_other && ascii_iequals(f.name, "sovereign-data-classes")) {
      // What a gateway in front of this one forwards (geo_tags.cpp): its declared and detected
      // classes, both taken as declared here (a claim, which makes forbids and restricts match).
      if (stage_result r = forwarded_data_classes(f.value, p, out); !r.proceed()) {
        return r;
      }
      continue;
    }
    if (f.id == http::field_id::sovereign_other && !is_replaced_geo_tag(f.name)) {
      // A declaration under another name (a misspelling) would otherwise be dropped with the
      // other Sovereign-* fields, and the request served as if it declared nothing.
      return stage_result::respond(
          outcome::unknown_data_class,
          fmt::format("{}: a client declares data classes only in {}; the other Sovereign-* fields are "
                      "the gateway's own",
                      printable(f.name), data_class_header));
    }
    if (f.id != http::field_id::sovereign_data_class) {
      continue;
    }
    std::string_view rest = f.value;
    while (!rest.empty()) {
      const std::size_t comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) {
        item.remove_prefix(1);
      }
      while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) {
        item.remove_suffix(1);
      }
      if (item.size() >= 2 && item.front() == '"' && item.back() == '"') {
        item = item.substr(1, item.size() - 2);
      }
      if (item.empty()) {
        continue;
      }
      const std::string_view name = p.data_class_for_header(item);
      if (name.empty()) {
        const auto declared = p.data_class_headers();
        return stage_result::respond(
            outcome::unknown_data_class,
            fmt::format(
                "{}: '{}' is not a data class of the policy (declared: {})", data_class_header, item,
                declared.empty() ? std::string("none") : fmt::format("{}", fmt::join(declared, ", "))));
      }
      if (std::find(out.begin(), out.end(), name) == out.end()) {
        out.emplace_back(name);
      }
    }
  }
  return stage_result::next();
}

// What the detectors found, for a refusal: the detectors' names (never what they matched) and
// whether it was in the target or a header field, so that a client can tell what to reword.
std::string found_by_detectors(const request_context& ctx) {
  if (ctx.class_detectors == 0) {
    return {};
  }
  std::string out = fmt::format(" (the gateway's detectors found: {}",
                                fmt::join(policy::detector_names(ctx.class_detectors), ", "));
  if (ctx.class_detectors_in_head != 0) {
    out += fmt::format("; in the target or a header field: {}",
                       fmt::join(policy::detector_names(ctx.class_detectors_in_head), ", "));
  }
  out += ')';
  return out;
}

}  // namespace

stage_result pipeline::decide_with_policy(request_context& ctx, const binding& b) const {
  static thread_local policy::decision d;
  if (stage_result r = declared_data_classes(ctx.head, *b.policy, ctx.data_classes); !r.proceed()) {
    return r;
  }
  const std::size_t declared = ctx.data_classes.size();  // the client's claim: grants no permit
  // The policy may have been reloaded since classify ran: scan again if it needs more.
  const std::uint32_t wanted = b.detectors | b.redactors;
  if (!ctx.body.empty() && ((wanted & ~ctx.scan.ran) != 0 || (b.redactors != 0 && !ctx.scan.located))) {
    // Accepted once, a JSON body cannot fail now; a raw one may, when the new policy is the
    // first to ask for detectors (a body that looks like JSON, see scan_raw).
    if (ctx.scan.decoded) {
      (void)inspect_json(ctx, wanted, b.redactors != 0);
    } else if (stage_result r = scan_raw(ctx, wanted, true); !r.proceed()) {
      return r;
    }
  }
  const std::uint32_t in_head = wanted != 0 ? scan_head(ctx.head, wanted) : 0;
  std::vector<std::string_view> detected;
  for (const auto& [name, detectors] : b.detected_classes) {
    if ((detectors & (ctx.scan.found | in_head)) == 0) {
      continue;
    }
    detected.push_back(name);
    if (std::find(ctx.data_classes.begin(), ctx.data_classes.end(), name) == ctx.data_classes.end()) {
      ctx.data_classes.emplace_back(name);
    }
  }
  ctx.declared_class_count = declared;
  ctx.detected_classes.assign(detected.begin(), detected.end());
  ctx.class_detectors = (ctx.scan.found | in_head) & b.detectors;
  ctx.class_detectors_in_head = in_head & b.detectors;
  const std::vector<std::string_view> classes(
      ctx.data_classes.begin(), ctx.data_classes.begin() + static_cast<std::ptrdiff_t>(declared));
  const std::optional<policy::ip_address> ip = policy_client_ip(ctx);
  std::string_view path = ctx.head.target.substr(0, ctx.head.target.find('?'));
  const policy::request_attributes attrs{.client_country = ctx.client_country,
                                         .client_ip = ip,
                                         .tenant = ctx.tenant,
                                         .model = ctx.model,
                                         .path = path,
                                         .method = ctx.head.method,
                                         .declared_classes = classes,
                                         .detected_classes = detected,
                                         .serving_model = {}};
  b.policy->decide(attrs, b.routes, d);
  policy::decide_spelling_variants(*b.policy, b.routes, attrs, d);
  ctx.matched_rules.clear();
  for (std::uint32_t rule : d.matched_rules) {
    ctx.matched_rules.emplace_back(b.policy->rule_id(rule));
  }
  ctx.decision_reason = std::string(d.reason);
  ctx.policy_version = b.policy->version();
  ctx.allowed_clusters.assign(d.allowed_clusters.begin(), d.allowed_clusters.end());
  ctx.permitted = d.result == policy::effect::permit;
  ctx.payload_obligation = ctx.permitted ? d.duties.log : policy::log_payload::unset;
  if (const std::uint32_t kept = ctx.permitted ? in_head & d.duties.redact : 0; kept != 0) {
    ctx.permitted = false;
    return stage_result::respond(
        outcome::redaction_unsupported,
        fmt::format("the residency policy requires redaction ({}), and the request's target or a header "
                    "field holds such data, which the gateway forwards as sent; send it in the JSON body",
                    fmt::join(policy::detector_names(kept), ", ")));
  }
  if (ctx.permitted && d.duties.redact != 0 && !ctx.body.empty()) {
    // An obligation the gateway cannot fulfil is not skipped: redaction works on JSON bodies. A
    // body that is not JSON is forwarded only when there is nothing to redact: the detectors read
    // it (its decodings too) and found none of the redacted kinds, as a JSON body would be
    // forwarded unchanged. A body they cannot read (not text) may hold anything: refused.
    if (!ctx.scan.decoded) {
      const std::uint32_t found = ctx.scan.found & d.duties.redact;
      const bool unreadable = !classify::readable_text(ctx.body) ||
                              (ctx.scan.found & classify::bit(classify::detector::opaque_content)) != 0;
      if (found != 0) {
        ctx.permitted = false;
        return stage_result::respond(
            outcome::redaction_unsupported,
            fmt::format(
                "the residency policy requires redaction ({}) and the body holds {}, which the gateway "
                "can redact only in a JSON body; send the request as application/json",
                fmt::join(d.duties.redact_names(), ", "), fmt::join(policy::detector_names(found), ", ")));
      }
      if (unreadable) {
        // Not "send JSON": binary data in a JSON body is opaque_content, redacted by no one either
        // (probe round 40). Nothing the client can send makes such data readable to the detectors.
        ctx.permitted = false;
        return stage_result::respond(
            outcome::redaction_unsupported,
            fmt::format(
                "the body holds binary data (an image, audio, an archive, a file's bytes) that the "
                "detectors cannot read for {}, which the residency policy requires redacting: the "
                "gateway can neither redact it nor tell that it holds none, so the request is refused; "
                "while redaction is required, a body off the API must be text the detectors can read",
                fmt::join(d.duties.redact_names(), ", ")));
      }
      return stage_result::next();  // nothing to redact
    }
    // A redaction that cannot be done, or that leaves what it had to remove, refuses the request.
    const auto unredactable = [&](std::uint32_t detectors, std::string_view why) {
      ctx.permitted = false;
      return stage_result::respond(outcome::redaction_unsupported,
                                   fmt::format("the residency policy requires redaction ({}), and {}",
                                               fmt::join(policy::detector_names(detectors), ", "), why));
    };
    if (const std::uint32_t hidden = ctx.scan.hidden & d.duties.redact; hidden != 0) {
      return unredactable(
          hidden,
          "the request holds such data where the gateway cannot redact it in place (inside "
          "an escaped string, such as JSON within tool call arguments, or in a number); send it "
          "as plain text in a message");
    }
    ctx.redactions = classify::redact(ctx.body, ctx.scan.findings, d.duties.redact);
    // The obligation is checked, not assumed: the body as it will be forwarded is read again, and
    // what the detectors still find there (in the model, which is never rewritten; findings that
    // overlap) refuses the request rather than reach the cluster.
    if (const std::uint32_t left = remaining_after_redaction(ctx.body, d.duties.redact); left != 0) {
      return unredactable(left,
                          "after redaction the request still holds such data (in the model name, or in a "
                          "form the gateway cannot rewrite); send it as plain text in a message");
    }
  }
  if (ctx.permitted) {
    return stage_result::next();
  }
  // No cluster of this gateway serves the model at all: the client named a model that does not
  // exist here (404, as without a policy), not one the policy keeps from it.
  if (d.cause == policy::deny_cause::no_cluster && !ctx.model.empty() && !served_anywhere(ctx.model)) {
    ctx.matched_rules.clear();
    return stage_result::respond(outcome::model_not_found,
                                 fmt::format("no cluster of this gateway serves the model '{}'", ctx.model));
  }
  return denial(ctx, b, d);
}

// The client is told the rules that decided (the record keeps every rule that matched): the
// forbids for a forbidden request, the restricts that left no cluster, and for a request no
// permit covers, the permit that came closest and where it failed.
stage_result pipeline::denial(const request_context& ctx, const binding& b, const policy::decision& d) const {
  std::string rules;
  const policy::compiled_policy& compiled = b.policy->compiled();
  for (std::uint32_t rule : d.matched_rules) {
    const policy::rule_effect effect = compiled.rules[rule].effect;
    const bool deciding =
        (d.cause == policy::deny_cause::forbidden && effect == policy::rule_effect::forbid) ||
        (d.cause == policy::deny_cause::no_cluster && effect == policy::rule_effect::restrict);
    if (deciding) {
      rules += rules.empty() ? std::string(compiled.rules[rule].id) : ", " + compiled.rules[rule].id;
    }
  }
  const std::string found = found_by_detectors(ctx);
  if (d.cause == policy::deny_cause::no_permit && d.nearest_permit != policy::no_rule) {
    return stage_result::respond(
        outcome::policy_denied,
        fmt::format("denied by the residency policy (no_permit): {}; the nearest permit, {}, does not "
                    "admit this request's {}{}",
                    d.reason, compiled.rules[d.nearest_permit].id, policy::attribute_name(d.failed_attribute),
                    found));
  }
  return stage_result::respond(
      outcome::policy_denied,
      fmt::format("denied by the residency policy ({}{}{}): {}{}", policy::deny_cause_name(d.cause),
                  rules.empty() ? "" : "; rules: ", rules, d.reason, found));
}

stage_result pipeline::decide(request_context& ctx) const {
  std::shared_ptr<const binding> b = binding_.load();
  if (b) {
    return decide_with_policy(ctx, *b);
  }
  ctx.permitted = true;
  ctx.decision_reason = "no policy loaded: every configured cluster is allowed";
  ctx.allowed_clusters.clear();
  for (std::size_t i = 0; i < cfg_->clusters.size(); ++i) {
    ctx.allowed_clusters.push_back(static_cast<int>(i));
  }
  return stage_result::next();
}

namespace {

// A streamed completion whose client did not ask for usage: the gateway asks the cluster for it
// (stream_options.include_usage), so that no stream goes uncounted, and the relay removes the
// usage-only event again (ctx.usage_requested). The body was inspected as strict JSON already.
void request_usage(request_context& ctx) {
  // Every spelling of the two endpoints that the policy and the JSON checks take for them: any
  // prefix (/openai/deployments/{model}/chat/completions, /api/v1/...), any case, a trailing slash
  // ("/completions" ends "/chat/completions" too).
  if (!ctx.stream || ctx.include_usage.value_or(false) || !http::path_ends_with(ctx.head, "/completions")) {
    return;
  }
  // Edited in place: every other byte reaches the cluster as the detectors read it.
  std::optional<std::string> body = classify::with_include_usage(ctx.body);
  if (!body) {
    return;
  }
  ctx.body = std::move(*body);
  ctx.usage_requested = true;
}

}  // namespace

bool pipeline::served_anywhere(std::string_view model) const {
  return std::any_of(models_.begin(), models_.end(), [&](const std::vector<policy::glob_pattern>& patterns) {
    return std::any_of(patterns.begin(), patterns.end(),
                       [&](const policy::glob_pattern& p) { return p.matches(model); });
  });
}

// How the live policy decides an inference request for `model` from this client (POST
// /v1/chat/completions, no data classes), its spellings as a router reads them included: what the
// model list shows, and why a model is kept from it.
void pipeline::decide_inference(const binding& b, const request_context& ctx, std::string_view model,
                                policy::decision& d) const {
  const policy::request_attributes attrs{.client_country = ctx.client_country,
                                         .client_ip = policy_client_ip(ctx),
                                         .tenant = ctx.tenant,
                                         .model = model,
                                         .path = "/v1/chat/completions",
                                         .method = "POST",
                                         .declared_classes = {},
                                         .detected_classes = {},
                                         .serving_model = {}};
  b.policy->decide(attrs, b.routes, d);
  policy::decide_spelling_variants(*b.policy, b.routes, attrs, d);
}

std::vector<std::string> pipeline::countries_serving(const request_context& ctx, std::string_view model,
                                                     const binding* b) const {
  static thread_local policy::decision d;
  std::vector<std::string> countries;
  const auto add = [&](std::size_t i) {
    for (const policy::glob_pattern& pattern : models_[i]) {
      if (pattern.matches(model)) {
        countries.push_back(cfg_->clusters[i].country);
        return;
      }
    }
  };
  if (b == nullptr) {
    for (std::size_t i = 0; i < cfg_->clusters.size(); ++i) {
      add(i);
    }
  } else {
    decide_inference(*b, ctx, model, d);
    if (d.result == policy::effect::permit) {
      for (std::uint32_t i : d.allowed_clusters) {
        add(i);
      }
    }
  }
  std::sort(countries.begin(), countries.end());
  countries.erase(std::unique(countries.begin(), countries.end()), countries.end());
  return countries;
}

std::vector<permitted_model> pipeline::models(const request_context& ctx) const {
  const std::shared_ptr<const binding> b = binding_.load();
  std::vector<std::string> names;
  for (const cluster_config& c : cfg_->clusters) {
    for (const std::string& m : c.models) {
      if (!policy::glob_pattern::is_glob(m)) {
        names.push_back(m);
      }
    }
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::vector<permitted_model> out;
  for (std::string& name : names) {
    std::vector<std::string> countries = countries_serving(ctx, name, b.get());
    if (!countries.empty()) {
      out.push_back({std::move(name), std::move(countries)});
    }
  }
  return out;
}

std::optional<stage_result> pipeline::model_denied(request_context& ctx, std::string_view model) const {
  const std::shared_ptr<const binding> b = binding_.load();
  if (!b) {
    return std::nullopt;
  }
  std::string first;
  if (model.empty()) {  // the first model listed by name, as models() lists them
    for (const cluster_config& c : cfg_->clusters) {
      for (const std::string& m : c.models) {
        if (!policy::glob_pattern::is_glob(m) && (first.empty() || m < first)) {
          first = m;
        }
      }
    }
    model = first;
  }
  if (model.empty() || !served_anywhere(model)) {
    return std::nullopt;
  }
  static thread_local policy::decision d;
  decide_inference(*b, ctx, model, d);
  if (d.result == policy::effect::permit) {
    return std::nullopt;  // permitted, yet no cluster could list it (a glob): not a denial
  }
  ctx.matched_rules.clear();
  for (std::uint32_t rule : d.matched_rules) {
    ctx.matched_rules.emplace_back(b->policy->rule_id(rule));
  }
  ctx.decision_reason = std::string(d.reason);
  ctx.policy_version = b->policy->version();
  ctx.permitted = false;
  stage_result r = denial(ctx, *b, d);
  r.message = first.empty()
                  ? fmt::format("the model '{}' is not permitted for this client: {}", model, r.message)
                  : fmt::format(
                        "no model is permitted for this client (an empty list); a request for "
                        "'{}' is {}",
                        model, r.message);
  return r;
}

std::optional<permitted_model> pipeline::model(const request_context& ctx, std::string_view id) const {
  const std::shared_ptr<const binding> b = binding_.load();
  std::vector<std::string> countries = countries_serving(ctx, id, b.get());
  if (countries.empty()) {
    return std::nullopt;
  }
  return permitted_model{std::string(id), std::move(countries)};
}

stage_result pipeline::route(request_context& ctx, const availability_fn& cluster_available,
                             const unavailable_reason_fn& unavailable_reason) const {
  bool served = false;
  std::string why;
  for (int i : ctx.allowed_clusters) {
    bool serves = ctx.model.empty();  // no model named (GET /v1/models): any allowed cluster
    for (const policy::glob_pattern& pattern : models_[static_cast<std::size_t>(i)]) {
      if (pattern.matches(ctx.model)) {
        serves = true;
        break;
      }
    }
    if (!serves) {
      continue;
    }
    served = true;
    if (cluster_available(i)) {
      ctx.cluster = i;
      request_usage(ctx);
      return stage_result::next();
    }
    const std::shared_ptr<const std::vector<std::string>> unusable = unusable_.load();
    if (static_cast<std::size_t>(i) < unusable->size() && !(*unusable)[static_cast<std::size_t>(i)].empty()) {
      why += "; " + (*unusable)[static_cast<std::size_t>(i)];
    }
    if (unavailable_reason) {
      if (const std::string reason = unavailable_reason(i); !reason.empty()) {
        why += "; " + reason;
      }
    }
  }
  if (!served) {
    return stage_result::respond(outcome::model_not_found,
                                 ctx.model.empty()
                                     ? std::string("no cluster is allowed for this request")
                                     : fmt::format("no allowed cluster serves the model '{}'", ctx.model));
  }
  return stage_result::respond(
      outcome::cluster_unavailable,
      why.empty() ? "every allowed cluster serving this model is unavailable; try again later"
                  : "every allowed cluster serving this model is unavailable" + why);
}

}  // namespace sovgw::gateway
